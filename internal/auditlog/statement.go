package auditlog

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"golang.org/x/mod/sumdb/note"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/strictjson"
)

// Signed reports (issue 17, point 7): a report wrapped in a DSSE envelope
// (https://github.com/secure-systems-lab/dsse) signed with the audit log's checkpoint key, whose
// payload carries a signed checkpoint of the log. Every state change appends an audit event in
// its own transaction, so when the log had the checkpoint's size both before and after the
// report was computed (LogSizeBefore equals the checkpoint's size) the report describes exactly
// the state at that checkpoint. Anyone with the checkpoint key history checks both signatures
// offline (VerifyReport), and with a consistency proof from that checkpoint can tie the report
// to any later log.

// ReportPayloadType is the DSSE payloadType of a signed report.
const ReportPayloadType = "application/vnd.hallmark.report+json"

// ReportStatementType is the "type" of a signed report's payload.
const ReportStatementType = "hallmark.dev/report/v1"

// MaxSignedReportSize bounds a signed report VerifyReport reads.
const MaxSignedReportSize = 64 << 20

// ReportStatement is the payload of a signed report.
type ReportStatement struct {
	Type string `json:"type"` // ReportStatementType
	// Report names the report (the last part of its path, e.g. "summary") and Query is the
	// request's query without "signed".
	Report string `json:"report"`
	Query  string `json:"query,omitempty"`
	// Checkpoint is the signed checkpoint note of the log after the report was computed;
	// LogSizeBefore is the log's size before. Equal sizes: computed at that checkpoint.
	Checkpoint    string    `json:"checkpoint"`
	LogSizeBefore uint64    `json:"log_size_before"`
	SignedAt      time.Time `json:"signed_at"`
	// Body is the report exactly as the unsigned request returns it.
	Body json.RawMessage `json:"body"`
}

var statementKeys = map[string]bool{"type": true, "report": true, "query": true, "checkpoint": true, "log_size_before": true, "signed_at": true, "body": true}

// Exact reports whether the report was computed at the checkpoint it names: the log did not
// grow while it was computed.
func (st ReportStatement) Exact(c Checkpoint) bool { return st.LogSizeBefore == c.Size }

// SignReport signs a report's statement with the current checkpoint key. st.Checkpoint must be
// a checkpoint this log signed (Checkpoint); st.Type and st.SignedAt are set here.
func (s *Service) SignReport(ctx context.Context, st ReportStatement) (dsse.Envelope, error) {
	key, err := s.currentKey(ctx)
	if err != nil {
		return dsse.Envelope{}, err
	}
	st.Type, st.SignedAt = ReportStatementType, s.now().UTC()
	payload, err := json.Marshal(st)
	if err != nil {
		return dsse.Envelope{}, fmt.Errorf("auditlog: encoding the report statement: %w", err)
	}
	sig, err := key.ns.Sign(dsse.PAE(ReportPayloadType, payload))
	if err != nil {
		return dsse.Envelope{}, fmt.Errorf("auditlog: signing the report: %w", err)
	}
	return dsse.Envelope{PayloadType: ReportPayloadType, Payload: base64.StdEncoding.EncodeToString(payload),
		Signatures: []dsse.Signature{{KeyID: keyID(key.ns.Name(), key.ns.KeyHash()), Sig: base64.StdEncoding.EncodeToString(sig)}}}, nil
}

// keyID names a checkpoint key in a DSSE signature as the note does: "<name>+<hash>".
func keyID(name string, hash uint32) string { return name + "+" + fmt.Sprintf("%08x", hash) }

// CheckpointSize reads the size of a signed checkpoint this log made, without verifying it.
func CheckpointSize(signed []byte) (uint64, error) {
	c, err := ParseCheckpoint(noteText(signed))
	return c.Size, err
}

// VerifyReport checks a signed report offline with the checkpoint key history vs: the DSSE
// envelope must carry a valid signature by one of vs over the payload, the payload must be a
// report statement, and its checkpoint must verify with vs. It returns the statement and its
// checkpoint; anything else is failure.Invalid (failure.TooLarge over MaxSignedReportSize).
func VerifyReport(envelope []byte, vs []note.Verifier) (ReportStatement, Checkpoint, error) {
	var st ReportStatement
	if len(envelope) > MaxSignedReportSize {
		return st, Checkpoint{}, failure.New(failure.TooLarge, "signed report: %d bytes is over the limit of %d", len(envelope), MaxSignedReportSize)
	}
	if len(vs) == 0 {
		return st, Checkpoint{}, failure.New(failure.Invalid, "signed report: no verifier key")
	}
	if err := strictjson.CheckKeys(envelope, map[string]bool{"payloadType": true, "payload": true, "signatures": true, "keyid": true, "sig": true}); err != nil {
		return st, Checkpoint{}, failure.Wrap(failure.Invalid, err, "signed report: not a DSSE envelope")
	}
	var env dsse.Envelope
	if err := json.Unmarshal(envelope, &env); err != nil {
		return st, Checkpoint{}, failure.Wrap(failure.Invalid, err, "signed report: not a DSSE envelope")
	}
	if env.PayloadType != ReportPayloadType {
		return st, Checkpoint{}, failure.New(failure.Invalid, "signed report: payloadType %q, want %q", env.PayloadType, ReportPayloadType)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return st, Checkpoint{}, failure.Wrap(failure.Invalid, err, "signed report: payload is not base64")
	}
	if !signedBy(env, payload, vs) {
		return st, Checkpoint{}, failure.New(failure.Invalid, "signed report: no valid signature by a checkpoint key given")
	}
	if err := checkTopKeys(payload, statementKeys); err != nil {
		return st, Checkpoint{}, failure.Wrap(failure.Invalid, err, "signed report: not a report statement")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&st); err != nil {
		return st, Checkpoint{}, failure.Wrap(failure.Invalid, err, "signed report: not a report statement")
	}
	if st.Type != ReportStatementType || st.Report == "" || len(st.Body) == 0 {
		return st, Checkpoint{}, failure.New(failure.Invalid, "signed report: statement type %q, report %q: want a %s with a report and a body", st.Type, st.Report, ReportStatementType)
	}
	c, err := OpenCheckpointKeys([]byte(st.Checkpoint), vs)
	if err != nil {
		return st, Checkpoint{}, err
	}
	if st.LogSizeBefore > c.Size {
		return st, Checkpoint{}, failure.New(failure.Invalid, "signed report: log size %d before the report is beyond its checkpoint's %d", st.LogSizeBefore, c.Size)
	}
	return st, c, nil
}

// signedBy reports whether one of env's signatures is valid by one of vs over the DSSE PAE.
func signedBy(env dsse.Envelope, payload []byte, vs []note.Verifier) bool {
	pae := dsse.PAE(env.PayloadType, payload)
	for _, sig := range env.Signatures {
		raw, err := base64.StdEncoding.DecodeString(sig.Sig)
		if err != nil {
			continue
		}
		for _, v := range vs {
			if sig.KeyID == keyID(v.Name(), v.KeyHash()) && v.Verify(pae, raw) {
				return true
			}
		}
	}
	return false
}

// checkTopKeys refuses a JSON object whose own keys (not those of the objects inside it,
// which are the report's) are not all in known, spelled exactly, or come twice.
func checkTopKeys(data []byte, known map[string]bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if !known[key] {
			return fmt.Errorf("unknown field %q", key)
		}
		if seen[key] {
			return fmt.Errorf("duplicate field %q", key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the object")
	}
	return nil
}

// QueryWithout renders q without the parameter name, for a statement's Query.
func QueryWithout(raw, name string) string {
	var keep []string
	for _, part := range strings.Split(raw, "&") {
		if part == "" || part == name || strings.HasPrefix(part, name+"=") {
			continue
		}
		keep = append(keep, part)
	}
	return strings.Join(keep, "&")
}
