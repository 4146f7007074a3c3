package console

import (
	"bytes"
	"io"
	"net/http"
)

// inProcess is an http.RoundTripper that serves a request with the API handler in this
// process: the console's calls take the API's whole path (authentication, admission,
// authorisation, audit) without a network hop.
// remote is the browser's address, passed on as the request's RemoteAddr so that the API's
// per-client rules (the dev sign-in answers loopback clients only) see the real client.
type inProcess struct {
	h      http.Handler
	remote string
}

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	r = r.Clone(r.Context())
	r.RequestURI = r.URL.RequestURI()
	r.RemoteAddr = t.remote
	if r.Body == nil {
		r.Body = http.NoBody
	}
	t.h.ServeHTTP(rec, r)
	return &http.Response{
		Status: http.StatusText(rec.status), StatusCode: rec.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: rec.header, Body: io.NopCloser(bytes.NewReader(rec.body.Bytes())), ContentLength: int64(rec.body.Len()),
		Request: r,
	}, nil
}

// recorder is the http.ResponseWriter of one in-process call.
type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if !w.wrote {
		w.status, w.wrote = status, true
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}
