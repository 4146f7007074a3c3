package admission

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// Defaults of the body read before admission.
const (
	DefaultMaxBody     = 1 << 20
	DefaultBodyTimeout = 5 * time.Second
	DefaultBodyMemory  = 64 << 20
)

// bodyChunk is the least a body of unknown length grows by.
const bodyChunk = 16 << 10

// BodyError is why a body was not read before admission.
type BodyError struct {
	Code   int    // 408, 413, 400, or 503 when BodyMemory is taken
	Detail string // for the client
	Err    error  // the read's error, if any
}

func (e *BodyError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("admission: reading the request body: %s: %v", e.Detail, e.Err)
	}
	return "admission: reading the request body: " + e.Detail
}

func (e *BodyError) Unwrap() error { return e.Err }

// ReadBody reads r's whole body into memory before the request asks for a slot, so that a
// client sending its body slowly never holds one, and gives r a body that reads it back. It
// reads at most MaxBody bytes, within BodyTimeout (a read deadline on the connection, when the
// ResponseWriter has one), and counts what it holds against BodyMemory. done gives the memory
// back; call it when the request is over. Errors are *BodyError.
func (l *Limiter) ReadBody(w http.ResponseWriter, r *http.Request) (done func(), err error) {
	if r.Body == nil || r.Body == http.NoBody {
		return func() {}, nil
	}
	if r.ContentLength > l.c.MaxBody {
		l.BodyTooLarge.Add(1)
		return nil, &BodyError{Code: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("the request body is larger than %d bytes", l.c.MaxBody)}
	}
	rc := http.NewResponseController(w)
	// Not every ResponseWriter has a connection (tests' recorders); the server's ReadTimeout
	// bounds those.
	if rc.SetReadDeadline(time.Now().Add(l.c.BodyTimeout)) == nil {
		defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	}
	var held int64
	take := func(n int64) bool {
		if l.bodyBytes.Add(n) > l.c.BodyMemory {
			l.bodyBytes.Add(-n)
			return false
		}
		held += n
		return true
	}
	giveBack := func() { l.bodyBytes.Add(-held); held = 0 }
	// One byte beyond the bound tells a body of exactly MaxBody from a larger one.
	size := min(int64(bodyChunk), l.c.MaxBody+1)
	if r.ContentLength >= 0 {
		size = r.ContentLength + 1
	}
	if !take(size) {
		l.ShedMemory.Add(1)
		return nil, &BodyError{Code: http.StatusServiceUnavailable, Detail: "the server is at capacity"}
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) { // and at most MaxBody: see below
			grown := min(2*int64(cap(buf)), l.c.MaxBody+1)
			if !take(grown) {
				giveBack()
				l.ShedMemory.Add(1)
				return nil, &BodyError{Code: http.StatusServiceUnavailable, Detail: "the server is at capacity"}
			}
			nb := make([]byte, len(buf), grown)
			copy(nb, buf)
			l.bodyBytes.Add(-int64(cap(buf)))
			held -= int64(cap(buf))
			buf = nb
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > l.c.MaxBody {
			giveBack()
			l.BodyTooLarge.Add(1)
			return nil, &BodyError{Code: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("the request body is larger than %d bytes", l.c.MaxBody)}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			giveBack()
			var ne net.Error
			if errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
				l.BodyTimeouts.Add(1)
				return nil, &BodyError{Code: http.StatusRequestTimeout, Detail: fmt.Sprintf("the request body did not arrive within %s", l.c.BodyTimeout), Err: err}
			}
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				l.BodyTooLarge.Add(1)
				return nil, &BodyError{Code: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("the request body is larger than %d bytes", tooBig.Limit), Err: err}
			}
			l.BodyBroken.Add(1)
			return nil, &BodyError{Code: http.StatusBadRequest, Detail: "the request body could not be read", Err: err}
		}
	}
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(buf))
	r.ContentLength = int64(len(buf))
	return giveBack, nil
}

// refuseBody answers a body that was not read. A request whose body is left unread (or half
// read) cannot share its connection with the next, so the connection closes after the answer.
func (l *Limiter) refuseBody(w http.ResponseWriter, r *http.Request, err error, refuse Refuse) {
	var be *BodyError
	if !errors.As(err, &be) {
		be = &BodyError{Code: http.StatusBadRequest, Detail: "the request body could not be read", Err: err}
	}
	if be.Code == http.StatusServiceUnavailable {
		l.shed()
		l.refuseShed(w, r, refuse)
		return
	}
	w.Header().Set("Connection", "close")
	refuse(w, r, be.Code, be.Detail)
}

// BodyBytes is how many bytes of read bodies this limiter holds now.
func (l *Limiter) BodyBytes() int64 { return l.bodyBytes.Load() }

// BodyMemory is the bound on BodyBytes.
func (l *Limiter) BodyMemory() int64 { return l.c.BodyMemory }
