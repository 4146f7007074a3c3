package status

import (
	"bytes"
	"context"
	"crypto"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/store"
)

// BenchmarkRespondUnknown is the responder's own work for a serial it never issued, which a
// cache cannot save: parse, find the CA, miss the cache, look the serial up in SQLite, sign
// (and store in the unknown tier). Building each request is counted too. Compare
// BenchmarkRespondCached.
func BenchmarkRespondUnknown(b *testing.B) {
	f := newFixture(b)
	f.svc.Respond(ctx, "", request(b, f.issuing.Cert, crypto.SHA1, randomSerial(), nil)) // the responder, issued once
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if der, _ := f.svc.Respond(ctx, "", request(b, f.issuing.Cert, crypto.SHA1, randomSerial(), nil)); len(der) < 100 {
				b.Fatalf("answer %x", der)
			}
		}
	})
}

// BenchmarkOCSPUnderFlood measures a legitimate client's cached OCSP request (POST over
// HTTP/1.1 on loopback, one at a time on a keep-alive connection) while the same server is
// flooded, and reports its p50 and p99 latency:
//
//	go test -run '^$' -bench BenchmarkOCSPUnderFlood -benchtime 2000x ./internal/status/
//
// quiet: no flood. ocsp-flood: 4 clients ask without pause about random serials of the CA
// (each a cache miss, a look-up and a signature). crl-flood: 4 clients fetch without pause
// the full CRL of the partitioned CA (10,000 revoked certificates, 490 KB) while a
// certificate is held or released every 50 ms, so the CRL is always out of date; the
// defaults apply (FullCRLMinGap 1 minute). both: the two floods at once. Each reports the
// flood's own rate and, for the CRL floods, the full CRL builds during the run.
func BenchmarkOCSPUnderFlood(b *testing.B) {
	f := newPartitionedFixture(b)
	seedRevoked(b, f, 0, 10_000, func(i int) int { return i % 16 })
	good := f.issue(b)
	var toggled []*big.Int
	for i := 0; i < 20; i++ {
		toggled = append(toggled, f.issue(b).SerialNumber)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := f.svc.Start(runCtx); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(f.svc.Handler())
	defer srv.Close()
	req := request(b, f.issuing.Cert, crypto.SHA1, good.SerialNumber, nil)
	f.svc.Respond(ctx, "", req)
	crlURL := srv.URL + "/crl/" + f.issuing.ID + ".crl"
	if _, err := f.svc.CRL(ctx, f.issuing.ID); err != nil {
		b.Fatal(err)
	}

	ocspFlood := func(stop <-chan struct{}, n *atomic.Int64) {
		client := &http.Client{Timeout: 30 * time.Second}
		for {
			select {
			case <-stop:
				return
			default:
			}
			res, err := client.Post(srv.URL+"/ocsp", "application/ocsp-request", bytes.NewReader(request(b, f.issuing.Cert, crypto.SHA1, randomSerial(), nil)))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			n.Add(1)
		}
	}
	crlFlood := func(stop <-chan struct{}, n *atomic.Int64) {
		client := &http.Client{Timeout: 30 * time.Second}
		for {
			select {
			case <-stop:
				return
			default:
			}
			res, err := client.Get(crlURL)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			n.Add(1)
		}
	}
	tick := 0 // holds and releases go on across the sub-benchmarks, one goroutine at a time
	changes := func(stop <-chan struct{}, _ *atomic.Int64) {
		for ; ; tick++ {
			i := tick
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			serial := toggled[i%len(toggled)]
			err := f.st.Update(ctx, func(tx store.Tx) error {
				var err error
				if i/len(toggled)%2 == 0 {
					err = tx.Certificates().Revoke(serial, 6, time.Now())
				} else {
					err = tx.Certificates().Unhold(serial)
				}
				if err != nil {
					return err
				}
				_, err = tx.Audit().Append(ev("bench.change"))
				return err
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	}
	type flood struct {
		fn func(<-chan struct{}, *atomic.Int64)
		n  int
	}
	for _, tc := range []struct {
		name   string
		floods []flood
	}{
		{"quiet", nil},
		{"ocsp-flood", []flood{{ocspFlood, 4}}},
		{"crl-flood", []flood{{crlFlood, 4}, {changes, 1}}},
		{"both", []flood{{ocspFlood, 4}, {crlFlood, 4}, {changes, 1}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var flooded atomic.Int64
			before := f.svc.Stats()
			for _, fl := range tc.floods {
				for i := 0; i < fl.n; i++ {
					wg.Add(1)
					go func() { defer wg.Done(); fl.fn(stop, &flooded) }()
				}
			}
			client := &http.Client{Timeout: 30 * time.Second}
			var lat []time.Duration
			start := time.Now()
			for b.Loop() {
				t0 := time.Now()
				res, err := client.Post(srv.URL+"/ocsp", "application/ocsp-request", bytes.NewReader(req))
				if err != nil {
					b.Fatal(err)
				}
				der, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if len(der) < 100 {
					b.Fatalf("answer %x", der)
				}
				lat = append(lat, time.Since(t0))
			}
			elapsed := time.Since(start)
			close(stop)
			wg.Wait()
			after := f.svc.Stats()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(flooded.Load())/elapsed.Seconds(), "flood-req/s")
			b.ReportMetric(float64(after.FullCRLBuilds-before.FullCRLBuilds), "full-crl-builds")
		})
	}
}
