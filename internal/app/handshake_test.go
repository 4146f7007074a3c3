package app

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// selfSignedTLS makes a throwaway ECDSA certificate for 127.0.0.1.
func selfSignedTLS(t *testing.T) (*x509.Certificate, tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gate test"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}
}

// gatedServer serves "ok" (and whether the request came over TLS) over a gated listener on
// loopback, and returns its address and a client trusting it.
func gatedServer(t *testing.T, g *handshakeGate) (string, *http.Client) {
	t.Helper()
	ca, leaf := selfSignedTLS(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || !r.TLS.HandshakeComplete {
			http.Error(w, "no TLS state", 500)
			return
		}
		io.WriteString(w, "ok")
	}), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(g.listener(ln, &tls.Config{Certificates: []tls.Certificate{leaf}})) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve after Shutdown: %v", err)
		}
	})
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return ln.Addr().String(), &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("gave up waiting: %s", what)
}

// quietGate is a gate for tests: bound handshakes, the given timeouts, no log.
func quietGate(handshakes int, hello, handshake time.Duration) *handshakeGate {
	return newHandshakeGate(gateConfig{Listener: "test", Handshakes: handshakes, HelloTimeout: hello, HandshakeTimeout: handshake, Log: slog.New(slog.DiscardHandler)})
}

// clientHello is the first record a Go TLS client sends: a real ClientHello.
func clientHello(t testing.TB) []byte {
	t.Helper()
	cli, srv := net.Pipe()
	defer srv.Close()
	go func() {
		c := tls.Client(cli, &tls.Config{ServerName: "example.com"})
		_ = c.Handshake()
		c.Close()
	}()
	_ = srv.SetDeadline(time.Now().Add(5 * time.Second))
	rec, err := readHello(srv)
	if err != nil {
		t.Fatalf("capturing a ClientHello: %v", err)
	}
	return rec
}

// dialFrom connects to addr from the local IP from (127.0.0.1 when empty).
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// stallAfterHello connects to addr, sends a whole ClientHello and nothing more: it holds a
// handshake slot until the handshake timeout.
func stallAfterHello(t *testing.T, addr string, hello []byte) net.Conn {
	t.Helper()
	c := dialFrom(t, "", addr)
	if _, err := c.Write(hello); err != nil {
		t.Fatal(err)
	}
	return c
}

// closedByServer reports whether the server closed c within d (a read ends in EOF or reset).
func closedByServer(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

func get(client *http.Client, addr string) error {
	res, err := client.Get("https://" + addr + "/")
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || string(body) != "ok" {
		return errors.New(res.Status + ": " + string(body))
	}
	return nil
}

func TestHandshakeGateHoldsConnectionsBeyondTheBound(t *testing.T) {
	g := quietGate(2, 10*time.Second, 10*time.Second)
	addr, client := gatedServer(t, g)
	hello := clientHello(t)

	if err := get(client, addr); err != nil {
		t.Fatalf("first request: %v", err)
	}
	waitFor(t, "the first handshake's slot back", func() bool { return g.InFlight() == 0 })

	// Two clients that say hello and then nothing hold both slots.
	stalled := []net.Conn{stallAfterHello(t, addr, hello), stallAfterHello(t, addr, hello)}
	waitFor(t, "two handshakes in flight", func() bool { return g.InFlight() == 2 })

	done := make(chan error, 1)
	go func() { done <- get(client, addr) }()
	select {
	case err := <-done:
		t.Fatalf("a third handshake ran while two were in flight (bound 2): %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if g.Queued() != 1 {
		t.Errorf("queued = %d, want the third", g.Queued())
	}
	stalled[0].Close() // its handshake fails, and frees the slot the third one waits for
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("third request: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the third request never got a slot")
	}
	waitFor(t, "the failed handshake counted", func() bool { return g.Failures()["client_closed"] == 1 })
	if n := g.InFlight(); n != 1 {
		t.Errorf("handshakes in flight = %d, want 1 (the stalled client left)", n)
	}
}

// TestHandshakeGateIdleConnectionsHoldNoSlot: connections that send nothing, or a few bytes of
// a ClientHello, hold no slot: with one slot, requests are served among fifty of them, and
// each is closed after the hello timeout.
func TestHandshakeGateIdleConnectionsHoldNoSlot(t *testing.T) {
	g := newHandshakeGate(gateConfig{Listener: "test", Handshakes: 1, HelloTimeout: 1500 * time.Millisecond, MaxIdle: 100, Log: slog.New(slog.DiscardHandler)})
	addr, client := gatedServer(t, g)
	hello := clientHello(t)
	var idle []net.Conn
	for i := range 50 {
		c := dialFrom(t, "", addr)
		if i%2 == 1 {
			if _, err := c.Write(hello[:3]); err != nil { // the start of a record
				t.Fatal(err)
			}
		}
		idle = append(idle, c)
	}
	waitFor(t, "fifty connections awaiting their hello", func() bool { return g.Idle() == 50 })
	start := time.Now()
	for range 3 {
		if err := get(client, addr); err != nil {
			t.Fatalf("a request among idle connections: %v", err)
		}
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("three requests among idle connections took %s, want them served before the idle ones time out (1.5s)", d)
	}
	for _, c := range idle {
		if !closedByServer(c, 10*time.Second) {
			t.Fatal("an idle connection is still open after the hello timeout")
		}
	}
	waitFor(t, "fifty hello timeouts", func() bool { return g.Failures()["hello_timeout"] == 50 && g.Idle() == 0 })
}

func TestHandshakeGateTimesOutStalledHandshakes(t *testing.T) {
	g := quietGate(1, 10*time.Second, 200*time.Millisecond)
	addr, client := gatedServer(t, g)
	c := stallAfterHello(t, addr, clientHello(t))
	waitFor(t, "the stalled handshake to time out", func() bool { return g.Failures()["timeout"] == 1 && g.InFlight() == 0 })
	if !closedByServer(c, 5*time.Second) {
		t.Error("the timed-out connection is still open")
	}
	if err := get(client, addr); err != nil {
		t.Fatalf("after the timeout the slot serves others: %v", err)
	}
}

// TestHandshakeGatePerSource: a source (here 127.0.0.2) holds at most PerSource connections;
// the next is closed at once and counted, others are served, a closed connection gives its
// place back, and an exempt source is not counted.
func TestHandshakeGatePerSource(t *testing.T) {
	g := newHandshakeGate(gateConfig{Listener: "test", Handshakes: 4, PerSource: 3, Log: slog.New(slog.DiscardHandler)})
	addr, client := gatedServer(t, g)
	var held []net.Conn
	for range 3 {
		held = append(held, dialFrom(t, "127.0.0.2", addr))
	}
	waitFor(t, "three connections of 127.0.0.2 awaiting their hello", func() bool { return g.Idle() == 3 })
	extra := dialFrom(t, "127.0.0.2", addr)
	if !closedByServer(extra, 5*time.Second) {
		t.Fatal("the fourth connection of one source was not closed")
	}
	if n := g.Failures()["source_cap"]; n != 1 {
		t.Fatalf("source_cap = %d, want 1", n)
	}
	if err := get(client, addr); err != nil { // from 127.0.0.1
		t.Fatalf("another source: %v", err)
	}
	held[0].Close()
	waitFor(t, "the closed connection's place back", func() bool { return g.Idle() == 2 })
	again := dialFrom(t, "127.0.0.2", addr)
	if closedByServer(again, 300*time.Millisecond) {
		t.Fatal("a connection within the bound was closed")
	}

	ex := newHandshakeGate(gateConfig{Listener: "test", Handshakes: 4, PerSource: 1, Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")},
		Log: slog.New(slog.DiscardHandler)})
	exAddr, _ := gatedServer(t, ex)
	for range 3 {
		dialFrom(t, "127.0.0.2", exAddr)
	}
	waitFor(t, "three connections of an exempt source", func() bool { return ex.Idle() == 3 })
	dialFrom(t, "127.0.0.3", exAddr)
	if c := dialFrom(t, "127.0.0.3", exAddr); !closedByServer(c, 5*time.Second) {
		t.Fatal("the second connection of a counted source (bound 1) was not closed")
	}
}

// TestHandshakeGateEvictsLongestIdle: beyond 4 × the slots awaiting their hello, the one
// waiting longest is closed.
func TestHandshakeGateEvictsLongestIdle(t *testing.T) {
	g := quietGate(1, 10*time.Second, 10*time.Second)
	addr, client := gatedServer(t, g)
	first := dialFrom(t, "", addr)
	waitFor(t, "the first awaiting its hello", func() bool { return g.Idle() == 1 })
	for range 4 {
		dialFrom(t, "", addr)
	}
	if !closedByServer(first, 5*time.Second) {
		t.Fatal("the longest waiting connection was not evicted")
	}
	waitFor(t, "the eviction counted", func() bool { return g.Failures()["idle_evicted"] == 1 && g.Idle() == 4 })
	if err := get(client, addr); err != nil { // evicts another idle one on its way in
		t.Fatal(err)
	}
}

// TestHandshakeFailureReasons: a client that does not speak TLS and one whose certificate does
// not verify are counted apart.
func TestHandshakeFailureReasons(t *testing.T) {
	g := quietGate(4, 10*time.Second, 10*time.Second)
	_, leaf := selfSignedTLS(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	trusted := x509.NewCertPool() // trusts no client
	gl := g.listener(ln, &tls.Config{Certificates: []tls.Certificate{leaf}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: trusted})
	defer gl.Close()
	go func() { // nothing comes out: every handshake fails
		for {
			c, err := gl.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	plain, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	io.WriteString(plain, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	waitFor(t, "the plain-HTTP client counted", func() bool { return g.Failures()["protocol"] == 1 })

	_, stranger := selfSignedTLS(t)
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{stranger}})
	if err == nil {
		c.Read(make([]byte, 1)) // TLS 1.3: the server's refusal arrives after the client's Finished
		c.Close()
	}
	waitFor(t, "the unverified client certificate counted", func() bool { return g.Failures()["client_certificate"] == 1 })
	if n := g.Failed(); n != 2 {
		t.Errorf("failed handshakes = %d, want 2 (%v)", n, g.Failures())
	}
}

// FuzzReadHello: readHello never panics, never reads beyond the record it returns, and
// returns only a handshake record holding a ClientHello. Seeds: a real ClientHello, plain
// HTTP, and cut or odd records.
func FuzzReadHello(f *testing.F) {
	hello := clientHello(f)
	f.Add(hello)
	f.Add(hello[:5])
	f.Add(hello[:len(hello)-1])
	f.Add(append(append([]byte{}, hello...), 0x17, 3, 3, 0, 1, 0))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte{22, 3, 1, 0x40, 0x01, 1})
	f.Add([]byte{22, 3, 1, 0, 4, 2, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		rec, err := readHello(r)
		if err != nil {
			if rec != nil {
				t.Fatal("a record with an error")
			}
			return
		}
		n := int(rec[3])<<8 | int(rec[4])
		if len(rec) != 5+n || n > maxHelloRecord || rec[0] != 22 || rec[5] != 1 || !bytes.Equal(rec, data[:len(rec)]) {
			t.Fatalf("record %x from %x", rec, data)
		}
		if r.Len() != len(data)-len(rec) {
			t.Fatalf("read %d bytes beyond the record", len(data)-len(rec)-r.Len())
		}
	})
}
