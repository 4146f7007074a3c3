// Package client is a typed client of Hallmark's REST API (/v1). Its request and response
// types are those of package api.
//
// Every call goes through one method, do, which sends JSON with the bearer token and decodes
// JSON, or an RFC 9457 problem+json refusal into an *api.Problem. A failure on the client's
// side is an *Error: a bad argument, or a server that could not be reached. Both name their
// kind of failure (KindName: "invalid", "not-found", "unavailable", ...), so callers such as
// the CLI classify API errors as they classify local ones.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/api"
)

// DefaultTimeout bounds every request, including reading the response.
const DefaultTimeout = 30 * time.Second

// maxResponse bounds what the client reads from the server.
const maxResponse = 64 << 20

// Client calls one Hallmark server as one principal.
type Client struct {
	base      string // scheme://host[:port], no trailing slash, no /v1
	token     string
	http      *http.Client
	userAgent string
}

type settings struct {
	caFile    string
	caPEM     []byte
	http      *http.Client
	timeout   time.Duration
	userAgent string
}

// Option configures New.
type Option func(*settings)

// WithCAFile trusts the CA certificates in a PEM file (in addition to none: when given, only
// these CAs are trusted), e.g. a dev server's DATA/tls/ca.pem.
func WithCAFile(path string) Option { return func(s *settings) { s.caFile = path } }

// WithCAPEM trusts the CA certificates in pemBytes.
func WithCAPEM(pemBytes []byte) Option { return func(s *settings) { s.caPEM = pemBytes } }

// WithHTTPClient uses c as is (its TLS settings and timeout win over the other options).
func WithHTTPClient(c *http.Client) Option { return func(s *settings) { s.http = c } }

// WithTimeout replaces DefaultTimeout.
func WithTimeout(d time.Duration) Option { return func(s *settings) { s.timeout = d } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(s *settings) { s.userAgent = ua } }

// New returns a client of the server at baseURL (e.g. "https://127.0.0.1:8443"; a trailing
// "/v1" is accepted) that authenticates with token (empty for public routes only).
func New(baseURL, token string, opts ...Option) (*Client, error) {
	s := settings{timeout: DefaultTimeout, userAgent: "hallmark-client"}
	for _, o := range opts {
		o(&s)
	}
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, invalidf("server URL %q must look like https://host:port", baseURL)
	}
	base := strings.TrimSuffix(strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/"), "/v1")
	c := &Client{base: base, token: token, http: s.http, userAgent: s.userAgent}
	if c.http != nil {
		return c, nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if s.caFile != "" || len(s.caPEM) > 0 {
		pemBytes := s.caPEM
		if s.caFile != "" {
			b, err := os.ReadFile(s.caFile)
			if err != nil {
				return nil, &Error{Kind: KindInvalid, Msg: "reading CA file " + s.caFile, Err: err}
			}
			pemBytes = append(append([]byte{}, pemBytes...), b...)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, invalidf("CA file %s holds no PEM certificate", s.caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	c.http = &http.Client{Transport: tr, Timeout: s.timeout}
	return c, nil
}

// BaseURL is the server's URL without /v1.
func (c *Client) BaseURL() string { return c.base }

// Kinds of an Error (the names of api.Problem.KindName).
const (
	KindInvalid     = api.ProblemInvalid     // a bad argument: retrying it unchanged fails again
	KindUnavailable = api.ProblemUnavailable // the server could not be reached or read; retry later
)

// Error is a failure on the client's side, with no answer from the server to show for it.
type Error struct {
	Kind string // KindInvalid or KindUnavailable
	Msg  string // what failed, safe to show
	Err  error  // the cause, if any
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// KindName is the kind of failure, e.g. "invalid".
func (e *Error) KindName() string { return e.Kind }

func invalidf(format string, args ...any) error {
	return &Error{Kind: KindInvalid, Msg: fmt.Sprintf(format, args...)}
}

// do sends in (JSON, unless nil) to method path and decodes the response into out: JSON for
// most types, the raw body when out is *[]byte, nothing when out is nil.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	contentType := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("client: encoding %s %s: %w", method, path, err)
		}
		body, contentType = bytes.NewReader(b), "application/json"
	}
	return c.send(ctx, method, path, contentType, body, out)
}

// send sends body (of contentType, unless nil) to method path and decodes the response into
// out as do does.
func (c *Client) send(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json, application/problem+json, application/x-pem-file")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return transportError(method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("reading the response to %s %s", method, path), Err: err}
	}
	if resp.StatusCode >= 300 {
		return problemOf(resp, data)
	}
	switch o := out.(type) {
	case nil:
		return nil
	case *governed:
		if resp.StatusCode == http.StatusAccepted {
			p := &Pending{}
			if err := json.Unmarshal(data, &p.Approval); err != nil {
				return fmt.Errorf("client: decoding the pending approval of %s %s: %w", method, path, err)
			}
			return p
		}
		if o.out == nil {
			return nil
		}
		if err := json.Unmarshal(data, o.out); err != nil {
			return fmt.Errorf("client: decoding the response to %s %s: %w", method, path, err)
		}
		return nil
	case *[]byte:
		*o = data
		return nil
	default:
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("client: decoding the response to %s %s: %w", method, path, err)
		}
		return nil
	}
}

func problemOf(resp *http.Response, data []byte) error {
	p := &api.Problem{Status: resp.StatusCode}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ct == "application/problem+json" || ct == "application/json" {
		_ = json.Unmarshal(data, p) // a body that is not a problem is shown as text below
		p.Status = resp.StatusCode
	}
	if n, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && n > 0 {
		p.RetryAfter = time.Duration(n) * time.Second // an HTTP date is not used by Hallmark
	}
	if p.Detail == "" && p.Title == "" {
		text := strings.TrimSpace(string(data))
		if len(text) > 200 {
			text = text[:200] + "..."
		}
		if text == "" {
			text = http.StatusText(resp.StatusCode)
		}
		p.Detail = text
	}
	return p
}

// ErrUntrustedServer is in the chain of every error caused by a server TLS certificate that
// the client does not trust (unknown authority, failed verification, wrong host name): the
// server may be reachable, but the client will not talk to it. errors.Is finds it.
var ErrUntrustedServer = errors.New("the server's TLS certificate is not trusted")

func transportError(method, path string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	var unknown x509.UnknownAuthorityError
	var cv *tls.CertificateVerificationError
	var host x509.HostnameError
	if errors.As(err, &unknown) || errors.As(err, &cv) || errors.As(err, &host) {
		return fmt.Errorf("%w (give its CA with --cacert or HALLMARK_CACERT): %w", ErrUntrustedServer, err)
	}
	return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("%s %s: server unreachable", method, path), Err: err}
}
