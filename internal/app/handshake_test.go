package app

import (
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
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("gave up waiting: %s", what)
}

func TestHandshakeGateHoldsConnectionsBeyondTheBound(t *testing.T) {
	g := newHandshakeGate(2, 10*time.Second, slog.New(slog.DiscardHandler))
	addr, client := gatedServer(t, g)

	get := func() error {
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
	if err := get(); err != nil {
		t.Fatalf("first request: %v", err)
	}
	waitFor(t, "the first handshake's slot back", func() bool { return g.InFlight() == 0 })

	// Two clients that connect and never say hello hold both slots.
	var silent []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	waitFor(t, "two handshakes in flight", func() bool { return g.InFlight() == 2 })

	done := make(chan error, 1)
	go func() { done <- get() }()
	select {
	case err := <-done:
		t.Fatalf("a third handshake ran while two were in flight (bound 2): %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	silent[0].Close() // its handshake fails, and frees the slot the third one waits for
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
		t.Errorf("handshakes in flight = %d, want 1 (the silent client left)", n)
	}
}

func TestHandshakeGateTimesOutSilentClients(t *testing.T) {
	g := newHandshakeGate(1, 200*time.Millisecond, slog.New(slog.DiscardHandler))
	addr, client := gatedServer(t, g)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, "the silent handshake to time out", func() bool { return g.Failures()["timeout"] == 1 && g.InFlight() == 0 })
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("the timed-out connection is still open")
	}
	res, err := client.Get("https://" + addr + "/")
	if err != nil {
		t.Fatalf("after the timeout the slot serves others: %v", err)
	}
	res.Body.Close()
}

// TestHandshakeFailureReasons: a client that does not speak TLS and one whose certificate does
// not verify are counted apart.
func TestHandshakeFailureReasons(t *testing.T) {
	g := newHandshakeGate(4, 10*time.Second, slog.New(slog.DiscardHandler))
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
