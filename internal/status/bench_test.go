package status

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/store"
)

// seedRevoked adds revoked certificate records of the fixture's CA until it has n, in
// batches of one transaction each (records only: the CRL needs serial, time and reason).
// The i-th record goes in CRL partition part(i), or 0 when part is nil.
func seedRevoked(b *testing.B, f *fixture, have, n int, part func(i int) int) {
	b.Helper()
	now := time.Now()
	reasons := []int{1, 4, 5, 6}
	for have < n {
		batch := min(50_000, n-have)
		err := f.st.Update(ctx, func(tx store.Tx) error {
			for i := 0; i < batch; i++ {
				s := make([]byte, 16)
				_, _ = rand.Read(s)
				s[0] &= 0x7f
				serial := new(big.Int).SetBytes(s)
				c := ca.Cert{Serial: serial, CAID: f.issuing.ID, Profile: "factory", TBS: []byte{0}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour), CreatedAt: now}
				if part != nil {
					c.CRLPartition = part(have + i)
				}
				if err := tx.Certificates().Reserve(c); err != nil {
					return err
				}
				if err := tx.Certificates().MarkIssued(serial, []byte{0}, now); err != nil {
					return err
				}
				if err := tx.Certificates().Revoke(serial, reasons[i%len(reasons)], now.Add(-time.Duration(i)*time.Second)); err != nil {
					return err
				}
			}
			_, err := tx.Audit().Append(ev("bench.seed"))
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		have += batch
	}
}

// BenchmarkCRLFromStore measures a whole CRL build of one CA from SQLite: the index scan of
// its revoked certificates, the CRL number, the hand encoding, the sample lint, the signature
// and the parse-and-verify check.
//
//	go test -run '^$' -bench BenchmarkCRLFromStore -benchtime 3x ./internal/status/
//
// The 1,000,000 case seeds for a few minutes; it runs only with HALLMARK_BENCH_1M=1.
func BenchmarkCRLFromStore(b *testing.B) {
	f := newFixture(b)
	sizes := []int{10_000, 100_000}
	if os.Getenv("HALLMARK_BENCH_1M") != "" {
		sizes = append(sizes, 1_000_000)
	}
	have := 0
	cs := f.svc.caByID(f.issuing.ID)
	for _, n := range sizes {
		seedRevoked(b, f, have, n, nil)
		have = n
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var doc *crlDoc
			for b.Loop() {
				var err error
				cs.crl.builtAt.Store(0)
				if doc, err = f.svc.buildCRL(ctx, cs, &cs.crl); err != nil {
					b.Fatal(err)
				}
			}
			if doc.entries != n {
				b.Fatalf("%d entries, want %d", doc.entries, n)
			}
			b.ReportMetric(float64(len(doc.der)), "crl-bytes")
		})
	}
}

// BenchmarkPartitionCRLFromStore measures partition CRL builds from SQLite, each the whole
// cycle of BenchmarkCRLFromStore plus the issuingDistributionPoint:
//
//	go test -run '^$' -bench BenchmarkPartitionCRLFromStore -benchtime 3x ./internal/status/
//
// partition-100000 is one partition holding 100,000 revoked certificates (the most a
// partition should hold): the cost of a revocation under a partitioned CA. With
// HALLMARK_BENCH_1M=1, all-16-of-1000000 spreads 1,000,000 revoked certificates over 16
// partitions and builds every partition one after the other (the hourly cost), reporting the
// smallest and largest partition CRL; full-1000000 is the same CA's full CRL.
func BenchmarkPartitionCRLFromStore(b *testing.B) {
	build := func(b *testing.B, f *fixture, cr *crlState) *crlDoc {
		cr.builtAt.Store(0)
		doc, err := f.svc.buildCRL(ctx, f.svc.caByID(f.issuing.ID), cr)
		if err != nil {
			b.Fatal(err)
		}
		return doc
	}
	b.Run("partition-100000", func(b *testing.B) {
		f := newPartitionedFixture(b)
		seedRevoked(b, f, 0, 100_000, func(int) int { return 5 })
		cs := f.svc.caByID(f.issuing.ID)
		var doc *crlDoc
		for b.Loop() {
			doc = build(b, f, &cs.parts[5])
		}
		if doc.entries != 100_000 {
			b.Fatalf("%d entries, want 100000", doc.entries)
		}
		b.ReportMetric(float64(len(doc.der)), "crl-bytes")
	})
	if os.Getenv("HALLMARK_BENCH_1M") == "" {
		return
	}
	const n = 1_000_000
	f := newPartitionedFixture(b)
	seedRevoked(b, f, 0, n, func(i int) int { return i % 16 })
	cs := f.svc.caByID(f.issuing.ID)
	b.Run("all-16-of-1000000", func(b *testing.B) {
		sizes := make([]int, len(cs.parts))
		total := 0
		for b.Loop() {
			total = 0
			for p := range cs.parts {
				doc := build(b, f, &cs.parts[p])
				sizes[p] = len(doc.der)
				total += doc.entries
			}
		}
		if total != n {
			b.Fatalf("%d entries in all partitions, want %d", total, n)
		}
		b.ReportMetric(float64(slices.Min(sizes)), "min-crl-bytes")
		b.ReportMetric(float64(slices.Max(sizes)), "max-crl-bytes")
	})
	b.Run("full-1000000", func(b *testing.B) {
		var doc *crlDoc
		for b.Loop() {
			doc = build(b, f, &cs.crl)
		}
		if doc.entries != n {
			b.Fatalf("%d entries, want %d", doc.entries, n)
		}
		b.ReportMetric(float64(len(doc.der)), "crl-bytes")
	})
}

// BenchmarkRespondCached is the responder's own work for a cached answer (parse, find the
// CA, look up the cache), without HTTP.
func BenchmarkRespondCached(b *testing.B) {
	f := newFixture(b)
	c := f.issue(b)
	req := request(b, f.issuing.Cert, crypto.SHA1, c.SerialNumber, nil)
	want, _ := f.svc.Respond(ctx, "", req)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if got, _ := f.svc.Respond(ctx, "", req); len(got) != len(want) {
				b.Fatal("not the cached answer")
			}
		}
	})
}

// BenchmarkOCSPLoopback is cached answers over HTTP/1.1 on loopback: 32 keep-alive clients
// POST the same request; it reports answers per second, p50 and p99 latency, and the CPU time
// of the whole process (clients included, so an upper bound for the server) per answer.
func BenchmarkOCSPLoopback(b *testing.B) {
	f := newFixture(b)
	certs := []*big.Int{}
	for i := 0; i < 8; i++ {
		certs = append(certs, f.issue(b).SerialNumber)
	}
	srv := httptest.NewServer(f.svc.Handler())
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	reqs := make([][]byte, len(certs))
	for i, s := range certs {
		reqs[i] = request(b, f.issuing.Cert, crypto.SHA1, s, nil)
		f.svc.Respond(ctx, "", reqs[i]) // warm the cache
	}
	var mu sync.Mutex
	var lat []time.Duration
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	b.SetParallelism(16) // 16 × GOMAXPROCS(2) = 32 clients
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		i := 0
		for pb.Next() {
			i++
			t0 := time.Now()
			res, err := client.Post(srv.URL+"/ocsp", "application/ocsp-request", bytes.NewReader(reqs[i%len(reqs)]))
			if err != nil {
				b.Error(err)
				return
			}
			var buf [2048]byte
			n, _ := res.Body.Read(buf[:])
			for {
				if _, err := res.Body.Read(buf[:]); err != nil {
					break
				}
			}
			res.Body.Close()
			if n < 100 {
				b.Errorf("short answer %x", buf[:n])
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "answers/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(len(lat)), "cpu-ms/answer")
}

// BenchmarkOCSPRate5000 offers a fixed 5,000 cached requests per second for 5 seconds over
// loopback (open loop: latency is measured from each request's scheduled time, so queueing
// counts) and reports p50, p99 and the process CPU per answer. Run it with -benchtime 1x.
func BenchmarkOCSPRate5000(b *testing.B) {
	const rate, dur = 5000, 5 * time.Second
	f := newFixture(b)
	c := f.issue(b)
	req := request(b, f.issuing.Cert, crypto.SHA1, c.SerialNumber, nil)
	f.svc.Respond(ctx, "", req)
	srv := httptest.NewServer(f.svc.Handler())
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	for b.Loop() {
		n := int(dur.Seconds() * rate)
		due := make(chan time.Time, n)
		lat := make([]time.Duration, 0, n)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := 0; w < 64; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				for at := range due {
					res, err := client.Post(srv.URL+"/ocsp", "application/ocsp-request", bytes.NewReader(req))
					if err != nil {
						b.Error(err)
						continue
					}
					var buf [1024]byte
					for {
						if _, err := res.Body.Read(buf[:]); err != nil {
							break
						}
					}
					res.Body.Close()
					mine = append(mine, time.Since(at))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
		}
		var ru0, ru1 syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		start := time.Now()
		for i := 0; i < n; i++ {
			at := start.Add(time.Duration(i) * time.Second / rate)
			time.Sleep(time.Until(at))
			due <- at
		}
		close(due)
		wg.Wait()
		elapsed := time.Since(start)
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		slices.Sort(lat)
		cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "answers/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(len(lat)), "cpu-ms/answer")
	}
}
