package app

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// handshakeGate bounds the TLS handshakes in flight across all listeners of a server.
// Connections beyond the bound are not accepted: they wait in the kernel's accept queue (and
// beyond it, in the client's SYN retries), where they cost no CPU and no memory of ours.
//
// Without it, net/http accepts every connection at once and runs its handshake in its own
// goroutine. In a renewal storm of a million devices 4,000 handshakes competed for two cores,
// each step of each one queued behind all the others, and 7,945 of them outlasted the
// handshake timeout and were closed unanswered. HAProxy's maxsslconn bounds the same thing.
// No well-kept Go module does this for net/http, hence the listener below.
type handshakeGate struct {
	slots   chan struct{}
	timeout time.Duration
	log     *slog.Logger
	running atomic.Int64                         // handshakes under way
	failed  [len(HandshakeFailures)]atomic.Int64 // by reason, as HandshakeFailures
}

// HandshakeFailures are the reasons a failed handshake is counted under.
var HandshakeFailures = [...]string{
	"timeout",            // not done within the handshake timeout
	"client_closed",      // the client closed or reset the connection
	"client_certificate", // the client's certificate did not verify
	"protocol",           // anything else: no common version or cipher, not TLS, ...
}

// failureReason is the index in HandshakeFailures of err's reason.
func failureReason(err error) int {
	var ne net.Error
	var cv *tls.CertificateVerificationError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return 0
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		return 1
	case errors.As(err, &cv):
		return 2
	}
	return 3
}

func newHandshakeGate(max int, timeout time.Duration, log *slog.Logger) *handshakeGate {
	return &handshakeGate{slots: make(chan struct{}, max), timeout: timeout, log: log}
}

// InFlight reports how many handshakes run now.
func (g *handshakeGate) InFlight() int { return int(g.running.Load()) }

// Limit reports the bound.
func (g *handshakeGate) Limit() int { return cap(g.slots) }

// Failed reports how many handshakes failed since the start.
func (g *handshakeGate) Failed() int64 {
	var n int64
	for i := range g.failed {
		n += g.failed[i].Load()
	}
	return n
}

// Failures reports how many handshakes failed since the start, by reason.
func (g *handshakeGate) Failures() map[string]int64 {
	out := make(map[string]int64, len(HandshakeFailures))
	for i, r := range HandshakeFailures {
		out[r] = g.failed[i].Load()
	}
	return out
}

// listener returns a listener that yields connections of inner whose TLS handshake under cfg
// is complete; http.Server then finds nothing left to do for the handshake.
func (g *handshakeGate) listener(inner net.Listener, cfg *tls.Config) net.Listener {
	l := &gatedListener{g: g, inner: inner, cfg: cfg, ready: make(chan net.Conn), done: make(chan struct{}), stopped: make(chan struct{})}
	go l.acceptLoop()
	return l
}

type gatedListener struct {
	g       *handshakeGate
	inner   net.Listener
	cfg     *tls.Config
	ready   chan net.Conn // connections with a completed handshake
	done    chan struct{} // closed by Close
	stopped chan struct{} // closed when acceptLoop ends on an error; err says which
	err     error
	once    sync.Once
}

func (l *gatedListener) acceptLoop() {
	var backoff time.Duration
	for {
		// The slot is taken before Accept, so that beyond the bound connections stay queued
		// in the kernel.
		select {
		case l.g.slots <- struct{}{}:
		case <-l.done:
			return
		}
		c, err := l.inner.Accept()
		if err != nil {
			<-l.g.slots
			// Temporary errors (out of file descriptors, mostly) are retried with backoff,
			// as net/http does; anything else ends the listener.
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() && !errors.Is(err, net.ErrClosed) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				l.g.log.Warn("accept failed; retrying", "err", err, "in", backoff)
				select {
				case <-time.After(backoff):
					continue
				case <-l.done:
					return
				}
			}
			l.err = err
			close(l.stopped)
			return
		}
		backoff = 0
		go l.handshake(c)
	}
}

func (l *gatedListener) handshake(c net.Conn) {
	l.g.running.Add(1)
	tc := tls.Server(c, l.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), l.g.timeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	l.g.running.Add(-1)
	<-l.g.slots
	if err != nil {
		r := failureReason(err)
		l.g.failed[r].Add(1)
		l.g.log.Debug("TLS handshake failed", "remote", c.RemoteAddr().String(), "reason", HandshakeFailures[r], "err", err)
		c.Close()
		return
	}
	select {
	case l.ready <- tc:
	case <-l.done:
		tc.Close()
	}
}

// Accept returns the next connection whose handshake is complete.
func (l *gatedListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.stopped:
		return nil, l.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting; handshakes under way are dropped when they end.
func (l *gatedListener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.inner.Close()
	})
	return err
}

func (l *gatedListener) Addr() net.Addr { return l.inner.Addr() }
