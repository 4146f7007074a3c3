package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// devReadyWait bounds how long serve --dev waits for its listeners before saying so.
const devReadyWait = 30 * time.Second

// ReadyLine is the start of the one line serve --dev prints on stdout once its API and EST
// listeners complete TLS handshakes: scripts and people wait for it.
const ReadyLine = "hallmark dev server ready:"

// announceDevReady prints ReadyLine with the API, EST and console URLs once a TLS handshake
// (verified against the dev TLS CA in caFile) succeeds on both listeners, or a warning on
// stderr when one does not within devReadyWait. It returns when ctx ends or it has printed.
func announceDevReady(ctx context.Context, stdout, stderr io.Writer, info DevInfo, apiAddr, estAddr, caFile string) {
	pem, err := os.ReadFile(caFile)
	pool := x509.NewCertPool()
	if err != nil || !pool.AppendCertsFromPEM(pem) {
		fmt.Fprintf(stderr, "hallmark: dev: cannot read the dev TLS CA %s to check the listeners: %v\n", caFile, err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, devReadyWait)
	defer cancel()
	for _, addr := range []string{apiAddr, estAddr} {
		if err := handshakeUntil(ctx, addr, pool); err != nil {
			if ctx.Err() == context.DeadlineExceeded {
				fmt.Fprintf(stderr, "hallmark: dev: %s accepted no TLS handshake within %s: %v\n", addr, devReadyWait, err)
			}
			return
		}
	}
	fmt.Fprintf(stdout, "%s api %s/v1  est %s  console %s/ui/\n", ReadyLine, info.APIURL, info.ESTURL, info.APIURL)
}

// handshakeUntil dials addr and completes a TLS handshake, retrying every 20 ms until it
// succeeds or ctx ends (each try bounded by 2 s).
func handshakeUntil(ctx context.Context, addr string, pool *x509.CertPool) error {
	host, _, _ := net.SplitHostPort(addr)
	for {
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second}, Config: &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12}}
		tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c, err := d.DialContext(tctx, "tcp", addr)
		cancel()
		if err == nil {
			return c.Close()
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}
