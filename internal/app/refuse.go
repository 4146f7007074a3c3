package app

import (
	"encoding/json"
	"net/http"

	"github.com/hallmark-id/hallmark/internal/httpapi"
)

// refuseAPI answers a request that admission refused before the API saw it, as the API
// answers everything: a problem document (RFC 9457). 503 is "unavailable", 413 "too-large",
// and a body that did not arrive or could not be read is "invalid" (with 408 or 400).
func refuseAPI(w http.ResponseWriter, r *http.Request, code int, detail string) {
	// The fields of httpapi's problem documents (RFC 9457 section 3.1).
	p := struct {
		Type     string `json:"type"`
		Title    string `json:"title"`
		Status   int    `json:"status"`
		Detail   string `json:"detail,omitempty"`
		Instance string `json:"instance,omitempty"`
	}{Status: code, Detail: detail, Instance: r.URL.Path}
	switch code {
	case http.StatusServiceUnavailable:
		p.Type, p.Title = httpapi.ProblemBase+"unavailable", "Temporarily unavailable"
	case http.StatusRequestEntityTooLarge:
		p.Type, p.Title = httpapi.ProblemBase+"too-large", "The request is too large"
	default:
		p.Type, p.Title = httpapi.ProblemBase+"invalid", "The request is not valid"
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(p)
}

// refuseText answers in text/plain: the answer RFC 7030 section 4.2.3 gives a busy EST server,
// and what a CRL client can read.
func refuseText(w http.ResponseWriter, _ *http.Request, code int, detail string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(detail + "\n"))
}
