package app

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkHostileLoad measures what a legitimate client waits for during the attacks of issue
// 22, on a dev server in this process with the default limits: each iteration makes a new
// connection for GET /healthz, one for an authenticated POST /v1/challenges and one for EST
// cacerts (each pays its TLS handshake), and reports their median, 99th percentile and worst
// latency in milliseconds, and attack-held-min, the fewest attacking connections the server
// held at a sample (every 100 iterations: awaiting their hello, or EST requests in flight).
// Scenarios:
//
//   - quiet: no attack;
//   - idle: 300 TCP connections to the API port and 300 to the EST port that never send a
//     byte, from 127.0.0.2, .3 and .4 (100 each, under the per-source cap), reopened as the
//     server closes them;
//   - slow-bodies: 70 connections to EST with a real factory certificate of the deployment,
//     from 127.0.0.2, each sending ten bytes of a declared 60 KB simpleenroll body, reopened
//     as the server answers them 408.
//
// Attackers and the client share the process and its CPUs, so the figures are upper bounds.
// Run:
//
//	go test -run '^$' -bench HostileLoad -benchtime 700x ./internal/app/
//
// (at most 768 iterations: see challengers below).
func BenchmarkHostileLoad(b *testing.B) {
	for _, sc := range []string{"quiet", "idle", "slow-bodies"} {
		b.Run(sc, func(b *testing.B) {
			s := startDev(b, "")
			ctx, cancel := context.WithCancel(context.Background())
			var attackers sync.WaitGroup
			defer func() { cancel(); attackers.Wait() }()
			switch sc {
			case "idle":
				for _, l := range []string{s.info.APIURL, s.info.ESTURL} {
					addr := hostPort(b, l)
					for i := range 300 {
						attackers.Add(1)
						go func() {
							defer attackers.Done()
							hold(ctx, fmt.Sprintf("127.0.0.%d", 2+i%3), addr, nil)
						}()
					}
				}
			case "slow-bodies":
				cert := benchFactory(b, s)
				addr := hostPort(b, s.info.ESTURL)
				for range 70 {
					attackers.Add(1)
					go func() {
						defer attackers.Done()
						hold(ctx, "127.0.0.2", addr, &cert)
					}()
				}
			}
			time.Sleep(time.Second) // the attack in place
			c := s.timedClient(30 * time.Second)
			body := challengeBody(b, s)
			var healthz, challenge, cacerts []time.Duration
			timed := func(out *[]time.Duration, req *http.Request, want int) {
				start := time.Now()
				res, err := c.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != want {
					b.Fatalf("%s %s: %d", req.Method, req.URL.Path, res.StatusCode)
				}
				*out = append(*out, time.Since(start))
			}
			// What the server holds of the attack, sampled every 100 iterations.
			var held []float64
			sample := func() {
				fams := scrapeMetrics(b, s.info.MetricsURL)
				var n float64
				for _, l := range []string{"api", "est"} {
					v, _ := metricValue(fams, "hallmark_tls_connections_awaiting_hello", map[string]string{"listener": l})
					n += v
				}
				if sc == "slow-bodies" {
					n, _ = metricValue(fams, "hallmark_http_requests_in_flight", map[string]string{"listener": "est"})
				}
				held = append(held, n)
			}
			// One principal may hold 256 live challenges (limits.challenges): the three of
			// the operator take turns, which allows 768 iterations in five minutes.
			challengers := []string{oscar, olivia, admin}
			i := 0
			for b.Loop() {
				if i == 256*len(challengers) {
					b.Fatalf("at most %d iterations: each principal holds at most 256 live challenges", i)
				}
				if i%100 == 0 {
					b.StopTimer()
					sample()
					b.StartTimer()
				}
				i++
				timed(&healthz, newReq(b, "GET", s.info.APIURL+"/healthz", nil, nil), 200)
				who := challengers[i%len(challengers)]
				timed(&challenge, s.authed(b, who, newReq(b, "POST", s.info.APIURL+"/v1/challenges", body, map[string]string{"Content-Type": "application/json"})), 201)
				timed(&cacerts, newReq(b, "GET", s.info.ESTURL+"/cacerts", nil, nil), 200)
			}
			b.ReportMetric(slices.Min(held), "attack-held-min")
			for _, m := range []struct {
				name string
				d    []time.Duration
			}{{"healthz", healthz}, {"challenge", challenge}, {"cacerts", cacerts}} {
				slices.Sort(m.d)
				ms := func(q float64) float64 {
					return float64(m.d[min(len(m.d)-1, int(q*float64(len(m.d))))]) / float64(time.Millisecond)
				}
				b.ReportMetric(ms(0.5), m.name+"-p50-ms")
				b.ReportMetric(ms(0.99), m.name+"-p99-ms")
				b.ReportMetric(ms(1), m.name+"-max-ms")
			}
		})
	}
}

// hold keeps one attacking connection from the local IP from to addr until ctx ends: idle
// (cert nil) or a slow EST body (cert set); when the server closes or answers it, it opens
// the next.
func hold(ctx context.Context, from, addr string, cert *tls.Certificate) {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	for ctx.Err() == nil {
		var (
			c   net.Conn
			err error
		)
		if cert == nil {
			c, err = d.DialContext(ctx, "tcp", addr)
		} else {
			c, err = slowEnroll(d, addr, *cert)
		}
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		stop := context.AfterFunc(ctx, func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(time.Minute))
		if cert == nil {
			_, _ = c.Read(make([]byte, 1))
		} else if res, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
			res.Body.Close()
		}
		stop()
		c.Close()
	}
}

// benchFactory issues a factory identity in the dev seed's model as the contract manufacturer
// would (a lot, a CSR on a key made here, a build record) and returns it as a TLS client
// certificate.
func benchFactory(b *testing.B, s *devServer) tls.Certificate {
	b.Helper()
	call := func(who, method, path string, body any, want int, out any) {
		var rd io.Reader
		if body != nil {
			j, _ := json.Marshal(body)
			rd = bytes.NewReader(j)
		}
		req := s.authed(b, who, newReq(b, method, s.info.APIURL+path, nil, map[string]string{"Content-Type": "application/json"}))
		if rd != nil {
			req.Body = io.NopCloser(rd)
		}
		res, err := s.http.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			b.Fatalf("%s %s: %d %s", method, path, res.StatusCode, raw)
		}
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				b.Fatal(err)
			}
		}
	}
	var cas, models items
	call(alice, "GET", "/v1/cas", nil, 200, &cas)
	call(alice, "GET", "/v1/models?manufacturer=acme", nil, 200, &models)
	issuing := ""
	for _, c := range cas.Items {
		if c.Role == "issuing" {
			issuing = c.ID
		}
	}
	var lot item
	call(alice, "POST", "/v1/lots", map[string]any{"model_id": models.Items[0].ID, "name": "lot-bench", "line": "line-a", "issuing_ca_id": issuing, "delegate_to": "fabrikam"}, 201, &lot)
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "SN-BENCH"}}, k)
	if err != nil {
		b.Fatal(err)
	}
	var fi factoryIdentity
	call(station, "POST", "/v1/lots/"+lot.ID+"/devices", map[string]any{"csr": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})),
		"build_record": record("SN-BENCH", "lot-bench")}, 201, &fi)
	blk, _ := pem.Decode([]byte(fi.CertificatePEM))
	if blk == nil {
		b.Fatalf("no certificate in %q", fi.CertificatePEM)
	}
	return tls.Certificate{Certificate: [][]byte{blk.Bytes}, PrivateKey: k}
}
