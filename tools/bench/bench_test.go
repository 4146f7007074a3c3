package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// Fields after the command name: state, ppid, pgrp, session, tty, tpgid, flags, minflt,
	// cminflt, majflt, cmajflt, utime (11), stime (12), ...
	tests := []struct {
		name, stat string
		want       time.Duration
		wantErr    bool
	}{
		{"plain", "42 (hallmark) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0", 3250 * time.Millisecond, false},
		{"name with spaces and parentheses", "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0", 70 * time.Millisecond, false},
		{"no command name", "42 hallmark S 1", 0, true},
		{"too few fields", "42 (x) S 1 2 3", 0, true},
		{"not a number", "42 (x) S 1 42 42 0 -1 0 0 0 0 0 ab 4 0 0", 0, true},
		{"negative", "42 (x) S 1 42 42 0 -1 0 0 0 0 0 -5 4 0 0", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU(tc.stat)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// The real /proc/self/stat parses, and CPU spent shows up in it.
func TestProcessCPUOfSelf(t *testing.T) {
	before, err := processCPU(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	sum := sha256.Sum256(nil)
	after := before
	for after-before < 20*time.Millisecond && time.Now().Before(deadline) {
		for range 10000 {
			sum = sha256.Sum256(sum[:])
		}
		if after, err = processCPU(os.Getpid()); err != nil {
			t.Fatal(err)
		}
	}
	if after-before < 20*time.Millisecond {
		t.Errorf("5 s of hashing added %v of CPU time", after-before)
	}
	if _, err := procStatusBytes(os.Getpid(), "VmHWM"); err != nil {
		t.Errorf("VmHWM of this process: %v", err)
	}
}

func TestParseStatusField(t *testing.T) {
	status := "Name:\tbench\nVmPeak:\t  900 kB\nVmHWM:\t   12345 kB\nVmRSS:\t  100 kB\nThreads:\t7\n"
	if got, err := parseStatusField(status, "VmHWM"); err != nil || got != 12345*1024 {
		t.Errorf("VmHWM = %d, %v; want %d", got, err, 12345*1024)
	}
	for _, field := range []string{"VmSwap", "Threads", "Vm"} {
		if _, err := parseStatusField(status, field); err == nil {
			t.Errorf("%s: no error", field)
		}
	}
	if _, err := parseStatusField("VmHWM:\t-3 kB\n", "VmHWM"); err == nil {
		t.Error("a negative size: no error")
	}
}

func TestPercentileAndMedian(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		out := make([]time.Duration, len(xs))
		for i, x := range xs {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.99, 0},
		{"one", ms(7), 0.99, 7 * time.Millisecond},
		{"p99 of 1..100 is 99", ms(hundred...), 0.99, 99 * time.Millisecond},
		{"p50 of 1..100 is 50", ms(hundred...), 0.50, 50 * time.Millisecond},
		{"p100 is the largest", ms(1, 2, 3), 1, 3 * time.Millisecond},
	}
	for _, tc := range tests {
		if got := percentile(tc.sorted, tc.q); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := median([]float64{5, 1, 3}); got != 3 {
		t.Errorf("median of 5, 1, 3 = %v", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of 4, 1, 3, 2 = %v", got)
	}
	if got := median[float64](nil); got != 0 {
		t.Errorf("median of nothing = %v", got)
	}
}

// testChain makes a root and a leaf for key, signed by the root.
func testChain(t testing.TB, key *ecdsa.PrivateKey) (root, leaf *x509.Certificate) {
	t.Helper()
	rk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rt := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test root"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	rder, err := x509.CreateCertificate(rand.Reader, rt, rt, &rk.PublicKey, rk)
	if err != nil {
		t.Fatal(err)
	}
	root, _ = x509.ParseCertificate(rder)
	lt := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "dev-1"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	lder, err := x509.CreateCertificate(rand.Reader, lt, root, &key.PublicKey, rk)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ = x509.ParseCertificate(lder)
	return root, leaf
}

// certsOnly encodes a degenerate CMS SignedData holding certs (RFC 5652 section 5.1), as an
// EST server answers.
func certsOnly(t testing.TB, certs ...*x509.Certificate) []byte {
	t.Helper()
	var raw []byte
	for _, c := range certs {
		raw = append(raw, c.Raw...)
	}
	sd, err := asn1.Marshal(struct {
		Version          int
		DigestAlgorithms asn1.RawValue
		EncapContentInfo struct{ Type asn1.ObjectIdentifier }
		Certificates     asn1.RawValue
		SignerInfos      asn1.RawValue
	}{
		Version:          1,
		DigestAlgorithms: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true},
		EncapContentInfo: struct{ Type asn1.ObjectIdentifier }{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}},
		Certificates:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: raw},
		SignerInfos:      asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue
	}{oidSignedData, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sd}})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestParseCertsOnly(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	root, leaf := testChain(t, key)
	got, err := parseCertsOnly(certsOnly(t, root, leaf))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Equal(root) || !got[1].Equal(leaf) {
		t.Fatalf("got %d certificates, not the root and leaf in order", len(got))
	}
	// The issued certificate goes first in the TLS identity, whatever the answer's order.
	id, err := identity(got, key)
	if err != nil {
		t.Fatal(err)
	}
	if !id.Leaf.Equal(leaf) || len(id.Certificate) != 2 || !bytes.Equal(id.Certificate[1], root.Raw) {
		t.Error("identity does not put the key's certificate first")
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := identity(got, other); err == nil {
		t.Error("identity accepted an answer with no certificate for the key")
	}

	bad := map[string][]byte{
		"empty":          nil,
		"not DER":        []byte("hello"),
		"trailing data":  append(certsOnly(t, leaf), 0),
		"no certificate": certsOnly(t),
		"a certificate":  leaf.Raw,
	}
	for name, der := range bad {
		if _, err := parseCertsOnly(der); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// openssl's certs-only output (an implementation nobody here wrote) parses the same.
func TestParseCertsOnlyFromOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl is not installed")
		}
		t.Skip("openssl is not installed")
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	root, leaf := testChain(t, key)
	dir := t.TempDir()
	in := filepath.Join(dir, "chain.pem")
	if err := os.WriteFile(in, append(pemCert(leaf), pemCert(root)...), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "crl2pkcs7", "-nocrl", "-certfile", in, "-outform", "DER").Output()
	if err != nil {
		t.Fatalf("openssl crl2pkcs7: %v", err)
	}
	got, err := parseCertsOnly(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Equal(leaf) || !got[1].Equal(root) {
		t.Errorf("got %d certificates, want the leaf and the root", len(got))
	}
}

func FuzzParseCertsOnly(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	root, leaf := testChain(f, key)
	f.Add(certsOnly(f, leaf, root))
	f.Add(certsOnly(f))
	f.Add(leaf.Raw)
	f.Add([]byte{0x30, 0x03, 0x06, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		certs, err := parseCertsOnly(der)
		if err == nil && len(certs) == 0 {
			t.Error("no error and no certificate")
		}
	})
}

func TestTokenAndJWK(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw, _ := key.Bytes()
	enc := base64.RawURLEncoding
	jwk, _ := json.Marshal(map[string]string{"kty": "EC", "crv": "P-256", "kid": "k1", "x": enc.EncodeToString(key.X.FillBytes(make([]byte, 32))),
		"y": enc.EncodeToString(key.Y.FillBytes(make([]byte, 32))), "d": enc.EncodeToString(raw)})
	got, kid, err := parseJWK(jwk)
	if err != nil || kid != "k1" || !got.Equal(key) {
		t.Fatalf("parseJWK: %v, kid %q", err, kid)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var m map[string]string
	_ = json.Unmarshal(jwk, &m)
	m["x"] = enc.EncodeToString(other.X.FillBytes(make([]byte, 32)))
	mismatched, _ := json.Marshal(m)
	if _, _, err := parseJWK(mismatched); err == nil {
		t.Error("parseJWK accepted an x that is not d's")
	}

	s := &stepCA{url: "https://127.0.0.1:9000", prov: "bench", kid: kid, key: got}
	now := time.Unix(1_800_000_000, 0)
	tok, err := s.token("bench-r1-c4-000001", now)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	sig, _ := enc.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if len(sig) != 64 || !ecdsa.Verify(&key.PublicKey, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		t.Fatal("the token's ES256 signature does not verify with the provisioner key")
	}
	var hdr map[string]string
	var claims struct {
		Iss, Sub, Aud, Jti string
		Sans               []string
		Nbf, Exp           int64
	}
	h, _ := enc.DecodeString(parts[0])
	c, _ := enc.DecodeString(parts[1])
	if err := json.Unmarshal(h, &hdr); err != nil || hdr["alg"] != "ES256" || hdr["kid"] != "k1" {
		t.Errorf("header %s (%v)", h, err)
	}
	if err := json.Unmarshal(c, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.Iss != "bench" || claims.Sub != "bench-r1-c4-000001" || claims.Aud != "https://127.0.0.1:9000/1.0/sign" ||
		len(claims.Sans) != 1 || claims.Sans[0] != claims.Sub || claims.Nbf != now.Unix() || claims.Exp <= claims.Nbf || len(claims.Jti) != 32 {
		t.Errorf("claims %s", c)
	}
	tok2, _ := s.token("bench-r1-c4-000001", now)
	if tok2 == tok {
		t.Error("two tokens for one subject are the same: the jti must differ")
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-rounds", "2", "-clients", "4, 16,4", "-n", "50", "-servers", "hallmark,cfssl"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.rounds != 2 || len(o.clients) != 2 || o.clients[1] != 16 || o.requests != 50 || len(o.servers) != 2 {
		t.Errorf("got %+v", o)
	}
	q, err := parseFlags([]string{"-quick", "-rounds", "5"}, io.Discard)
	if err != nil || q.rounds != 1 || len(q.clients) != 1 || q.requests != 20 {
		t.Errorf("-quick: %+v, %v", q, err)
	}
	for _, args := range [][]string{{"-clients", "0"}, {"-clients", "4,x"}, {"-servers", "boulder"}, {"-rounds", "0"}, {"-n", "0"}, {"extra"}} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func TestRotate(t *testing.T) {
	s := []server{&hallmark{}, &stepCA{}, &cfssl{}}
	for r, want := range []string{"hallmark step-ca cfssl", "step-ca cfssl hallmark", "cfssl hallmark step-ca", "hallmark step-ca cfssl"} {
		var names []string
		for _, x := range rotate(s, r) {
			names = append(names, x.name())
		}
		if got := strings.Join(names, " "); got != want {
			t.Errorf("round %d: %s, want %s", r, got, want)
		}
	}
}

func TestCPUModel(t *testing.T) {
	info := "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
	if m, n := cpuModel(info); m != "AMD EPYC 7B13" || n != 2 {
		t.Errorf("got %q, %d", m, n)
	}
	if m, _ := cpuModel(""); !strings.HasPrefix(m, "unknown") {
		t.Errorf("no cpuinfo: %q", m)
	}
}

// The report states each figure, Hallmark's ratio to each peer from the same run, says
// which scenario a peer does not support, and gives each server's whole-run CPU per
// certificate.
func TestWriteReport(t *testing.T) {
	lat := func(ms int) []time.Duration {
		out := make([]time.Duration, 100)
		for i := range out {
			out[i] = time.Duration(ms) * time.Millisecond
		}
		return out
	}
	cell := func(server string, sc scenario, ok int, cpu time.Duration, p99ms int) result {
		return result{server: server, sc: sc, round: 1, clients: 4, position: 1, ok: ok, elapsed: time.Second, cpu: cpu,
			peakRSS: 64 << 20, peakReset: true, lat: lat(p99ms)}
	}
	results := []result{
		cell("hallmark", factory, 500, time.Second, 20), cell("step-ca", factory, 1000, time.Second, 10), cell("cfssl", factory, 2000, time.Second, 5),
		cell("hallmark", renew, 300, 900*time.Millisecond, 30), cell("step-ca", renew, 600, 600*time.Millisecond, 15),
		{server: "cfssl", sc: renew, round: 1, clients: 4, unsupported: true},
	}
	info := runInfo{started: time.Now(), cpuModel: "Test CPU", cpus: 2, rounds: 1, clients: []int{4}, requests: 100, warmup: 10, commit: "abc1234",
		servers:  []server{&hallmark{conn: "TLS 1.3"}, &stepCA{conn: "TLS 1.3"}, &cfssl{conn: "TLS 1.3"}},
		wholeRun: map[string]wholeRunCPU{"hallmark": {cpu: time.Second, certs: 800}, "step-ca": {cpu: 1200 * time.Millisecond, certs: 1600}}}
	var b strings.Builder
	writeReport(&b, info, results)
	out := b.String()
	for _, want := range []string{
		"Test CPU, 2 logical CPUs",
		"commit abc1234",
		"| 4 | hallmark | 500.0 | 20.0 ms | 20.0 ms | 2.00 | 64 MiB | 500 | 0 | 0 |",
		"| 4 | step-ca | 0.50× | 2.00× | 2.00× | 1.00× |", // factory: half the rate, twice the p99 and CPU per cert
		"| 4 | cfssl | 0.25× | 4.00× | 4.00× | 1.00× |",
		"| 4 | step-ca | 0.50× | 2.00× | 3.00× | 1.00× |", // renewal: 3.0 vs 1.0 CPU-ms per cert
		"| 4 | cfssl | no such endpoint | | | |",
		// whole run: 1.25 ms a certificate against step-ca's 0.75; cfssl was not read
		"| hallmark | 1.00 s | 800 | 1.25 |  |",
		"| step-ca | 1.20 s | 1600 | 0.75 | 1.67× |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q\n%s", want, out)
		}
	}
	if strings.Contains(out, "Smoke run") {
		t.Error("a full run is labelled a smoke run")
	}
}

// TestQuickSmoke runs `-quick` end to end: it builds hallmark, installs the peers (or reuses
// them) and needs a few minutes, so it runs only with HALLMARK_BENCH_SMOKE=1. CI does not run
// it: this module is outside the root module's `go test ./...`.
func TestQuickSmoke(t *testing.T) {
	if os.Getenv("HALLMARK_BENCH_SMOKE") != "1" {
		t.Skip("set HALLMARK_BENCH_SMOKE=1 to run the harness end to end")
	}
	o, err := parseFlags([]string{"-quick"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var report strings.Builder
	results, err := run(ctx, o, &report, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range results {
		name := r.server + " " + shortName(r.sc)
		seen[name] = true
		switch {
		case r.server == "cfssl" && r.sc == renew:
			if !r.unsupported {
				t.Errorf("%s: measured, but cfssl has no renewal", name)
			}
		case r.ok != o.requests || r.failed != 0:
			t.Errorf("%s: %d ok, %d failed (first error: %s)", name, r.ok, r.failed, r.firstErr)
		case r.peakRSS <= 0:
			// (CPU time comes in 10 ms ticks: 20 cheap requests may not reach one.)
			t.Errorf("%s: no peak RSS measured", name)
		}
	}
	if len(seen) != 9 {
		t.Errorf("%d server-scenario cells, want 9: %v", len(seen), seen)
	}
	if !strings.Contains(report.String(), "Smoke run") {
		t.Error("the quick report is not labelled a smoke run")
	}
}

// CPU time comes in 10 ms ticks: a cell that used none shows an upper bound, not zero.
func TestFmtCPU(t *testing.T) {
	for _, tc := range []struct {
		perCert float64
		certs   int
		want    string
	}{{1.234, 20, "1.23"}, {0, 20, "< 0.50"}, {0, 0, "—"}} {
		if got := fmtCPU(tc.perCert, tc.certs); got != tc.want {
			t.Errorf("fmtCPU(%v, %d) = %q, want %q", tc.perCert, tc.certs, got, tc.want)
		}
	}
}
