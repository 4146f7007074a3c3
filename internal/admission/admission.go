// Package admission sheds load: it admits at most a fixed number of expensive requests (those
// that sign and store a certificate) at once, lets a few more wait briefly for a slot, and
// answers the rest at once with 503 and Retry-After. A renewal storm of a whole fleet then
// costs bounded memory and database connections, and devices come back when told instead of
// timing out and retrying in step.
//
// Why by hand: golang.org/x/net/netutil limits connections, not requests of one kind, and
// shedding needs the answer each protocol expects (problem+json for the API, text for EST).
package admission

import (
	"context"
	"net/http"
	"strconv"
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
	// RetryAfter is what a shed request is told.
	RetryAfter time.Duration
}

// Limiter admits requests into a fixed number of slots.
type Limiter struct {
	c       Config
	slots   chan struct{}
	waiting atomic.Int64
	// Counters, for metrics and benchmarks.
	Admitted, Shed atomic.Int64
}

// New returns a Limiter; zero fields take defaults (64 slots, a queue of 256, 1 s wait,
// Retry-After 5 s).
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
	if c.RetryAfter <= 0 {
		c.RetryAfter = 5 * time.Second
	}
	return &Limiter{c: c, slots: make(chan struct{}, c.Slots)}
}

// Acquire takes a slot, waiting at most Wait (and only when fewer than Queue wait already).
// It returns a release function, or ok false when the request must be shed.
func (l *Limiter) Acquire(ctx context.Context) (release func(), ok bool) {
	select {
	case l.slots <- struct{}{}:
		l.Admitted.Add(1)
		return l.release, true
	default:
	}
	if l.waiting.Add(1) > int64(l.c.Queue) {
		l.waiting.Add(-1)
		l.Shed.Add(1)
		return nil, false
	}
	defer l.waiting.Add(-1)
	t := time.NewTimer(l.c.Wait)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}:
		l.Admitted.Add(1)
		return l.release, true
	case <-t.C:
	case <-ctx.Done():
	}
	l.Shed.Add(1)
	return nil, false
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

// RetryAfterSeconds is the Retry-After value of a shed request.
func (l *Limiter) RetryAfterSeconds() string {
	return strconv.Itoa(max(1, int(l.c.RetryAfter/time.Second)))
}

// Wrap limits the requests for which match is true; a shed request gets Retry-After and then
// whatever shed writes (the protocol's own 503).
func (l *Limiter) Wrap(next http.Handler, match func(*http.Request) bool, shed func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !match(r) {
			next.ServeHTTP(w, r)
			return
		}
		release, ok := l.Acquire(r.Context())
		if !ok {
			w.Header().Set("Retry-After", l.RetryAfterSeconds())
			shed(w, r)
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}
