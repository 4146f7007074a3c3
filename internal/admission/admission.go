// Package admission sheds load: it admits at most a fixed number of expensive requests (those
// that sign and store a certificate) at once, lets a few more wait briefly for a slot, and
// answers the rest at once with 503 and Retry-After. A renewal storm of a whole fleet then
// costs bounded memory and database connections, and devices come back when told instead of
// timing out and retrying in step.
//
// Retry-After grows with the backlog. A fleet told a fixed delay comes back at a fixed rate,
// and when that rate is above what the server admits, most devices are shed again, each
// attempt costing a TLS handshake for nothing. Each window (one base Retry-After long) the
// told delay is multiplied by the square root of sheds per admission in that window, between
// the base and MaxRetryAfter: with N devices waiting and capacity C per second it settles
// near N/C, where about as many are shed as admitted. A window without sheds halves it.
//
// A request's body is read before it asks for a slot (body.go): a client that sends its body
// slowly holds a goroutine and a connection, never a slot, and the read is bounded in size
// (MaxBody), in time (BodyTimeout) and, over all requests at once, in memory (BodyMemory).
//
// Why by hand: golang.org/x/net/netutil limits connections, not requests of one kind, and
// shedding needs the answer each protocol expects (problem+json for the API, text for EST).
package admission

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Config sizes a Limiter.
type Config struct {
	// Slots is how many admitted requests may run at once.
	Slots int
	// Queue is how many more may wait for a slot; beyond it a request is shed at once.
	Queue int
	// Wait is how long a queued request waits for a slot before it is shed.
	Wait time.Duration
	// RetryAfter is the least a shed request is told, and the length of the window over
	// which sheds and admissions are counted to size the next one.
	RetryAfter time.Duration
	// MaxRetryAfter bounds what a shed request is told when the backlog is long.
	MaxRetryAfter time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time

	// MaxBody is the largest request body Wrap reads before it asks for a slot (default
	// 1 MiB); a larger one is refused with 413 without a slot.
	MaxBody int64
	// BodyTimeout bounds the reading of one body, from the moment Wrap starts reading it
	// (default 5s); a body not read by then is refused with 408 and its connection closed.
	BodyTimeout time.Duration
	// BodyMemory bounds the bytes of bodies read and held at once by requests of this
	// limiter (default 64 MiB); a request whose body does not fit is shed like one over
	// capacity.
	BodyMemory int64
}

// Limiter admits requests into a fixed number of slots.
type Limiter struct {
	c       Config
	slots   chan struct{}
	waiting atomic.Int64
	// Counters, for metrics and benchmarks. Shed counts every request answered 503,
	// ShedMemory those of them shed because BodyMemory was taken.
	Admitted, Shed, ShedMemory atomic.Int64
	// Requests whose body was refused before admission: not read within BodyTimeout, larger
	// than MaxBody, or cut off (the client went away, bad chunked encoding).
	BodyTimeouts, BodyTooLarge, BodyBroken atomic.Int64
	bodyBytes                              atomic.Int64 // held now, at most BodyMemory

	// The current window: what was admitted and shed in it, and the Retry-After told.
	wAdmitted, wShed atomic.Int64
	retryAfter       atomic.Int64 // nanoseconds
	mu               sync.Mutex   // rolls the window
	windowEnd        time.Time
}

// New returns a Limiter; zero fields take defaults (64 slots, a queue of 256, 1 s wait,
// Retry-After from 5 s to 10 min, bodies of at most 1 MiB read within 5 s, 64 MiB of them
// at once).
func New(c Config) *Limiter {
	if c.Slots <= 0 {
		c.Slots = 64
	}
	if c.Queue < 0 {
		c.Queue = 0
	} else if c.Queue == 0 {
		c.Queue = 4 * c.Slots
	}
	if c.Wait <= 0 {
		c.Wait = time.Second
	}
	if c.RetryAfter < time.Second {
		c.RetryAfter = 5 * time.Second
	}
	if c.MaxRetryAfter < c.RetryAfter {
		c.MaxRetryAfter = max(c.RetryAfter, 10*time.Minute)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxBody <= 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.BodyTimeout <= 0 {
		c.BodyTimeout = DefaultBodyTimeout
	}
	if c.BodyMemory <= 0 {
		c.BodyMemory = DefaultBodyMemory
	}
	c.BodyMemory = max(c.BodyMemory, c.MaxBody+1)
	l := &Limiter{c: c, slots: make(chan struct{}, c.Slots)}
	l.retryAfter.Store(int64(c.RetryAfter))
	return l
}

// Acquire takes a slot, waiting at most Wait (and only when fewer than Queue wait already).
// It returns a release function, or ok false when the request must be shed.
func (l *Limiter) Acquire(ctx context.Context) (release func(), ok bool) {
	select {
	case l.slots <- struct{}{}:
		l.admitted()
		return l.release, true
	default:
	}
	if l.waiting.Add(1) > int64(l.c.Queue) {
		l.waiting.Add(-1)
		l.shed()
		return nil, false
	}
	defer l.waiting.Add(-1)
	t := time.NewTimer(l.c.Wait)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}:
		l.admitted()
		return l.release, true
	case <-t.C:
	case <-ctx.Done():
	}
	l.shed()
	return nil, false
}

func (l *Limiter) admitted() { l.Admitted.Add(1); l.wAdmitted.Add(1) }

func (l *Limiter) shed() { l.Shed.Add(1); l.wShed.Add(1) }

// RetryAfter is what a request shed now is told (see the package comment).
func (l *Limiter) RetryAfter() time.Duration {
	l.roll(l.c.Now())
	return time.Duration(l.retryAfter.Load())
}

// roll closes the window when it has ended and sizes Retry-After from it.
func (l *Limiter) roll(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.windowEnd) {
		return
	}
	shed, admitted := l.wShed.Swap(0), l.wAdmitted.Swap(0)
	cur, base := float64(l.retryAfter.Load()), float64(l.c.RetryAfter)
	var next float64
	switch {
	case l.windowEnd.IsZero() || now.Sub(l.windowEnd) >= l.c.RetryAfter:
		next = base // the first window, or one or more went by without a shed request
	case shed == 0:
		next = cur / 2
	default:
		next = cur * math.Sqrt(float64(shed)/float64(max(admitted, 1)))
	}
	next = min(max(next, base), float64(l.c.MaxRetryAfter))
	l.retryAfter.Store(int64(next))
	l.windowEnd = now.Add(l.c.RetryAfter)
}

func (l *Limiter) release() { <-l.slots }

// InFlight is how many admitted requests hold a slot now.
func (l *Limiter) InFlight() int { return len(l.slots) }

// Queued is how many requests wait for a slot now.
func (l *Limiter) Queued() int {
	// A request over the queue limit counts itself for an instant before it is shed.
	return int(min(max(l.waiting.Load(), 0), int64(l.c.Queue)))
}

// Slots is how many admitted requests may run at once.
func (l *Limiter) Slots() int { return l.c.Slots }

// QueueLimit is how many requests may wait for a slot.
func (l *Limiter) QueueLimit() int { return l.c.Queue }

// RetryAfterSeconds is the Retry-After value of a request shed now.
func (l *Limiter) RetryAfterSeconds() string {
	return strconv.Itoa(max(1, int(l.RetryAfter()/time.Second)))
}

// Refuse writes a refusal in the protocol's own form: code is 503 (shed; Retry-After is
// set already), 408 (the body did not arrive in time), 413 (the body is too large) or 400 (the
// body could not be read); detail says why, in words for the client.
type Refuse func(w http.ResponseWriter, r *http.Request, code int, detail string)

// Wrap limits the requests for which match is true. Their body is read first (ReadBody), then
// a slot is taken for next; a request shed gets Retry-After and refuse's 503.
func (l *Limiter) Wrap(next http.Handler, match func(*http.Request) bool, refuse Refuse) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !match(r) {
			next.ServeHTTP(w, r)
			return
		}
		done, err := l.ReadBody(w, r)
		if err != nil {
			l.refuseBody(w, r, err, refuse)
			return
		}
		defer done()
		release, ok := l.Acquire(r.Context())
		if !ok {
			l.refuseShed(w, r, refuse)
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}

func (l *Limiter) refuseShed(w http.ResponseWriter, r *http.Request, refuse Refuse) {
	w.Header().Set("Retry-After", l.RetryAfterSeconds())
	refuse(w, r, http.StatusServiceUnavailable, "the server is at capacity; retry after the Retry-After delay")
}
