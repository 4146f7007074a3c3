package app

import (
	"container/list"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hallmark-id/hallmark/internal/est"
)

// handshakeGate bounds the TLS handshakes in flight on one listener. Connections beyond the
// bound wait for a slot; beyond twice the bound, the listener accepts nothing more and they
// wait in the kernel's accept queue (and beyond it, in the client's SYN retries), where they
// cost no CPU and no memory of ours.
//
// Without it, net/http accepts every connection at once and runs its handshake in its own
// goroutine. In a renewal storm of a million devices 4,000 handshakes competed for two cores,
// each step of each one queued behind all the others, and 7,945 of them outlasted the
// handshake timeout and were closed unanswered. HAProxy's maxsslconn bounds the same thing.
// No well-kept Go module does this for net/http, hence the listener below.
//
// A connection takes a slot only once its first TLS record, the ClientHello, has arrived
// whole: a client that connects and sends nothing (or a few bytes) holds no slot, and is
// closed after HelloTimeout. Those waiting for their hello are bounded too (4 × the slots;
// beyond, the longest waiting is closed), and so are the connections of one source at once
// (PerSource, for an IPv4 address or an IPv6 /64, unless Exempt), over their whole life.
type handshakeGate struct {
	c       gateConfig
	slots   chan struct{} // handshakes in flight
	room    chan struct{} // connections past their hello: in flight or waiting for a slot
	maxIdle int           // connections waiting for their hello
	running atomic.Int64  // handshakes under way
	failed  [len(HandshakeFailures)]atomic.Int64

	mu      sync.Mutex
	idle    list.List // of *pending, longest waiting first
	sources map[netip.Prefix]int
}

// gateConfig sizes the gate of one listener; zero fields take the defaults.
type gateConfig struct {
	Listener         string        // its name in metrics and logs: api, est, status
	Handshakes       int           // in flight at once; default DefaultHandshakes()
	HelloTimeout     time.Duration // for the ClientHello to arrive; default 5s
	HandshakeTimeout time.Duration // from the slot to the end of the handshake; default 10s
	PerSource        int           // connections at once per source; default 128
	MaxIdle          int           // connections awaiting their hello; default 4 × Handshakes
	Exempt           []netip.Prefix
	Log              *slog.Logger
}

// Defaults of gateConfig (and of the limits section of the configuration); the handshake
// timeout is app.go's handshakeTimeout.
const (
	DefaultHelloTimeout = 5 * time.Second
	DefaultPerSource    = 128
)

// HandshakeFailures are the reasons a connection is closed before its handshake completed.
var HandshakeFailures = [...]string{
	"timeout",            // not done within the handshake timeout after taking its slot
	"client_closed",      // the client closed or reset the connection
	"client_certificate", // the client's certificate did not verify
	"protocol",           // anything else: not TLS, no common version or cipher, ...
	"unknown_issuer",     // EST: a client certificate of no CA of the deployment nor registered anchor
	"hello_timeout",      // no whole ClientHello within the hello timeout; it held no slot
	"idle_evicted",       // closed while waiting for its ClientHello, to make room for newer ones
	"source_cap",         // refused at once: its source had as many connections as allowed
}

// Indexes into HandshakeFailures.
const (
	failTimeout = iota
	failClientClosed
	failClientCertificate
	failProtocol
	failUnknownIssuer
	failHelloTimeout
	failIdleEvicted
	failSourceCap
)

// failureReason is the index in HandshakeFailures of a failed handshake's err.
func failureReason(err error) int {
	var ne net.Error
	var cv *tls.CertificateVerificationError
	var ui *est.UnknownIssuerError
	switch {
	case errors.As(err, &ui):
		return failUnknownIssuer
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return failTimeout
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		return failClientClosed
	case errors.As(err, &cv):
		return failClientCertificate
	}
	return failProtocol
}

func newHandshakeGate(c gateConfig) *handshakeGate {
	if c.Handshakes <= 0 {
		c.Handshakes = DefaultHandshakes()
	}
	if c.HelloTimeout <= 0 {
		c.HelloTimeout = DefaultHelloTimeout
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = handshakeTimeout
	}
	if c.PerSource <= 0 {
		c.PerSource = DefaultPerSource
	}
	if c.MaxIdle <= 0 {
		c.MaxIdle = 4 * c.Handshakes
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return &handshakeGate{c: c, slots: make(chan struct{}, c.Handshakes), room: make(chan struct{}, 2*c.Handshakes),
		maxIdle: c.MaxIdle, sources: map[netip.Prefix]int{}}
}

// InFlight reports how many handshakes run now.
func (g *handshakeGate) InFlight() int { return int(g.running.Load()) }

// Limit reports the bound.
func (g *handshakeGate) Limit() int { return cap(g.slots) }

// Queued reports how many connections sent their ClientHello and wait for a slot.
func (g *handshakeGate) Queued() int { return max(0, len(g.room)-len(g.slots)) }

// Idle reports how many connections wait for their ClientHello.
func (g *handshakeGate) Idle() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.idle.Len()
}

// PerSource reports the bound on one source's connections.
func (g *handshakeGate) PerSource() int { return g.c.PerSource }

// Failed reports how many connections failed before their handshake completed, since the start.
func (g *handshakeGate) Failed() int64 {
	var n int64
	for i := range g.failed {
		n += g.failed[i].Load()
	}
	return n
}

// Failures reports the same by reason.
func (g *handshakeGate) Failures() map[string]int64 {
	out := make(map[string]int64, len(HandshakeFailures))
	for i, r := range HandshakeFailures {
		out[r] = g.failed[i].Load()
	}
	return out
}

func (g *handshakeGate) fail(reason int, c net.Conn, err error) {
	g.failed[reason].Add(1)
	g.c.Log.Debug("TLS handshake failed", "listener", g.c.Listener, "remote", c.RemoteAddr().String(), "reason", HandshakeFailures[reason], "err", err)
}

// source is the key a connection from addr counts under: an IPv4 address, an IPv6 /64 (one
// subscriber's usual allocation). ok is false when it is not counted (exempt, or no IP).
func (g *handshakeGate) source(addr net.Addr) (key netip.Prefix, ok bool) {
	ta, isTCP := addr.(*net.TCPAddr)
	if !isTCP {
		return netip.Prefix{}, false
	}
	ap := ta.AddrPort()
	ip := ap.Addr().Unmap()
	if !ip.IsValid() {
		return netip.Prefix{}, false
	}
	for _, p := range g.c.Exempt {
		if p.Contains(ip) {
			return netip.Prefix{}, false
		}
	}
	if ip.Is4() {
		return netip.PrefixFrom(ip, 32), true
	}
	p, _ := ip.Prefix(64)
	return p, true
}

// enter counts a new connection of its source; false when the source is at its bound.
func (g *handshakeGate) enter(key netip.Prefix) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.sources[key] >= g.c.PerSource {
		return false
	}
	g.sources[key]++
	return true
}

func (g *handshakeGate) leave(key netip.Prefix) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.sources[key]--; g.sources[key] <= 0 {
		delete(g.sources, key)
	}
}

// pending is a connection waiting for its ClientHello.
type pending struct {
	c       net.Conn
	elem    *list.Element
	evicted bool
}

// awaitHello registers c as waiting for its hello; beyond maxIdle the one waiting longest is
// woken with a read deadline in the past (its goroutine closes it).
func (g *handshakeGate) awaitHello(c net.Conn) *pending {
	g.mu.Lock()
	defer g.mu.Unlock()
	p := &pending{c: c}
	p.elem = g.idle.PushBack(p)
	for g.idle.Len() > g.maxIdle {
		old := g.idle.Remove(g.idle.Front()).(*pending)
		old.evicted, old.elem = true, nil
		_ = old.c.SetReadDeadline(time.Unix(1, 0))
	}
	return p
}

// wakeIdle gives every connection awaiting its hello a read deadline in the past.
func (g *handshakeGate) wakeIdle() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for e := g.idle.Front(); e != nil; e = e.Next() {
		_ = e.Value.(*pending).c.SetReadDeadline(time.Unix(1, 0))
	}
}

// helloDone ends p's wait; it reports whether p was evicted.
func (g *handshakeGate) helloDone(p *pending) (evicted bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p.evicted {
		return true
	}
	g.idle.Remove(p.elem)
	return false
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
		// While every place past the hello is taken, nothing is accepted: a storm waits in
		// the kernel. Connections still sending their hello take no place.
		select {
		case l.g.room <- struct{}{}:
			<-l.g.room
		case <-l.done:
			return
		}
		c, err := l.inner.Accept()
		if err != nil {
			// Temporary errors (out of file descriptors, mostly) are retried with backoff,
			// as net/http does; anything else ends the listener.
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() && !errors.Is(err, net.ErrClosed) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				l.g.c.Log.Warn("accept failed; retrying", "listener", l.g.c.Listener, "err", err, "in", backoff)
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
		tc := &trackedConn{Conn: c}
		if key, counted := l.g.source(c.RemoteAddr()); counted {
			if !l.g.enter(key) {
				l.g.fail(failSourceCap, c, nil)
				c.Close()
				continue
			}
			tc.leave = func() { l.g.leave(key) }
		}
		// The deadline is set before the connection is registered, so that an eviction's
		// deadline in the past always comes after it.
		_ = c.SetReadDeadline(time.Now().Add(l.g.c.HelloTimeout))
		go l.handshake(tc, l.g.awaitHello(tc))
	}
}

func (l *gatedListener) handshake(c *trackedConn, p *pending) {
	hello, err := readHello(c)
	evicted := l.g.helloDone(p)
	if err != nil {
		r := failureReason(err)
		switch {
		case evicted:
			r = failIdleEvicted
		case errors.Is(err, os.ErrDeadlineExceeded):
			r = failHelloTimeout
		case errors.Is(err, errNotClientHello):
			r = failProtocol
		}
		l.g.fail(r, c, err)
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	select {
	case l.g.room <- struct{}{}:
	case <-l.done:
		c.Close()
		return
	}
	select {
	case l.g.slots <- struct{}{}:
	case <-l.done:
		<-l.g.room
		c.Close()
		return
	}
	l.g.running.Add(1)
	tc := tls.Server(&helloConn{Conn: c, hello: hello}, l.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), l.g.c.HandshakeTimeout)
	err = tc.HandshakeContext(ctx)
	cancel()
	l.g.running.Add(-1)
	<-l.g.slots
	<-l.g.room
	if err != nil {
		l.g.fail(failureReason(err), c, err)
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

// Close stops accepting; handshakes under way are dropped when they end, and connections
// awaiting their hello are woken to close now.
func (l *gatedListener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.inner.Close()
		l.g.wakeIdle()
	})
	return err
}

func (l *gatedListener) Addr() net.Addr { return l.inner.Addr() }

// trackedConn gives its source's place back when closed.
type trackedConn struct {
	net.Conn
	leave func() // nil when not counted
	once  sync.Once
}

func (c *trackedConn) Close() error {
	if c.leave != nil {
		c.once.Do(c.leave)
	}
	return c.Conn.Close()
}

// helloConn reads the ClientHello record read ahead, then the connection.
type helloConn struct {
	net.Conn
	hello []byte
}

func (c *helloConn) Read(b []byte) (int, error) {
	if len(c.hello) > 0 {
		n := copy(b, c.hello)
		c.hello = c.hello[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// errNotClientHello: the first bytes are not a TLS record holding a ClientHello.
var errNotClientHello = errors.New("tls: the first record is not a ClientHello")

// maxHelloRecord is the largest TLS plaintext record (RFC 8446 section 5.1: 2^14 bytes).
const maxHelloRecord = 1 << 14

// readHello reads the first TLS record from r and returns it whole, header included, when it
// is a handshake record (RFC 8446 section 5.1: type 22, legacy version 3.x, a length up to
// 2^14) whose first message is a ClientHello (type 1). It reads no byte beyond that record.
func readHello(r io.Reader) ([]byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(hdr[3])<<8 | int(hdr[4])
	if hdr[0] != 22 || hdr[1] != 3 || n < 4 || n > maxHelloRecord {
		return nil, errNotClientHello
	}
	rec := make([]byte, 5+n)
	copy(rec, hdr[:])
	if _, err := io.ReadFull(r, rec[5:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if rec[5] != 1 {
		return nil, errNotClientHello
	}
	return rec, nil
}
