package httpapi

import (
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/custodyvoucher"
	"github.com/hallmark-id/hallmark/internal/custodyvouchers"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/party"
)

// voucherRoutes serve custody vouchers between deployments (custodyvouchers.Service;
// docs/vouchers.md). With no service every route answers 503.
func (s *Server) voucherRoutes() {
	s.handle("POST", "/v1/custody/keys", s.registerCustodyKey)
	s.handle("GET", "/v1/custody/keys", s.listCustodyKeys)
	s.handle("POST", "/v1/custody/vouchers/export", s.exportVoucher)
	s.handle("POST", "/v1/custody/vouchers/import", s.importVoucher)
	s.handle("GET", "/v1/custody/vouchers", s.listVouchers)
	s.handle("GET", "/v1/custody/vouchers/{id}", s.getVoucher)
}

// vouchers is the custody voucher service, or Unavailable when this server has none.
func (s *Server) vouchers() (*custodyvouchers.Service, error) {
	if s.vch == nil {
		return nil, failure.New(failure.Unavailable, "custody vouchers are not configured on this server")
	}
	return s.vch, nil
}

func (s *Server) registerCustodyKey(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	svc, err := s.vouchers()
	if err != nil {
		return err
	}
	var req api.RegisterCustodyKeyRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	k, err := svc.RegisterKey(r.Context(), actor(p), req.Name, req.PublicKeyPEM)
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toCustodyKey(k))
}

func (s *Server) listCustodyKeys(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	svc, err := s.vouchers()
	if err != nil {
		return err
	}
	out, err := svc.Keys(r.Context(), actor(p))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toCustodyKey)))
}

func (s *Server) exportVoucher(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	svc, err := s.vouchers()
	if err != nil {
		return err
	}
	var req api.ExportVoucherRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	out, err := svc.Export(r.Context(), actor(p), fromExportVoucherRequest(req))
	if err != nil {
		return err
	}
	v := toCustodyVoucher(out.Record)
	v.File = string(out.File)
	return writeJSON(w, 201, v)
}

// importVoucher takes the voucher file itself as the body (application/json).
func (s *Server) importVoucher(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	svc, err := s.vouchers()
	if err != nil {
		return err
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return failure.New(failure.Invalid, "send the custody voucher file as application/json, not %q", r.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, custodyvoucher.MaxBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return failure.New(failure.TooLarge, "the custody voucher is larger than %d bytes", custodyvoucher.MaxBytes)
		}
		return failure.Wrap(failure.Invalid, err, "reading the custody voucher")
	}
	out, err := svc.Import(r.Context(), actor(p), body)
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toImportedVoucher(out))
}

func (s *Server) listVouchers(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	svc, err := s.vouchers()
	if err != nil {
		return err
	}
	out, err := svc.List(r.Context(), actor(p))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toCustodyVoucher)))
}

func (s *Server) getVoucher(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	svc, err := s.vouchers()
	if err != nil {
		return err
	}
	v, err := svc.Get(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toCustodyVoucher(v))
}
