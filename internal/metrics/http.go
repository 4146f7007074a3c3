package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RouteFunc names the route of a request after it was served; it must return one of a bounded
// set of values.
type RouteFunc func(r *http.Request) string

// Instrument counts and times the requests of next, served on the named listener. route names
// a request's route; nil takes the pattern that the innermost http.ServeMux matched
// (r.Pattern, without its method and host), "unmatched" when none did. A handler between this
// one and the ServeMux must pass the request on as it is (not a copy made by WithContext or
// StripPrefix), or the pattern is not seen.
func (m *Registry) Instrument(listener string, next http.Handler, route RouteFunc) http.Handler {
	if route == nil {
		route = PatternRoute
	}
	inFlight := m.inFlight.WithLabelValues(listener)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		inFlight.Inc()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			p := recover()
			inFlight.Dec()
			code := sw.code
			if code == 0 {
				code = http.StatusOK // nothing written: net/http answers 200
				if p != nil {
					code = http.StatusInternalServerError // net/http drops the connection
				}
			}
			method, rt := Method(r.Method), route(r)
			m.requests.WithLabelValues(listener, method, rt, strconv.Itoa(code)).Inc()
			m.duration.WithLabelValues(listener, method, rt).Observe(time.Since(start).Seconds())
			if p != nil {
				panic(p)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// PatternRoute is the path of the ServeMux pattern that served r: "GET /v1/devices/{id}"
// gives "/v1/devices/{id}". It is "unmatched" when no pattern matched.
func PatternRoute(r *http.Request) string {
	p := r.Pattern
	if i := strings.IndexByte(p, ' '); i >= 0 {
		p = strings.TrimLeft(p[i+1:], " \t")
	}
	if i := strings.IndexByte(p, '/'); i > 0 { // a host before the path
		p = p[i:]
	}
	if p == "" {
		return "unmatched"
	}
	return p
}

// Method is the request method when it is a standard one (RFC 9110 section 9 and PATCH), else
// "OTHER": clients choose methods, and labels must stay few.
func Method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// statusWriter remembers the status code of the answer.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	// 1xx answers are interim; the final one follows.
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's own writer (Flush, deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
