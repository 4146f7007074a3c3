package makerstatus

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchFleet is one maker with a CRL of 100,000 entries served over loopback, and 100,000
// devices of which half are on it.
type benchFleet struct {
	g       *goMaker
	src     Source
	devices []Device
	size    int
}

const benchN = 100_000

func newBenchFleet(b *testing.B) *benchFleet {
	b.Helper()
	g := newGoMaker(b)
	now := time.Now()
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(24 * time.Hour)}
	tmpl.RevokedCertificateEntries = make([]x509.RevocationListEntry, benchN)
	for i := range benchN {
		// Serials of 16 random-looking octets, as real CAs issue; entry i is device i.
		s := new(big.Int).Lsh(big.NewInt(int64(i+1)), 96)
		tmpl.RevokedCertificateEntries[i] = x509.RevocationListEntry{SerialNumber: s, RevocationTime: now.Add(-time.Hour), ReasonCode: 1}
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, g.issuer.cert, g.issuer.key)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fleet.crl"), der, 0o644); err != nil {
		b.Fatal(err)
	}
	l := listen(b)
	serve(b, l, http.FileServer(http.Dir(dir)))
	f := &benchFleet{g: g, src: Source{KindCRL, "http://" + l.Addr().String() + "/fleet.crl"}, size: len(der)}
	// Devices benchN/2 .. 3*benchN/2: the first half of them are revoked.
	for i := benchN / 2; i < benchN/2+benchN; i++ {
		f.devices = append(f.devices, Device{IssuerID: "acme", Serial: new(big.Int).Lsh(big.NewInt(int64(i+1)), 96)})
	}
	return f
}

// BenchmarkWatcherRefresh100k measures one full round for one maker: fetch the 100,000-entry
// CRL over loopback, verify and index it, check 100,000 devices and report the 50,000 revoked.
func BenchmarkWatcherRefresh100k(b *testing.B) {
	f := newBenchFleet(b)
	ck := newChecker(b, Config{MaxCRLBytes: 16 << 20})
	issuers := []Issuer{{ID: "acme", Cert: f.g.issuer.cert, CRLs: []Source{f.src}}}
	devices := func(yield func(Device) bool) {
		for _, d := range f.devices {
			if !yield(d) {
				return
			}
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		reported := 0
		w, err := NewWatcher(WatcherConfig{Checker: ck, Jitter: time.Nanosecond, OnRevoked: func(context.Context, RevokedDevice) error {
			reported++
			return nil
		}})
		if err != nil {
			b.Fatal(err)
		}
		s := w.Refresh(context.Background(), issuers, devices)
		if s.CRLs[OK] != 1 || s.ByCRL != benchN || s.Revoked != benchN/2 || reported != benchN/2 {
			b.Fatalf("round: %+v, %d reported", s, reported)
		}
	}
	b.ReportMetric(float64(f.size), "crl_bytes")
}

// BenchmarkCRLLookup measures one device's lookup in a held 100,000-entry CRL.
func BenchmarkCRLLookup(b *testing.B) {
	f := newBenchFleet(b)
	ck := newChecker(b, Config{MaxCRLBytes: 16 << 20})
	doc, err := ck.crl(context.Background(), f.src, f.g.issuer.cert, true)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		doc.lookup(f.devices[i%len(f.devices)].Serial)
		i++
	}
}

// BenchmarkCheckHeldCRL measures Checker.Check for one device certificate against a held
// 100,000-entry CRL: the device signature check and the lookup.
func BenchmarkCheckHeldCRL(b *testing.B) {
	f := newBenchFleet(b)
	ck := newChecker(b, Config{MaxCRLBytes: 16 << 20})
	q := Query{Device: f.g.device, Issuer: f.g.issuer.cert, Sources: []Source{f.src}}
	if r, err := ck.Check(context.Background(), q); err != nil || r.Status != Good {
		b.Fatalf("%+v %v", r, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ck.Check(context.Background(), q); err != nil {
			b.Fatal(err)
		}
	}
}
