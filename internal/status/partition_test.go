package status

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"io"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/hallmark-id/hallmark/internal/authority"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/store"
)

const testBase = "http://status.example"

// issueDevice issues a certificate of the fixture's CA for deviceID, living life, with the
// status URLs a device certificate carries, and returns it with its recorded partition.
func (f *fixture) issueDevice(t testing.TB, deviceID string, life time.Duration) (*x509.Certificate, int) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, crl := f.svc.c.URLs.For(f.issuing, deviceID)
	tmpl, err := issuance.TLSServerTemplate(issuance.TLSServerParams{DNSNames: []string{"device.example"}, PublicKey: k.Public(),
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(life)})
	if err != nil {
		t.Fatal(err)
	}
	tmpl.CRLDistributionPoints = crl // the TLS server profile takes no status URLs; the CRL checks need one
	c, err := f.auth.Issue(ctx, f.issuing, issuance.ProfileTLSServer, tmpl, deviceID, func(tx store.Tx, _ *x509.Certificate) error {
		_, err := tx.Audit().Append(ev("cert.issue"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var rec ca.Cert
	if err := f.st.View(ctx, func(tx store.Tx) (err error) { rec, err = tx.Certificates().GetCert(c.SerialNumber); return err }); err != nil {
		t.Fatal(err)
	}
	if want := ca.DevicePartition(deviceID, f.issuing.CRLPartitions); rec.CRLPartition != want {
		t.Fatalf("device %s: certificate recorded in partition %d, want %d", deviceID, rec.CRLPartition, want)
	}
	if want := partitionURL(testBase, f.issuing.ID, rec.CRLPartition); len(c.CRLDistributionPoints) != 1 || c.CRLDistributionPoints[0] != want {
		t.Fatalf("device %s: CRL distribution point %v, want %s", deviceID, c.CRLDistributionPoints, want)
	}
	return c, rec.CRLPartition
}

// idpURL returns the URL in a CRL's issuingDistributionPoint and whether it is critical;
// "" when the CRL has none.
func idpURL(t testing.TB, crl *x509.RevocationList) (string, bool) {
	t.Helper()
	for _, e := range crl.Extensions {
		if !e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 28}) {
			continue
		}
		in := cryptobyte.String(e.Value)
		var idp, dp, full, uri cryptobyte.String
		if !in.ReadASN1(&idp, cbasn1.SEQUENCE) || !idp.ReadASN1(&dp, cbasn1.Tag(0).Constructed().ContextSpecific()) ||
			!dp.ReadASN1(&full, cbasn1.Tag(0).Constructed().ContextSpecific()) || !full.ReadASN1(&uri, cbasn1.Tag(6).ContextSpecific()) ||
			!full.Empty() || !dp.Empty() || !idp.Empty() {
			t.Fatalf("issuingDistributionPoint %x does not parse", e.Value)
		}
		return string(uri), e.Critical
	}
	return "", false
}

// serials returns a CRL's serials, sorted, as hex.
func serials(crl *x509.RevocationList) []string {
	var out []string
	for _, e := range crl.RevokedCertificateEntries {
		out = append(out, e.SerialNumber.Text(16))
	}
	slices.Sort(out)
	return out
}

func newPartitionedFixture(t testing.TB) *fixture {
	t.Helper()
	f := newFixture(t)
	if f.issuing.CRLPartitions != ca.DefaultCRLPartitions {
		t.Fatalf("a new issuing CA has %d CRL partitions, want the default %d", f.issuing.CRLPartitions, ca.DefaultCRLPartitions)
	}
	if err := f.svc.c.URLs.SetBase(testBase); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestPartitionCRLs checks every partition CRL over HTTP: signed by the CA, zlint clean, a
// critical issuingDistributionPoint naming its own URL, and exactly the revoked certificates
// recorded in its partition; the full CRL has them all and no issuingDistributionPoint. Bad
// partition names are 404.
func TestPartitionCRLs(t *testing.T) {
	f := newPartitionedFixture(t)
	want := map[int][]string{}
	var all []string
	for i := 0; i < 40; i++ {
		c, p := f.issueDevice(t, fmt.Sprintf("dev-%d", i), 24*time.Hour)
		if i%3 == 0 {
			continue // stays good
		}
		f.change(t, func(cs store.Certificates) error {
			return cs.Revoke(c.SerialNumber, []int{0, 1, 4, 6}[i%4], time.Now())
		})
		want[p] = append(want[p], c.SerialNumber.Text(16))
		all = append(all, c.SerialNumber.Text(16))
	}
	if len(want) < 4 {
		t.Fatalf("the revoked certificates fell in only %d partitions", len(want))
	}
	// A certificate without a device would carry the full CRL's URL; it is recorded in a
	// random partition and listed there too.
	if _, crl := f.svc.c.URLs.For(f.issuing, ""); len(crl) != 1 || crl[0] != testBase+"/crl/"+f.issuing.ID+".crl" {
		t.Errorf("a certificate without a device names %v", crl)
	}
	loose := f.issue(t)
	f.change(t, func(cs store.Certificates) error { return cs.Revoke(loose.SerialNumber, 1, time.Now()) })
	var rec ca.Cert
	if err := f.st.View(ctx, func(tx store.Tx) (err error) { rec, err = tx.Certificates().GetCert(loose.SerialNumber); return err }); err != nil {
		t.Fatal(err)
	}
	want[rec.CRLPartition] = append(want[rec.CRLPartition], loose.SerialNumber.Text(16))
	all = append(all, loose.SerialNumber.Text(16))
	srv := httptest.NewServer(f.svc.Handler())
	defer srv.Close()
	get := func(path string) (int, []byte) {
		res, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	listed := map[string]bool{}
	for p := 0; p < f.issuing.CRLPartitions; p++ {
		code, der := get(fmt.Sprintf("/crl/%s-%d.crl", f.issuing.ID, p))
		if code != 200 {
			t.Fatalf("partition %d: %d", p, code)
		}
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := crl.CheckSignatureFrom(f.issuing.Cert); err != nil {
			t.Fatalf("partition %d: %v", p, err)
		}
		if err := linter.LintCRL(der); err != nil {
			t.Errorf("partition %d: zlint: %v", p, err)
		}
		if u, critical := idpURL(t, crl); u != partitionURL(testBase, f.issuing.ID, p) || !critical {
			t.Errorf("partition %d: issuingDistributionPoint %q (critical %v)", p, u, critical)
		}
		w := want[p]
		slices.Sort(w)
		if got := serials(crl); !slices.Equal(got, w) {
			t.Errorf("partition %d lists %v, want %v", p, got, w)
		}
		for _, s := range serials(crl) {
			if listed[s] {
				t.Errorf("serial %s is in two partitions", s)
			}
			listed[s] = true
		}
	}
	if len(listed) != len(all) {
		t.Errorf("the partitions list %d serials, want %d", len(listed), len(all))
	}
	code, der := get("/crl/" + f.issuing.ID + ".crl")
	full, err := x509.ParseRevocationList(der)
	if code != 200 || err != nil {
		t.Fatalf("full CRL: %d %v", code, err)
	}
	if u, _ := idpURL(t, full); u != "" {
		t.Errorf("the full CRL names %q", u)
	}
	slices.Sort(all)
	if got := serials(full); !slices.Equal(got, all) {
		t.Errorf("the full CRL lists %d serials, want %d", len(got), len(all))
	}

	for _, name := range []string{
		fmt.Sprintf("%s-%d", f.issuing.ID, f.issuing.CRLPartitions), // one past the last
		f.issuing.ID + "-01", f.issuing.ID + "--1", f.issuing.ID + "-+1", f.issuing.ID + "-1x", f.issuing.ID + "-",
		f.issuing.ID + "-99999999999999999999", "ca-nope-1", "-1",
	} {
		if code, _ := get("/crl/" + name + ".crl"); code != 404 {
			t.Errorf("/crl/%s.crl: %d, want 404", name, code)
		}
	}
	if _, err := f.svc.PartitionCRL(ctx, f.issuing.ID, f.issuing.CRLPartitions); err == nil {
		t.Error("PartitionCRL accepted a partition past the last")
	}
	// Without a base URL no partition can be named: 404, while the full CRL is served.
	bare := New(f.cfg)
	srv2 := httptest.NewServer(bare.Handler())
	defer srv2.Close()
	for path, want := range map[string]int{"/crl/" + f.issuing.ID + "-0.crl": 404, "/crl/" + f.issuing.ID + ".crl": 200} {
		res, err := srv2.Client().Get(srv2.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("without a base URL, %s: %d, want %d", path, res.StatusCode, want)
		}
	}
}

// TestRevocationRebuildsOnlyItsPartition runs the background builder: after a revocation,
// only the partition of the revoked certificate is rebuilt (with a higher CRL number). The
// full CRL of a partitioned CA is built with the others, but rebuilt for a change only while
// it is fetched, and then by the builder, not by the fetch.
func TestRevocationRebuildsOnlyItsPartition(t *testing.T) {
	f := newPartitionedFixture(t)
	f.svc.c.FullCRLMinGap = 200 * time.Millisecond
	c, p := f.issueDevice(t, "dev-target", 24*time.Hour)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := f.svc.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	cs := f.svc.caByID(f.issuing.ID)
	waitUntil := func(what string, fn func() bool) {
		t.Helper()
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			if fn() {
				return
			}
		}
		t.Fatalf("%s: not within 10 s", what)
	}
	waitUntil("every CRL built", func() bool {
		for i := range cs.parts {
			if cs.parts[i].doc.Load() == nil {
				return false
			}
		}
		return cs.crl.doc.Load() != nil
	})
	before := make([]*crlDoc, len(cs.parts))
	for i := range cs.parts {
		before[i] = cs.parts[i].doc.Load()
	}
	fullBefore := cs.crl.doc.Load()

	f.change(t, func(s store.Certificates) error { return s.Revoke(c.SerialNumber, 1, time.Now()) })
	if err := f.svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil("the partition rebuilt", func() bool { return cs.parts[p].doc.Load() != before[p] })
	time.Sleep(4 * f.cfg.CRLMinGap) // time for any other (wrong) rebuild to happen
	for i := range cs.parts {
		if i != p && cs.parts[i].doc.Load() != before[i] {
			t.Errorf("partition %d was rebuilt for a revocation in partition %d", i, p)
		}
	}
	after := cs.parts[p].doc.Load()
	crl, err := x509.ParseRevocationList(after.der)
	if err != nil {
		t.Fatal(err)
	}
	if got := serials(crl); !slices.Equal(got, []string{c.SerialNumber.Text(16)}) || after.number <= before[p].number {
		t.Errorf("partition %d after the revocation: %v, number %d (was %d)", p, got, after.number, before[p].number)
	}
	if cs.crl.doc.Load() != fullBefore {
		t.Error("the revocation rebuilt the full CRL of a partitioned CA that nobody fetched")
	}
	// Fetched, the full CRL is served as it is (younger than CRLInterval), and the builder
	// rebuilds it for the change.
	der, err := f.svc.CRL(ctx, f.issuing.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(der, fullBefore.der) {
		t.Error("a fetch rebuilt the full CRL")
	}
	fullCount := func() int {
		der, err := f.svc.CRL(ctx, f.issuing.ID)
		if err != nil {
			t.Fatal(err)
		}
		full, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		return len(full.RevokedCertificateEntries)
	}
	waitUntil("the full CRL lists the revocation", func() bool { return fullCount() == 1 })
	c2, _ := f.issueDevice(t, "dev-other", 24*time.Hour)
	f.change(t, func(s store.Certificates) error { return s.Revoke(c2.SerialNumber, 4, time.Now()) })
	if err := f.svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil("the full CRL lists the second revocation", func() bool { return fullCount() == 2 })
}

// TestPartitionKeepsEntriesUntilExpiry: a revoked certificate stays on its partition CRL (and
// the full CRL) until its notAfter, and is dropped after.
func TestPartitionKeepsEntriesUntilExpiry(t *testing.T) {
	f := newPartitionedFixture(t)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	f.cfg.Now = func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	f.cfg.CRLInterval = time.Minute // each step below is further apart: a rebuild
	f.cfg.URLs = f.svc.c.URLs
	f.svc = New(f.cfg)
	if err := f.svc.loadCAs(ctx); err != nil {
		t.Fatal(err)
	}
	c, p := f.issueDevice(t, "dev-short", 2*time.Hour)
	f.change(t, func(s store.Certificates) error { return s.Revoke(c.SerialNumber, 1, time.Now()) })
	for _, tc := range []struct {
		at     time.Time
		listed bool
	}{
		{time.Now(), true},
		{c.NotAfter.Add(-time.Minute), true},
		{c.NotAfter.Add(time.Minute), false},
	} {
		clock.Store(tc.at.UnixNano())
		for name, get := range map[string]func() ([]byte, error){
			"partition": func() ([]byte, error) { return f.svc.PartitionCRL(ctx, f.issuing.ID, p) },
			"full":      func() ([]byte, error) { return f.svc.CRL(ctx, f.issuing.ID) },
		} {
			der, err := get()
			if err != nil {
				t.Fatal(err)
			}
			crl, err := x509.ParseRevocationList(der)
			if err != nil {
				t.Fatal(err)
			}
			listed := len(crl.RevokedCertificateEntries) == 1 && crl.RevokedCertificateEntries[0].SerialNumber.Cmp(c.SerialNumber) == 0
			if listed != tc.listed || !crl.ThisUpdate.Equal(tc.at.Truncate(time.Second)) {
				t.Errorf("%s CRL at %v (thisUpdate %v): listed %v, want %v", name, tc.at, crl.ThisUpdate, listed, tc.listed)
			}
		}
	}
}

// TestPartitionCounts: a new issuing CA takes the requested partition count (its root none),
// out-of-range counts are refused, and a CA without partitions (one created before them)
// keeps its full CRL only: its certificates name it, and no partition name is served.
func TestPartitionCounts(t *testing.T) {
	f := newPartitionedFixture(t)
	fin := func(tx store.Tx, c ca.CA) error { _, err := tx.Audit().Append(ev("ca.create")); return err }
	req := authority.HierarchyRequest{PartyID: "acme", Organization: "Acme", Stage: "manufacturing", RootLife: 24 * time.Hour, IssuingLife: 12 * time.Hour}
	for i, tc := range []struct {
		parts, want int // want -1: refused
	}{{4, 4}, {1, 1}, {ca.MaxCRLPartitions, ca.MaxCRLPartitions}, {ca.MaxCRLPartitions + 1, -1}, {-1, -1}} {
		req.Name, req.CRLPartitions = fmt.Sprintf("count-%d", i), tc.parts
		root, issuing, err := f.auth.CreateHierarchy(ctx, req, fin)
		switch {
		case tc.want < 0 && err == nil:
			t.Errorf("%d partitions accepted", tc.parts)
		case tc.want >= 0 && (err != nil || issuing.CRLPartitions != tc.want || root.CRLPartitions != 0):
			t.Errorf("%d partitions: issuing %d, root %d, %v", tc.parts, issuing.CRLPartitions, root.CRLPartitions, err)
		}
	}

	legacy := f.issuing
	legacy.ID, legacy.Name, legacy.CRLPartitions = "ca-legacy", "legacy", 0
	if err := f.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.CAs().CreateCA(legacy); err != nil {
			return err
		}
		return fin(tx, legacy)
	}); err != nil {
		t.Fatal(err)
	}
	if _, crl := f.svc.c.URLs.For(legacy, "dev-1"); len(crl) != 1 || crl[0] != testBase+"/crl/ca-legacy.crl" {
		t.Errorf("a device certificate of an unpartitioned CA names %v", crl)
	}
	srv := httptest.NewServer(f.svc.Handler())
	defer srv.Close()
	if err := f.svc.loadCAs(ctx); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/crl/ca-legacy.crl": 200, "/crl/ca-legacy-0.crl": 404} {
		res, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, res.StatusCode, want)
		}
	}
}
