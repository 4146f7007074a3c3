package httpapi

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/auditlog"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/party"
)

// Signed reports: every GET /v1/reports/<name> answers, with ?signed=1, a DSSE envelope of
// the report (auditlog.SignReport) instead of the report: the same JSON body, wrapped with a
// checkpoint of the audit log it was computed at, signed with the checkpoint key. "hallmark
// report verify" checks it offline with the key history (GET /v1/audit/keys).

// signAttempts bounds how often a report is computed again while the log grows under it.
const signAttempts = 3

// reportHandler wraps a report's handler so that ?signed=1 signs what it answers.
func (s *Server) reportHandler(name string, h func(w http.ResponseWriter, r *http.Request, p party.Principal) error) func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	return func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		signed := r.URL.Query().Get("signed")
		switch signed {
		case "", "0", "false":
			return h(w, r, p)
		case "1", "true":
		default:
			return failure.New(failure.Invalid, "signed must be 1 or true, not %q", signed)
		}
		a, err := s.auditLog()
		if err != nil {
			return err
		}
		// Compute the report between two reads of the log's size, then sign a checkpoint: when
		// the log did not grow meanwhile, no state changed (every change appends an event) and
		// the report is exactly the state at the checkpoint. Else compute it again, a few times.
		var st auditlog.ReportStatement
		for range signAttempts {
			before, err := a.Size(r.Context())
			if err != nil {
				return err
			}
			rec := &recorder{header: http.Header{}}
			if err := h(rec, r, p); err != nil {
				return err
			}
			if rec.status != http.StatusOK {
				return rec.copyTo(w)
			}
			cp, err := a.Checkpoint(r.Context())
			if err != nil {
				return err
			}
			st = auditlog.ReportStatement{Report: name, Query: auditlog.QueryWithout(r.URL.RawQuery, "signed"), Checkpoint: string(cp),
				LogSizeBefore: before, Body: bytes.TrimSpace(rec.body.Bytes())}
			if size, err := auditlog.CheckpointSize(cp); err == nil && size == before {
				break
			}
		}
		env, err := a.SignReport(r.Context(), st)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, toSignedReport(env))
	}
}

// reportName is the name of the report a path serves, or "" when it serves none.
func reportName(method, path string) string {
	if method != "GET" || !strings.HasPrefix(path, "/v1/reports/") {
		return ""
	}
	return strings.TrimPrefix(path, "/v1/reports/")
}

// recorder keeps a handler's answer so that it can be signed.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// copyTo passes an answer that is not a report (a redirect, say) through unchanged.
func (r *recorder) copyTo(w http.ResponseWriter) error {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.WriteHeader(r.status)
	_, err := w.Write(r.body.Bytes())
	return err
}

func toSignedReport(e dsse.Envelope) api.SignedReport {
	return api.SignedReport{PayloadType: e.PayloadType, Payload: e.Payload, Signatures: each(e.Signatures, toDSSESignature)}
}

func toDSSESignature(s dsse.Signature) api.DSSESignature {
	return api.DSSESignature{KeyID: s.KeyID, Sig: s.Sig}
}
