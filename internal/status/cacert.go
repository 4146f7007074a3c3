package status

import (
	"bytes"
	"net/http"
	"strings"
)

// serveCACert serves GET /ca/<ca-id>.cer: the DER certificate of a CA this service publishes
// status for, application/pkix-cert, as RFC 5280 section 4.2.2.1 asks of an HTTP caIssuers
// URI. A relying party that holds a certificate but not its issuer's fetches it from there
// (the issuing CA certificates Hallmark signs name their root's). Any other name is 404.
func (s *Service) serveCACert(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	id, ok := caCertID(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	cs := s.caNamed(r.Context(), id)
	if cs == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-cert")
	// A CA's certificate never changes once stored.
	w.Header().Set("Cache-Control", "public, max-age=86400, no-transform")
	http.ServeContent(w, r, "", cs.c.CreatedAt, bytes.NewReader(cs.c.CertDER))
}

// caCertID reads the CA ID of a path /ca/<ca-id>.cer: one segment starting "ca-".
func caCertID(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/ca/")
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, ".cer")
	if !ok || len(id) <= len("ca-") || !strings.HasPrefix(id, "ca-") || strings.ContainsAny(id, "/.") {
		return "", false
	}
	return id, true
}
