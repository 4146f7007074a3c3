package httpapi

import (
	"net/http"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/party"
)

// routes registers every operation: two here, the rest by route group, each group's
// registrar and named handlers in its own routes_<group>.go.
func (s *Server) routes() {
	s.public("GET", "/v1/openapi.json", s.openAPI)
	s.handle("GET", "/v1/whoami", s.whoami)

	s.partyRoutes()
	s.caRoutes()
	s.catalogRoutes()
	s.deviceRoutes()
	s.operationalRoutes()
	s.auditRoutes()
	s.reportRoutes()
	s.approvalRoutes()
	s.supportRoutes()
	s.gapsRoute()
	s.authRoutes()
	s.refusalRoutes()
	s.lifecycleRoutes()
	s.makerRoutes()
	s.voucherRoutes()
	s.principalRoutes()
	s.changeRoutes()
}

// openAPI is public: it serves this API's OpenAPI document.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(OpenAPI)
	return err
}

// whoami answers with the authenticated principal.
func (s *Server) whoami(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	return writeJSON(w, 200, toPrincipal(p))
}

// list is a list response; its items are never null.
func list[T any](items []T) api.Page[T] { return api.Page[T]{Items: nonNil(items)} }

func nonNil[T any](items []T) []T {
	if items == nil {
		return []T{}
	}
	return items
}
