package makerstatus

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/hallmark-id/hallmark/internal/chainverify"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/manifest"
)

// observed records every fetch an Observer is told of.
type observed struct {
	mu  sync.Mutex
	all []Outcome
}

func (o *observed) Fetched(_ Source, out Outcome, _ time.Duration, _ error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.all = append(o.all, out)
}

func (o *observed) last() Outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.all) == 0 {
		return ""
	}
	return o.all[len(o.all)-1]
}

func newChecker(t testing.TB, c Config) *Checker {
	t.Helper()
	ck, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return ck
}

func check(t testing.TB, ck *Checker, dev, issuer *x509.Certificate, sources ...Source) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := ck.Check(ctx, Query{Device: dev, Issuer: issuer, Sources: sources})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func outcomes(r Result) []Outcome {
	var out []Outcome
	for _, p := range r.Problems {
		out = append(out, p.Outcome)
	}
	return out
}

// TestForeignMakerCertificates checks the openssl-made maker itself: its IDevIDs chain to
// its root under chainverify, carry a hardwareModuleName, and name the loopback sources.
func TestForeignMakerCertificates(t *testing.T) {
	m := newMaker(t)
	for i, dev := range m.devices {
		if _, err := chainverify.Verify(dev, chainverify.Options{Anchors: []*x509.Certificate{m.root}, Intermediates: []*x509.Certificate{m.inter}, Now: time.Now()}); err != nil {
			t.Errorf("device %d: %v", i, err)
		}
		typ, serial, err := issuance.ParseHardwareModuleName(dev)
		if err != nil || typ.String() != hwType || string(serial) != m.serials[i] {
			t.Errorf("device %d: hardwareModuleName %v %q %v", i, typ, serial, err)
		}
		srcs, errs := SourcesOf(dev)
		want := []Source{{KindCRL, m.crlURL}, {KindOCSP, m.ocspURL}}
		if !slices.Equal(srcs, want) || len(errs) != 0 {
			t.Errorf("device %d: SourcesOf = %v %v, want %v", i, srcs, errs, want)
		}
	}
}

// TestForeignMakerStatus checks devices of the openssl maker through its CRL and its OCSP
// responder, and that every bad answer changes nothing.
func TestForeignMakerStatus(t *testing.T) {
	m := newMaker(t)
	obs := &observed{}
	ck := newChecker(t, Config{Observer: obs, OCSPTimeout: 2 * time.Second})
	crl, ocsp := Source{KindCRL, m.crlURL}, Source{KindOCSP, m.ocspURL}
	good, revoked := m.devices[0], m.devices[1]

	t.Run("good device, both sources", func(t *testing.T) {
		r := check(t, ck, good, m.inter)
		if r.Status != Good || len(r.Evidence) != 2 || len(r.Problems) != 0 {
			t.Fatalf("result = %+v", r)
		}
		// openssl ocsp reads the clock once for thisUpdate and again for nextUpdate (-nmin 60),
		// so on a loaded machine the two can straddle a second: seen once under -race.
		if e := r.Evidence[1]; e.Source != ocsp || e.Status != Good || !e.Nonce || e.NextUpdate.Sub(e.ThisUpdate) < time.Hour || e.NextUpdate.Sub(e.ThisUpdate) > time.Hour+2*time.Second {
			t.Errorf("OCSP evidence = %+v; want good, nonce echoed, nextUpdate 60 minutes on (up to 2 s more)", e)
		}
		if ok, err := r.Decide(FailClosed); !ok || err != nil {
			t.Errorf("Decide = %v, %v", ok, err)
		}
	})
	t.Run("revoked via CRL", func(t *testing.T) {
		r := check(t, ck, revoked, m.inter, crl)
		if r.Status != Revoked || r.Revocation.Reason != 1 || len(r.Evidence) != 1 || r.Evidence[0].Source != crl {
			t.Fatalf("result = %+v", r)
		}
		ok, err := r.Decide(FailOpen)
		if ok || !failure.Is(err, failure.Denied) || !strings.Contains(err.Error(), "keyCompromise") || !strings.Contains(err.Error(), m.crlURL) {
			t.Errorf("Decide = %v, %v", ok, err)
		}
	})
	t.Run("revoked via OCSP", func(t *testing.T) {
		before := m.OCSPRequests.Load()
		r := check(t, ck, revoked, m.inter, ocsp)
		if r.Status != Revoked || r.Revocation.Reason != 1 || !r.Evidence[0].Nonce {
			t.Fatalf("result = %+v", r)
		}
		// Cached until nextUpdate: asking again does not reach the responder.
		if again := check(t, ck, revoked, m.inter, ocsp); again.Status != Revoked || m.OCSPRequests.Load() != before+1 {
			t.Errorf("second check: %v, %d requests", again.Status, m.OCSPRequests.Load()-before)
		}
	})
	t.Run("OCSP by GET", func(t *testing.T) {
		get := newChecker(t, Config{OCSPGet: true})
		if r := check(t, get, m.devices[2], m.inter, ocsp); r.Status != Good {
			t.Fatalf("result = %+v", r)
		}
	})
	t.Run("a certificate the responder does not know", func(t *testing.T) {
		// Issued with the intermediate's key, outside openssl's index.
		blk, _ := pem.Decode(readFile(t, m.path("inter.key")))
		key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		stray := issue(t, &ca{cert: m.inter, key: key.(*ecdsa.PrivateKey)}, leafTemplate("stray", x509.ExtKeyUsageClientAuth))
		r := check(t, ck, stray.cert, m.inter, ocsp)
		if r.Status != Unknown || len(r.Evidence) != 1 || r.Evidence[0].Status != Unknown || !strings.Contains(r.Err().Error(), "does not know") {
			t.Fatalf("result = %+v, %v", r, r.Err())
		}
		if ok, _ := r.Decide(FailClosed); ok {
			t.Error("fail-closed allowed a certificate the responder does not know")
		}
	})
	t.Run("unreachable responder", func(t *testing.T) {
		l := listen(t)
		dead := Source{KindOCSP, "http://" + l.Addr().String() + "/ocsp"}
		l.Close()
		r := check(t, ck, good, m.inter, dead)
		if r.Status != Unknown || !slices.Equal(outcomes(r), []Outcome{Unreachable}) {
			t.Fatalf("result = %+v", r)
		}
		if ok, err := r.Decide(FailClosed); ok || !failure.Is(err, failure.Unavailable) || !strings.Contains(err.Error(), "fail-closed") {
			t.Errorf("fail-closed: %v, %v", ok, err)
		}
		if ok, warn := r.Decide(FailOpen); !ok || warn == nil || !strings.Contains(warn.Error(), "unreachable") {
			t.Errorf("fail-open: %v, %v", ok, warn)
		}
		// With a good CRL beside it, the device is good and the responder a warning.
		if r := check(t, ck, good, m.inter, crl, dead); r.Status != Good || len(r.Problems) != 1 {
			t.Errorf("with the CRL: %+v", r)
		}
	})
	t.Run("responder that never answers", func(t *testing.T) {
		l := listen(t) // accepts connections (the kernel does) and never answers
		slow := newChecker(t, Config{OCSPTimeout: 300 * time.Millisecond})
		started := time.Now()
		r := check(t, slow, good, m.inter, Source{KindOCSP, "http://" + l.Addr().String()})
		if r.Status != Unknown || !slices.Equal(outcomes(r), []Outcome{Unreachable}) || !strings.Contains(r.Err().Error(), "no answer within 300ms") {
			t.Fatalf("result = %+v, %v", r, r.Err())
		}
		if d := time.Since(started); d > 10*time.Second {
			t.Errorf("the timeout did not bound the exchange: %s", d)
		}
	})

	// Each bad CRL in turn is served in place of the good one; a forced refresh reports it
	// and the CRL held (which lists the revoked device) stays in use.
	held := func(t *testing.T) {
		t.Helper()
		if r := check(t, ck, revoked, m.inter, crl); r.Status != Revoked || len(r.Problems) != 0 {
			t.Fatalf("after a bad CRL: %+v", r)
		}
		if r := check(t, ck, good, m.inter, crl); r.Status != Good {
			t.Fatalf("after a bad CRL: %+v", r)
		}
	}
	refresh := func(t *testing.T, want Outcome, msg string) {
		t.Helper()
		doc, err := ck.crl(context.Background(), crl, m.inter, true)
		if err == nil || err.Outcome != want || !strings.Contains(err.Error(), msg) || doc == nil {
			t.Fatalf("refresh: %v, doc %v; want %s (%q) and the held CRL", err, doc != nil, want, msg)
		}
		if obs.last() != want {
			t.Errorf("observer saw %s, want %s", obs.last(), want)
		}
	}
	// An empty CRL (nothing revoked) would clear the revoked device if it were taken.
	emptyIndex := func(t *testing.T, extra ...string) []byte {
		t.Helper()
		saved, err := os.ReadFile(m.path("index.txt"))
		if err != nil {
			t.Fatal(err)
		}
		write(t, m.path("index.txt"), "")
		defer write(t, m.path("index.txt"), string(saved))
		return m.makeCRL(extra...)
	}
	t.Run("stale CRL changes nothing", func(t *testing.T) {
		m.publish("inter.crl", emptyIndex(t, "-crl_lastupdate", "20250101000000Z", "-crl_nextupdate", "20250108000000Z"))
		refresh(t, Stale, "nextUpdate 2025-01-08T00:00:00Z has passed")
		held(t)
	})
	t.Run("CRL signed by the wrong key changes nothing", func(t *testing.T) {
		m.publish("inter.crl", m.makeCRL("-name", "impostor"))
		refresh(t, BadSignature, "not signed by")
		held(t)
		// A cold checker refuses it too, and fails closed.
		cold := newChecker(t, Config{})
		r := check(t, cold, good, m.inter, crl)
		if r.Status != Unknown || !slices.Equal(outcomes(r), []Outcome{BadSignature}) {
			t.Fatalf("cold: %+v", r)
		}
		if ok, _ := r.Decide(FailClosed); ok {
			t.Error("fail-closed allowed a device with no status")
		}
	})
	t.Run("50 MB CRL refused without reading it", func(t *testing.T) {
		big, err := os.Create(m.path("served/inter.crl.big"))
		if err != nil {
			t.Fatal(err)
		}
		if err := big.Truncate(50 << 20); err != nil { // sparse: costs no disk
			t.Fatal(err)
		}
		big.Close()
		if err := os.Rename(m.path("served/inter.crl.big"), m.path("served/inter.crl")); err != nil {
			t.Fatal(err)
		}
		refresh(t, Oversized, "not read")
		held(t)
		if st := stateOf(ck, crl); st.Outcome != Oversized || !st.Gap(time.Now()) || !strings.Contains(st.Err, "Content-Length 52428800") {
			t.Errorf("state = %+v", st)
		} else if st.FailingSince.IsZero() || !st.FailingSince.Before(st.LastAttempt) || st.FailingSince.Before(st.LastOK) {
			t.Errorf("after failures in a row, FailingSince = %v; want the first of them, after the last OK %v and before the last attempt %v", st.FailingSince, st.LastOK, st.LastAttempt)
		}
		// Without a Content-Length the body is counted while read and dropped past the limit.
		stream := Source{KindCRL, m.base + "/stream/inter.crl"}
		_, serr := ck.crl(context.Background(), stream, m.inter, true)
		if serr == nil || serr.Outcome != Oversized || !strings.Contains(serr.Error(), "dropped after 10485761") {
			t.Fatalf("streamed: %v", serr)
		}
		// The server may have written what socket buffers hold beyond the limit, not 50 MB.
		time.Sleep(100 * time.Millisecond)
		if n := m.Streamed.Load(); n > 30<<20 {
			t.Errorf("the server wrote %d bytes: the client read on past the limit", n)
		}
	})
	t.Run("a good CRL replaces the held one", func(t *testing.T) {
		m.publishCRL("inter.crl")
		if doc, err := ck.crl(context.Background(), crl, m.inter, true); err != nil || len(doc.entries) != 1 {
			t.Fatalf("refresh: %v", err)
		}
		held(t)
		st := stateOf(ck, crl)
		if st.Gap(time.Now()) || st.HeldEntries != 1 || st.Failures != 3 || !st.FailingSince.IsZero() {
			t.Errorf("state = %+v", st)
		}
	})
}

func stateOf(ck *Checker, src Source) SourceState {
	for _, s := range ck.Sources() {
		if s.Source == src {
			return s
		}
	}
	return SourceState{}
}

// TestForeignMakerWatcher refreshes the openssl maker's fleet: the CRL covers its devices,
// OCSP those of an issuer registered without CRLs, and each revoked device is reported once.
func TestForeignMakerWatcher(t *testing.T) {
	m := newMaker(t)
	ck := newChecker(t, Config{})
	var mu sync.Mutex
	var got []string
	fail := true
	w, err := NewWatcher(WatcherConfig{Checker: ck, Jitter: time.Millisecond, OnRevoked: func(_ context.Context, r RevokedDevice) error {
		mu.Lock()
		defer mu.Unlock()
		if fail { // the first report fails, so it must come again
			fail = false
			return errors.New("store unavailable")
		}
		got = append(got, fmt.Sprintf("%s/%x/%d/%s", r.IssuerID, r.Serial, r.Revocation.Reason, r.Evidence.Source.Kind))
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	ocsp := []Source{{KindOCSP, m.ocspURL}}
	devices := func(issuerID string) func(func(Device) bool) {
		return func(yield func(Device) bool) {
			for _, d := range m.devices {
				if !yield(Device{IssuerID: issuerID, Serial: d.SerialNumber, CRLURLs: d.CRLDistributionPoints, OCSP: ocsp}) {
					return
				}
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	withCRL := []Issuer{{ID: "acme", Cert: m.inter, CRLs: []Source{{KindCRL, m.crlURL}}}}
	want := fmt.Sprintf("acme/%x/1/crl", m.devices[1].SerialNumber)
	for round, w1 := range []struct{ reported, errors int }{{0, 1}, {1, 0}, {0, 0}} {
		s := w.Refresh(ctx, withCRL, devices("acme"))
		if s.Devices != 3 || s.ByCRL != 3 || s.Revoked != 1 || s.Reported != w1.reported || s.CallbackErrors != w1.errors || s.CRLs[OK] != 1 {
			t.Fatalf("round %d: %+v", round, s)
		}
	}
	if !slices.Equal(got, []string{want}) {
		t.Fatalf("reported %v, want %v", got, want)
	}
	// An issuer without CRLs: every device goes to OCSP.
	onlyOCSP := []Issuer{{ID: "acme-ocsp", Cert: m.inter}}
	s := w.Refresh(ctx, onlyOCSP, devices("acme-ocsp"))
	if s.ByOCSP != 3 || s.ByCRL != 0 || s.Revoked != 1 || s.Reported != 1 || s.OCSP[OK] != 3 {
		t.Fatalf("OCSP round: %+v", s)
	}
	// The next periodic round answers from the cache (the answers carry a nextUpdate an hour
	// on); a FreshOCSP watcher on the same checker (hallmark maker check) asks again for each.
	asked := m.OCSPRequests.Load()
	if s := w.Refresh(ctx, onlyOCSP, devices("acme-ocsp")); s.ByOCSP != 3 || s.Revoked != 1 || m.OCSPRequests.Load() != asked {
		t.Fatalf("a second OCSP round: %+v, %d requests to the responder, want none", s, m.OCSPRequests.Load()-asked)
	}
	fresh, err := NewWatcher(WatcherConfig{Checker: ck, Jitter: time.Millisecond, FreshOCSP: true, OnRevoked: func(context.Context, RevokedDevice) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if s := fresh.Refresh(ctx, onlyOCSP, devices("acme-ocsp")); s.ByOCSP != 3 || s.Revoked != 1 || m.OCSPRequests.Load() != asked+3 {
		t.Fatalf("a fresh OCSP round: %+v, %d requests to the responder, want 3", s, m.OCSPRequests.Load()-asked)
	}
	// A device of an unregistered issuer, and one whose responder is down, are gaps.
	l := listen(t)
	dead := []Source{{KindOCSP, "http://" + l.Addr().String()}}
	l.Close()
	gaps := func(yield func(Device) bool) {
		_ = yield(Device{IssuerID: "nobody", Serial: big.NewInt(7)}) &&
			yield(Device{IssuerID: "acme-ocsp", Serial: big.NewInt(8), OCSP: dead})
	}
	if s := w.Refresh(ctx, onlyOCSP, gaps); s.Unknown != 2 || s.OCSP[Unreachable] != 1 {
		t.Fatalf("gaps round: %+v", s)
	}
}

// TestForeignMakerManifest checks the openssl maker's devices against a manifest the maker
// signed with openssl (DSSE over a payload listing the SPKI digests openssl computed), then
// against an unsigned CSV: a device not listed is refused, naming the rule.
func TestForeignMakerManifest(t *testing.T) {
	m := newMaker(t)
	m.openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "manifest.key")
	m.openssl("pkey", "-in", "manifest.key", "-pubout", "-out", "manifest.pub")
	var devices []string
	for i := range 2 { // devices 1 and 2 are listed; device 3 is not
		n := fmt.Sprint(i + 1)
		m.openssl("x509", "-in", "dev"+n+".pem", "-pubkey", "-noout", "-out", "dev"+n+".pub")
		m.openssl("pkey", "-pubin", "-in", "dev"+n+".pub", "-outform", "DER", "-out", "dev"+n+".spki")
		digest := strings.Fields(m.openssl("dgst", "-sha256", "-r", "dev"+n+".spki"))[0]
		devices = append(devices, fmt.Sprintf(`{"serial":%q,"spkiSha256":%q}`, m.serials[i], digest))
	}
	payload := `{"manifestType":"` + manifest.DocumentType + `","maker":"Acme Sensors","issuedAt":"2026-12-01T00:00:00Z","devices":[` + strings.Join(devices, ",") + `]}`
	write(t, m.path("pae"), string(dsse.PAE(manifest.PayloadType, []byte(payload))))
	m.openssl("dgst", "-sha256", "-sign", "manifest.key", "-out", "manifest.sig", "pae")
	sig, err := os.ReadFile(m.path("manifest.sig"))
	if err != nil {
		t.Fatal(err)
	}
	env, _ := json.Marshal(dsse.Envelope{PayloadType: manifest.PayloadType, Payload: base64.StdEncoding.EncodeToString([]byte(payload)),
		Signatures: []dsse.Signature{{KeyID: "acme-manifest-2026", Sig: base64.StdEncoding.EncodeToString(sig)}}})
	pub, err := os.ReadFile(m.path("manifest.pub"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := manifest.ParseKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := manifest.VerifyDSSE(env, []manifest.Key{key}, "Acme Sensors", manifest.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	csv, err := manifest.ParseCSV([]byte("serial\n"+m.serials[2]+"\n"), manifest.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		set  *manifest.Set
		dev  int
		rule string
	}{
		{signed, 0, ""}, {signed, 1, ""}, {signed, 2, manifest.RuleNotListed},
		{csv, 2, ""}, {csv, 0, manifest.RuleNotListed},
	} {
		dev := m.devices[tc.dev]
		_, hwSerial, err := issuance.ParseHardwareModuleName(dev)
		if err != nil {
			t.Fatal(err)
		}
		err = tc.set.Check(string(hwSerial), sha256.Sum256(dev.RawSubjectPublicKeyInfo))
		var nl *manifest.NotListed
		switch {
		case tc.rule == "" && err != nil:
			t.Errorf("%s device %d: %v", tc.set.Format, tc.dev+1, err)
		case tc.rule != "" && (!errors.As(err, &nl) || nl.Rule != tc.rule || !failure.Is(err, failure.Denied) || !strings.Contains(err.Error(), m.serials[tc.dev])):
			t.Errorf("%s device %d: %v, want a refusal by rule %s", tc.set.Format, tc.dev+1, err, tc.rule)
		}
	}
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
