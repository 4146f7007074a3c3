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
	id, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/ca/"), ".cer")
	if !ok || !strings.HasPrefix(id, "ca-") || strings.Contains(id, "/") {
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
