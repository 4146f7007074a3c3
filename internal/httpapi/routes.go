package httpapi

import (
	"encoding/pem"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/custody"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

func (s *Server) routes() {
	s.public("GET", "/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		_, err := w.Write(OpenAPI)
		return err
	})
	s.handle("GET", "/v1/whoami", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		return writeJSON(w, 200, toPrincipal(p))
	})

	// Parties, principals and the ownership matrix.
	s.handle("POST", "/v1/parties", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		var req api.CreatePartyRequest
		if err := decode(r, &req); err != nil {
			return err
		}
		out, err := s.gov.CreateParty(r.Context(), actor(p), fromCreatePartyRequest(req))
		if err != nil {
			return err
		}
		return writeJSON(w, 201, toParty(out))
	})
	s.handle("GET", "/v1/parties", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		out, err := s.gov.ListParties(r.Context())
		if err != nil {
			return err
		}
		return writeJSON(w, 200, list(each(out, toParty)))
	})
	s.handle("POST", "/v1/principals", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		var req api.CreatePrincipalRequest
		if err := decode(r, &req); err != nil {
			return err
		}
		out, token, err := s.gov.CreatePrincipal(r.Context(), actor(p), fromCreatePrincipalRequest(req))
		if err != nil {
			return err
		}
		return writeJSON(w, 201, toCreatedPrincipal(out, token))
	})
	s.handle("GET", "/v1/parties/{id}/principals", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		out, err := s.gov.ListPrincipals(r.Context(), actor(p), r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeJSON(w, 200, list(each(out, toPrincipal)))
	})
	s.handle("GET", "/v1/ownership", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		out, err := s.gov.ListCells(r.Context())
		if err != nil {
			return err
		}
		return writeJSON(w, 200, list(each(out, toCell)))
	})
	s.handle("PUT", "/v1/ownership", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		var req api.Cell
		if err := decode(r, &req); err != nil {
			return err
		}
		c := fromCell(req)
		if err := s.gov.SetCell(r.Context(), actor(p), c); err != nil {
			return err
		}
		return writeJSON(w, 200, toCell(c))
	})

	s.handle("DELETE", "/v1/ownership", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		q := r.URL.Query()
		kind, id, ok := strings.Cut(q.Get("scope"), ":")
		if !ok {
			return failure.New(failure.Invalid, "scope must be kind:id, e.g. lot:lot_abc")
		}
		k := ownership.Key{Stage: ownership.Stage(q.Get("stage")), Duty: ownership.Duty(q.Get("duty")), Scope: ownership.Scope{Kind: ownership.ScopeKind(kind), ID: id}}
		if err := s.gov.DeleteCell(r.Context(), actor(p), k); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})

	// Manufacturing CAs and anchors.
	s.handle("POST", "/v1/manufacturing/hierarchies", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		var req api.CreateHierarchyRequest
		if err := decode(r, &req); err != nil {
			return err
		}
		root, iss, err := s.mfg.CreateHierarchy(r.Context(), actor(p), fromCreateHierarchyRequest(req))
		if err != nil {
			return err
		}
		return writeJSON(w, 201, toHierarchy(root, iss))
	})
	s.handle("POST", "/v1/manufacturing/imports", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		var req api.ImportCARequest
		if err := decode(r, &req); err != nil {
			return err
		}
		c, err := s.mfg.ImportCA(r.Context(), actor(p), fromImportCARequest(req))
		if err != nil {
			return err
		}
		return writeJSON(w, 201, toCA(c))
	})
	s.handle("POST", "/v1/anchors", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		var req api.RegisterAnchorRequest
		if err := decode(r, &req); err != nil {
			return err
		}
		c, err := s.mfg.RegisterAnchor(r.Context(), actor(p), fromRegisterAnchorRequest(req))
		if err != nil {
			return err
		}
		return writeJSON(w, 201, toCA(c))
	})
	s.handle("GET", "/v1/cas", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		out, err := s.mfg.ListCAs(r.Context(), actor(p), r.URL.Query().Get("party"))
		if err != nil {
			return err
		}
		return writeJSON(w, 200, list(each(out, toCA)))
	})
	s.public("GET", "/v1/cas/{id}/certificate", func(w http.ResponseWriter, r *http.Request) error {
		c, err := s.mfg.GetCA(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return writePEM(w, toCA(c).CertificatePEM)
	})
	s.public("GET", "/v1/manufacturers/{id}/build-record-key", func(w http.ResponseWriter, r *http.Request) error {
		k, err := s.mfg.BuildRecordKeyPEM(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return writePEM(w, k)
	})

	// Catalog.
	s.handle("POST", "/v1/models", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		var req api.CreateModelRequest
		if err := decode(r, &req); err != nil {
			return err
		}
		m, err := s.mfg.CreateModel(r.Context(), actor(p), fromCreateModelRequest(req))
		if err != nil {
			return err
		}
		return writeJSON(w, 201, toModel(m))
	})
	s.handle("GET", "/v1/models", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		out, err := s.mfg.ListModels(r.Context(), r.URL.Query().Get("manufacturer"))
		if err != nil {
			return err
		}
		return writeJSON(w, 200, list(each(out, toModel)))
	})
	s.handle("POST", "/v1/lots", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		var req api.CreateLotRequest
		if err := decode(r, &req); err != nil {
			return err
		}
		l, err := s.mfg.CreateLot(r.Context(), actor(p), fromCreateLotRequest(req))
		if err != nil {
			return err
		}
		return writeJSON(w, 201, toLot(l))
	})
	s.handle("GET", "/v1/lots", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		out, err := s.mfg.ListLots(r.Context(), r.URL.Query().Get("manufacturer"))
		if err != nil {
			return err
		}
		return writeJSON(w, 200, list(each(out, toLot)))
	})
	s.handle("GET", "/v1/lots/{id}", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		l, err := s.mfg.GetLot(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeJSON(w, 200, toLot(l))
	})

	// Factory identities and inventory.
	s.handle("POST", "/v1/lots/{id}/devices", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		var body api.IssueFactoryRequest
		if err := decode(r, &body); err != nil {
			return err
		}
		req, err := fromIssueFactoryRequest(body)
		if err != nil {
			return err
		}
		req.LotID = r.PathValue("id")
		out, err := s.mfg.IssueFactory(r.Context(), actor(p), req)
		if err != nil {
			return err
		}
		return writeJSON(w, 201, toFactoryIdentity(out))
	})
	s.handle("GET", "/v1/devices", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		q := r.URL.Query()
		f := store.DeviceFilter{LotID: q.Get("lot"), CustodianID: q.Get("custodian"), ManufacturerID: q.Get("manufacturer"), EnvironmentID: q.Get("environment"),
			State: device.State(q.Get("state")), After: q.Get("after")}
		if v := q.Get("expiring_before"); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return failure.New(failure.Invalid, "expiring_before must be an RFC 3339 time such as 2026-12-01T00:00:00Z")
			}
			f.ExpiringBefore = t
		}
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				return failure.New(failure.Invalid, "limit must be 1-1000")
			}
			f.Limit = n
		}
		out, err := s.inv.List(r.Context(), actor(p), f)
		if err != nil {
			return err
		}
		page := api.DevicePage{Items: nonNil(each(out, toDevice))}
		if f.Limit > 0 && len(out) == f.Limit || f.Limit == 0 && len(out) == 1000 {
			page.NextAfter = out[len(out)-1].ID
		}
		return writeJSON(w, 200, page)
	})
	s.handle("GET", "/v1/devices/{id}", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		v, err := s.inv.Get(r.Context(), actor(p), r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeJSON(w, 200, toDeviceView(v))
	})
	s.handle("GET", "/v1/devices/{id}/certificates/{serial}", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		v, err := s.inv.Get(r.Context(), actor(p), r.PathValue("id"))
		if err != nil {
			return err
		}
		for _, c := range v.Certificates {
			if c.SerialHex == strings.ToLower(r.PathValue("serial")) && c.State != ca.Reserved {
				return writePEM(w, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER})))
			}
		}
		return failure.New(failure.NotFound, "device %s has no certificate %s", v.ID, r.PathValue("serial"))
	})
	s.handle("GET", "/v1/devices/{id}/build-record", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		v, err := s.inv.Get(r.Context(), actor(p), r.PathValue("id"))
		if err != nil {
			return err
		}
		if len(v.BuildRecord) == 0 {
			return failure.New(failure.NotFound, "device %s has no build record", v.ID)
		}
		w.Header().Set("Content-Type", "application/json")
		_, err = w.Write(v.BuildRecord)
		return err
	})

	// Custody.
	s.handle("POST", "/v1/transfers", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		var req api.OfferRequest
		if err := decode(r, &req); err != nil {
			return err
		}
		t, err := s.cus.Offer(r.Context(), actor(p), fromOfferRequest(req))
		if err != nil {
			return err
		}
		return writeJSON(w, 201, toTransfer(t))
	})
	s.handle("GET", "/v1/transfers", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		out, err := s.cus.List(r.Context(), actor(p))
		if err != nil {
			return err
		}
		return writeJSON(w, 200, list(each(out, toTransfer)))
	})
	s.handle("GET", "/v1/transfers/{id}", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		t, err := s.cus.Get(r.Context(), actor(p), r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeJSON(w, 200, toTransfer(t))
	})
	s.handle("GET", "/v1/transfers/{id}/devices", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		q := r.URL.Query()
		limit := custody.MaxPage
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > custody.MaxPage {
				return failure.New(failure.Invalid, "limit must be 1-%d", custody.MaxPage)
			}
			limit = n
		}
		out, err := s.cus.Devices(r.Context(), actor(p), r.PathValue("id"), q.Get("after"), limit)
		if err != nil {
			return err
		}
		page := api.IDPage{Items: nonNil(out)}
		if len(out) == limit { // a full page: there may be more
			page.NextAfter = out[len(out)-1]
		}
		return writeJSON(w, 200, page)
	})
	for _, d := range []custody.Decision{custody.Accept, custody.Refuse, custody.Cancel} {
		s.handle("POST", "/v1/transfers/{id}/"+string(d), func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
			t, err := s.cus.Decide(r.Context(), actor(p), r.PathValue("id"), d)
			if err != nil {
				return err
			}
			return writeJSON(w, 200, toTransfer(t))
		})
	}

	// Audit.
	s.handle("GET", "/v1/audit/events", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
		var out api.Page[api.AuditEvent]
		err := s.st.View(r.Context(), func(tx store.Tx) error {
			ok, err := governance.IsAuditor(tx, actor(p))
			if err != nil {
				return err
			}
			if !ok {
				return failure.New(failure.Denied, "reading the audit log needs an audit cell")
			}
			evs, err := tx.Audit().List(after, 1000)
			out = list(each(evs, toAuditEvent))
			return err
		})
		if err != nil {
			return err
		}
		return writeJSON(w, 200, out)
	})
}

// list is a list response; its items are never null.
func list[T any](items []T) api.Page[T] { return api.Page[T]{Items: nonNil(items)} }

func nonNil[T any](items []T) []T {
	if items == nil {
		return []T{}
	}
	return items
}
