package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/auditlog"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// auditRoutes serves the tamper-evident audit log (internal/auditlog): the checkpoint key is
// public; checkpoints, proofs and leaf hashes are for auditors, like the
// events themselves.
func (s *Server) auditRoutes(a *auditlog.Service) {
	ready := func() error {
		if a == nil {
			return failure.New(failure.Unavailable, "the audit log service is not configured on this server")
		}
		return nil
	}
	auditor := func(ctx context.Context, p party.Principal) error {
		if err := ready(); err != nil {
			return err
		}
		return s.requireAuditor(ctx, p)
	}
	s.public("GET", "/v1/audit/key", func(w http.ResponseWriter, r *http.Request) error {
		if err := ready(); err != nil {
			return err
		}
		return writeText(w, 200, a.VerifierKey()+"\n")
	})
	checkpoint := func(fresh bool) func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		return func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
			if err := auditor(r.Context(), p); err != nil {
				return err
			}
			var signed []byte
			var err error
			if fresh || r.URL.Query().Get("new") == "1" {
				signed, err = a.Checkpoint(r.Context())
			} else {
				signed, err = a.Latest(r.Context())
			}
			if err != nil {
				return err
			}
			return writeText(w, 200, string(signed))
		}
	}
	s.handle("GET", "/v1/audit/checkpoint", checkpoint(false))
	s.handle("POST", "/v1/audit/checkpoint", checkpoint(true))
	s.handle("GET", "/v1/audit/proofs/inclusion", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		if err := auditor(r.Context(), p); err != nil {
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
	})
	s.handle("GET", "/v1/audit/proofs/consistency", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		if err := auditor(r.Context(), p); err != nil {
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
	})
	s.handle("GET", "/v1/audit/leaves", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		if err := auditor(r.Context(), p); err != nil {
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
	})
}

// requireAuditor refuses principals that are not auditors (deployment administrators
// included: the log names every party's devices).
func (s *Server) requireAuditor(ctx context.Context, p party.Principal) error {
	return s.st.View(ctx, func(tx store.Tx) error {
		ok, err := governance.IsAuditor(tx, actor(p))
		if err != nil {
			return err
		}
		if !ok {
			return failure.New(failure.Denied, "the audit log's checkpoints and proofs need an audit cell")
		}
		return nil
	})
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
