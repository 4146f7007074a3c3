package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/auditlog"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/party"
)

// auditRoutes serve the audit events and the tamper-evident audit log (internal/auditlog):
// the checkpoint key and its history are public; events, checkpoints, proofs and leaf hashes
// are for auditors (not deployment administrators: the log names every party's devices);
// rotating the key is for deployment administrators.
func (s *Server) auditRoutes() {
	s.handle("GET", "/v1/audit/events", s.auditEvents)
	s.public("GET", "/v1/audit/key", s.auditKey)
	s.public("GET", "/v1/audit/keys", s.auditKeys)
	s.handle("POST", "/v1/audit/key/rotate", s.rotateAuditKey)
	s.handle("GET", "/v1/audit/checkpoint", s.latestCheckpoint)
	s.handle("POST", "/v1/audit/checkpoint", s.signCheckpoint)
	s.handle("GET", "/v1/audit/proofs/inclusion", s.inclusionProof)
	s.handle("GET", "/v1/audit/proofs/consistency", s.consistencyProof)
	s.handle("GET", "/v1/audit/leaves", s.leafHashes)
	s.handle("POST", "/v1/audit/reconcile", s.reconcile)
}

// reconcile recomputes every certificate's state from the audit events and lists the rows
// that disagree (auditors only); the OCSP responder answers tryLater for those certificates
// from then on. The body may be left out.
func (s *Server) reconcile(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	a, err := s.auditLog()
	if err != nil {
		return err
	}
	if err := decodeOptional(r, &struct{}{}); err != nil {
		return err
	}
	res, err := a.Reconcile(r.Context(), actor(p))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toReconciliation(res))
}

// auditEvents lists up to auditlog.MaxEvents events after the sequence number in after (a
// value that is not a number reads from the start).
func (s *Server) auditEvents(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	a, err := s.auditLog()
	if err != nil {
		return err
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	evs, err := a.Events(r.Context(), actor(p), after, auditlog.MaxEvents)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(evs, toAuditEvent)))
}

// auditLog is the audit log service, or Unavailable when this server has none.
func (s *Server) auditLog() (*auditlog.Service, error) {
	if s.audit == nil {
		return nil, failure.New(failure.Unavailable, "the audit log service is not configured on this server")
	}
	return s.audit, nil
}

// auditor is the audit log's reader for p, refused by the service unless p may read the log;
// the handlers ask for it before they look at the query.
func (s *Server) auditor(ctx context.Context, p party.Principal) (auditlog.Reader, error) {
	a, err := s.auditLog()
	if err != nil {
		return auditlog.Reader{}, err
	}
	return a.ReaderFor(ctx, actor(p))
}

// auditKey is public: the note verifier key of the log's checkpoints, the current one also
// when another replica rotated it.
func (s *Server) auditKey(w http.ResponseWriter, r *http.Request) error {
	a, err := s.auditLog()
	if err != nil {
		return err
	}
	hist, err := a.KeyHistory(r.Context())
	if err != nil {
		return err
	}
	return writeText(w, 200, hist[0].VerifierKey+"\n")
}

// auditKeys is public: the checkpoint key history, one note verifier key a line, the current
// first (for "hallmark audit verify --key").
func (s *Server) auditKeys(w http.ResponseWriter, r *http.Request) error {
	a, err := s.auditLog()
	if err != nil {
		return err
	}
	hist, err := a.KeyHistory(r.Context())
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, k := range hist {
		b.WriteString(k.VerifierKey + "\n")
	}
	return writeText(w, 200, b.String())
}

// rotateAuditKey replaces the checkpoint key; the service admits deployment administrators
// only. The body may be left out.
func (s *Server) rotateAuditKey(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	a, err := s.auditLog()
	if err != nil {
		return err
	}
	if err := decodeOptional(r, &struct{}{}); err != nil {
		return err
	}
	k, err := a.RotateKey(r.Context(), actor(p))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toAuditKey(k))
}

// latestCheckpoint serves the latest signed checkpoint. A GET never signs: ?new=, which once
// did, is refused with a pointer to POST (a GET that writes can be replayed by caches,
// prefetchers and cross-site links).
func (s *Server) latestCheckpoint(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	if r.URL.Query().Has("new") {
		return failure.New(failure.Invalid, "GET /v1/audit/checkpoint only reads: sign a checkpoint of the current size with POST /v1/audit/checkpoint (hallmark audit checkpoint --new)")
	}
	return s.checkpoint(w, r, p, false)
}

// signCheckpoint signs and serves a checkpoint of the log as it is now.
func (s *Server) signCheckpoint(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	return s.checkpoint(w, r, p, true)
}

func (s *Server) checkpoint(w http.ResponseWriter, r *http.Request, p party.Principal, fresh bool) error {
	a, err := s.auditor(r.Context(), p)
	if err != nil {
		return err
	}
	signed, err := a.Checkpoint(r.Context(), fresh)
	if err != nil {
		return err
	}
	return writeText(w, 200, string(signed))
}

// inclusionProof proves leaf index (required) is in the tree of size leaves.
func (s *Server) inclusionProof(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	a, err := s.auditor(r.Context(), p)
	if err != nil {
		return err
	}
	index, err := uintParam(r, "index", true)
	if err != nil {
		return err
	}
	size, err := uintParam(r, "size", false)
	if err != nil {
		return err
	}
	pr, err := a.InclusionProof(r.Context(), index, size)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toInclusionProof(pr))
}

// consistencyProof proves the tree of size from (required) is a prefix of the tree of size to.
func (s *Server) consistencyProof(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	a, err := s.auditor(r.Context(), p)
	if err != nil {
		return err
	}
	from, err := uintParam(r, "from", true)
	if err != nil {
		return err
	}
	to, err := uintParam(r, "to", false)
	if err != nil {
		return err
	}
	pr, err := a.ConsistencyProof(r.Context(), from, to)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toConsistencyProof(pr))
}

// leafHashes serves up to auditlog.MaxLeafHashes leaf hashes from start.
func (s *Server) leafHashes(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	a, err := s.auditor(r.Context(), p)
	if err != nil {
		return err
	}
	start, err := uintParam(r, "start", false)
	if err != nil {
		return err
	}
	count, err := uintParam(r, "count", false)
	if err != nil {
		return err
	}
	if count == 0 || count > auditlog.MaxLeafHashes {
		count = auditlog.MaxLeafHashes
	}
	hs, err := a.LeafHashes(r.Context(), start, int(count))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, api.LeafHashes{Start: start, Hashes: hs})
}

// uintParam reads a non-negative integer query parameter (0 when absent and not required).
func uintParam(r *http.Request, name string, required bool) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		if required {
			return 0, failure.New(failure.Invalid, "the query parameter %s is required", name)
		}
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, failure.New(failure.Invalid, "the query parameter %s must be a non-negative integer, not %q", name, v)
	}
	return n, nil
}

func writeText(w http.ResponseWriter, status int, text string) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write([]byte(text))
	return err
}
