package console

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/audit"
)

type auditRow struct {
	api.AuditEvent
	Who string
}

type auditData struct {
	Events []auditRow
	Next   string
}

// auditPage is how many events the log page shows (the API returns up to 1000 at a time).
const auditPage = 50

// auditLog lists audit events from ?after= on, for the parties the API lets read them.
func (k *Console) auditLog(w http.ResponseWriter, r *http.Request, s *session) {
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	evs, err := s.api.AuditEvents(r.Context(), after)
	if err != nil {
		k.failAPI(w, r, s, err)
		return
	}
	n := s.names(r.Context())
	d := auditData{}
	for i, e := range evs {
		if i == auditPage {
			d.Next = "/ui/audit?after=" + strconv.FormatInt(evs[i-1].Seq, 10)
			break
		}
		d.Events = append(d.Events, auditRow{e, n.Principal(e.PartyID, e.PrincipalID)})
	}
	k.render(w, r, s, http.StatusOK, "audit", "Audit log", d)
}

type proofData struct {
	Index    uint64
	Size     uint64
	Leaf     string // base64 of the event's leaf encoding (audit.MarshalLeaf), hashed in the page
	LeafHash string // base64, as the API gave it
	Root     string // base64, the signed checkpoint's root
	Path     string // base64 hashes, space-separated
}

type auditEventData struct {
	Event      auditRow
	Detail     string
	Checkpoint string // the signed note as served
	SignedBy   string // the verifier key's name, when the signature verified
	SigErr     string
	CPSize     uint64
	Covered    bool
	Proof      *proofData
	ProofErr   string
}

// auditEvent shows one event, the current checkpoint, and an inclusion proof of the event in
// that checkpoint's tree, which the page's script checks with the browser's own SHA-256.
func (k *Console) auditEvent(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq < 1 {
		k.fail(w, r, s, http.StatusBadRequest, "An audit event is named by its sequence number, 1 or more.")
		return
	}
	evs, err := s.api.AuditEvents(ctx, seq-1)
	if err != nil {
		k.failAPI(w, r, s, err)
		return
	}
	if len(evs) == 0 || evs[0].Seq != seq {
		k.fail(w, r, s, http.StatusNotFound, "There is no audit event "+strconv.FormatInt(seq, 10)+".")
		return
	}
	e := evs[0]
	d := auditEventData{Event: auditRow{e, s.names(ctx).Principal(e.PartyID, e.PrincipalID)}, Detail: string(e.Detail)}
	signed, err := s.api.AuditCheckpoint(ctx, false)
	if err != nil {
		d.ProofErr = sectionErr(err)
		k.render(w, r, s, http.StatusOK, "event", "Audit event "+strconv.FormatInt(seq, 10), d)
		return
	}
	d.Checkpoint = string(signed)
	size, root, err := parseCheckpoint(signed)
	if err != nil {
		d.ProofErr = err.Error()
		k.render(w, r, s, http.StatusOK, "event", "Audit event "+strconv.FormatInt(seq, 10), d)
		return
	}
	d.CPSize = size
	if key, err := s.api.AuditKey(ctx); err != nil {
		d.SigErr = sectionErr(err)
	} else if v, err := note.NewVerifier(key); err != nil {
		d.SigErr = "the server's checkpoint key does not parse: " + err.Error()
	} else if n, err := note.Open(signed, note.VerifierList(v)); err != nil {
		d.SigErr = "the checkpoint's signature does not verify: " + err.Error()
	} else {
		d.SignedBy = n.Sigs[0].Name
	}
	d.Covered = uint64(seq) <= size
	if d.Covered {
		p, err := s.api.AuditInclusionProof(ctx, uint64(seq-1), size)
		if err != nil {
			d.ProofErr = sectionErr(err)
		} else {
			leaf, err := audit.MarshalLeaf(audit.Event{Seq: e.Seq, At: e.At, PartyID: e.PartyID, PrincipalID: e.PrincipalID, Action: e.Action, Stage: e.Stage, Scope: e.Scope, Subject: e.Subject, Detail: e.Detail})
			if err != nil {
				d.ProofErr = err.Error()
			} else {
				d.Proof = &proofData{Index: p.Index, Size: p.Size, Leaf: b64(leaf), LeafHash: b64(p.LeafHash), Root: b64(root), Path: joinB64(p.Hashes)}
			}
		}
	}
	k.render(w, r, s, http.StatusOK, "event", "Audit event "+strconv.FormatInt(seq, 10), d)
}

// freshCheckpoint has the server sign a checkpoint of the log as it is now, then shows the
// event again.
func (k *Console) freshCheckpoint(w http.ResponseWriter, r *http.Request, s *session) {
	seq, err := strconv.ParseInt(r.PostFormValue("seq"), 10, 64)
	if err != nil || seq < 1 {
		k.fail(w, r, s, http.StatusBadRequest, "An audit event is named by its sequence number, 1 or more.")
		return
	}
	if _, err := s.api.AuditCheckpoint(r.Context(), true); err != nil {
		k.failAPI(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/ui/audit/"+strconv.FormatInt(seq, 10), http.StatusSeeOther)
}

// parseCheckpoint reads the size and root of a signed checkpoint note (C2SP tlog-checkpoint:
// origin, size and base64 root lines, then a blank line and the signatures).
func parseCheckpoint(signed []byte) (uint64, []byte, error) {
	text, _, ok := strings.Cut(string(signed), "\n\n")
	lines := strings.Split(text, "\n")
	if !ok || len(lines) < 3 {
		return 0, nil, errString("the checkpoint is not a signed note with origin, size and root lines")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return 0, nil, errString("the checkpoint's size line is not a number")
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return 0, nil, errString("the checkpoint's root is not a base64 SHA-256 hash")
	}
	return size, root, nil
}

type errString string

func (e errString) Error() string { return string(e) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func joinB64(hs [][]byte) string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = b64(h)
	}
	return strings.Join(out, " ")
}
