// Package brski serves the BRSKI well-known endpoints of RFC 8995 over HTTP: the registrar's
// requestvoucher, voucher_status and enrollstatus in front of EST (section 5), the MASA's
// requestvoucher (section 5.5), and the client a registrar uses to reach a MASA.
//
// Invariants: like internal/est, the handlers only translate between the wire and the
// interface they declare (Registrar, MASA), which decides; bodies above voucher.MaxSize (at the
// MASA, voucher.MaxRegistrarRequest, as they may carry a custody voucher) are
// refused before they are read further; every refusal is a text/plain reason with a status
// from the one map in status().
package brski

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/brski/voucher"
	"github.com/hallmark-id/hallmark/internal/failure"
)

// PathPrefix is the BRSKI well-known tree (RFC 8995 section 8.2).
const PathPrefix = "/.well-known/brski"

// Registrar decides the registrar's operations; peer is the TLS client chain, leaf first.
type Registrar interface {
	RequestVoucher(ctx context.Context, media string, body []byte, peer []*x509.Certificate) (voucher []byte, answerMedia string, err error)
	Telemetry(ctx context.Context, kind string, body []byte, peer []*x509.Certificate) error
}

// MASA decides the MASA's one operation.
type MASA interface {
	RequestVoucher(ctx context.Context, media string, body []byte) (voucher []byte, answerMedia string, err error)
}

// RegistrarHandler serves requestvoucher, voucher_status and enrollstatus under PathPrefix.
func RegistrarHandler(r Registrar, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathPrefix+"/requestvoucher", func(w http.ResponseWriter, req *http.Request) {
		media, body, ok := readSigned(w, req, log, voucher.MaxSize)
		if !ok {
			return
		}
		v, vm, err := r.RequestVoucher(req.Context(), media, body, peer(req))
		if err != nil {
			fail(w, req, log, err)
			return
		}
		writeVoucher(w, vm, v)
	})
	for _, kind := range []string{"voucher_status", "enrollstatus"} {
		mux.HandleFunc("POST "+PathPrefix+"/"+kind, func(w http.ResponseWriter, req *http.Request) {
			body, ok := readBody(w, req, log, "application/json", voucher.MaxSize)
			if !ok {
				return
			}
			if err := r.Telemetry(req.Context(), kind, body, peer(req)); err != nil {
				fail(w, req, log, err)
				return
			}
			w.WriteHeader(http.StatusOK)
		})
	}
	mux.HandleFunc(PathPrefix+"/", func(w http.ResponseWriter, req *http.Request) {
		refuse(w, req, log, http.StatusNotFound, "not a BRSKI operation of this registrar (requestvoucher, voucher_status, enrollstatus; POST)")
	})
	return mux
}

// MASAHandler serves the MASA's requestvoucher under PathPrefix.
func MASAHandler(m MASA, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathPrefix+"/requestvoucher", func(w http.ResponseWriter, req *http.Request) {
		media, body, ok := readSigned(w, req, log, voucher.MaxRegistrarRequest)
		if !ok {
			return
		}
		v, vm, err := m.RequestVoucher(req.Context(), media, body)
		if err != nil {
			fail(w, req, log, err)
			return
		}
		writeVoucher(w, vm, v)
	})
	mux.HandleFunc(PathPrefix+"/", func(w http.ResponseWriter, req *http.Request) {
		refuse(w, req, log, http.StatusNotFound, "not a BRSKI operation of this MASA (POST requestvoucher)")
	})
	return mux
}

func peer(r *http.Request) []*x509.Certificate {
	if r.TLS == nil {
		return nil
	}
	return r.TLS.PeerCertificates
}

// readSigned reads a signed voucher request: Content-Type voucher-cms+json or
// voucher-jws+json (RFC 8995 section 5.2; draft-ietf-anima-jws-voucher).
func readSigned(w http.ResponseWriter, r *http.Request, log *slog.Logger, max int) (string, []byte, bool) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != voucher.MediaCMS && mt != voucher.MediaJWS {
		refuse(w, r, log, http.StatusUnsupportedMediaType, "a voucher request is "+voucher.MediaCMS+" or "+voucher.MediaJWS)
		return "", nil, false
	}
	body, ok := readBody(w, r, log, mt, max)
	return mt, body, ok
}

func readBody(w http.ResponseWriter, r *http.Request, log *slog.Logger, media string, max int) ([]byte, bool) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != media {
		refuse(w, r, log, http.StatusUnsupportedMediaType, "the body must be "+media)
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(max)+1))
	if err != nil {
		refuse(w, r, log, http.StatusBadRequest, "reading the body: "+err.Error())
		return nil, false
	}
	if len(body) > max {
		refuse(w, r, log, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is above %d bytes", max))
		return nil, false
	}
	return body, true
}

func writeVoucher(w http.ResponseWriter, media string, v []byte) {
	w.Header().Set("Content-Type", media)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(v)
}

// status maps a decision's error to HTTP (RFC 8995 sections 5.3 and 5.6 leave the codes to
// HTTP semantics: 403 for a refused device or registrar, 4xx for a bad request).
func status(err error) int {
	switch failure.KindOf(err) {
	case failure.Invalid:
		return http.StatusBadRequest
	case failure.Denied:
		return http.StatusForbidden
	case failure.NotFound:
		return http.StatusNotFound
	case failure.Unauthenticated:
		return http.StatusUnauthorized
	case failure.TooLarge:
		return http.StatusRequestEntityTooLarge
	case failure.Unavailable:
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

func fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := status(err)
	if code == http.StatusInternalServerError {
		log.Error("brski failed", "path", r.URL.Path, "error", err)
		refuse(w, r, log, code, "the server could not complete the request; the reason is in its log")
		return
	}
	refuse(w, r, log, code, err.Error())
}

func refuse(w http.ResponseWriter, r *http.Request, log *slog.Logger, code int, reason string) {
	log.Info("brski refused", "path", r.URL.Path, "status", code, "reason", reason)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, reason+"\n")
}

// Client reaches MASAs over HTTPS: it trusts RootCAs for the MASA's TLS certificate and
// presents Certificate, the registrar's, as its TLS client certificate (RFC 8995 section
// 5.5.1). It implements registrar.MASAClient.
type Client struct {
	RootCAs     *x509.CertPool
	Certificate tls.Certificate
	Timeout     time.Duration // default 30 s
}

// RefusedError is a MASA's refusal, with its status and reason.
type RefusedError struct {
	Status int
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused by the MASA (HTTP %d): %s", e.Status, e.Reason)
}

// RequestVoucher POSTs a registrar voucher request to url and returns the voucher. A MASA's
// 4xx is failure.Denied (403) or failure.Invalid (other 4xx) wrapping a *RefusedError; any
// other failure to get an answer is failure.Unavailable.
func (c *Client) RequestVoucher(ctx context.Context, url, media string, body []byte) ([]byte, string, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	hc := &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		MinVersion: tls.VersionTLS12, RootCAs: c.RootCAs, Certificates: []tls.Certificate{c.Certificate}}}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, "", failure.Wrap(failure.Invalid, err, "MASA URL")
	}
	req.Header.Set("Content-Type", media)
	req.Header.Set("Accept", media)
	res, err := hc.Do(req)
	if err != nil {
		return nil, "", failure.Wrap(failure.Unavailable, err, "reaching the MASA")
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, voucher.MaxSize+1))
	if err != nil || len(data) > voucher.MaxSize {
		return nil, "", failure.New(failure.Unavailable, "reading the MASA's answer: too large or cut (%v)", err)
	}
	if res.StatusCode >= 400 && res.StatusCode < 500 {
		re := &RefusedError{Status: res.StatusCode, Reason: strings.TrimSpace(string(data))}
		kind := failure.Invalid
		if res.StatusCode == http.StatusForbidden || res.StatusCode == http.StatusNotFound {
			kind = failure.Denied
		}
		return nil, "", failure.Wrap(kind, re, "voucher request")
	}
	if res.StatusCode != http.StatusOK {
		return nil, "", failure.New(failure.Unavailable, "the MASA answered HTTP %d: %s", res.StatusCode, strings.TrimSpace(string(data)))
	}
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if mt != voucher.MediaCMS && mt != voucher.MediaJWS {
		return nil, "", failure.New(failure.Unavailable, "the MASA answered %q, not a voucher", mt)
	}
	return data, mt, nil
}
