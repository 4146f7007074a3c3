package status

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/hallmark-id/hallmark/internal/authority"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/store"
)

// root reads the fixture's root CA.
func (f *fixture) root(t *testing.T) ca.CA {
	t.Helper()
	var r ca.CA
	if err := f.st.View(ctx, func(tx store.Tx) (err error) { r, err = tx.CAs().GetCA(f.issuing.ParentID); return err }); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRootPublishesStatus: a root publishes a CRL signed by its own key, with the long
// RootCRLLifetime, that lists the issuing CA certificate once it is revoked; its OCSP
// responder answers for the issuing CA certificate; and its certificate is served at the
// caIssuers URL that ForCA names.
func TestRootPublishesStatus(t *testing.T) {
	f := newFixture(t)
	root := f.root(t)
	run, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := f.svc.Start(run); err != nil {
		t.Fatal(err)
	}
	readCRL := func() *x509.RevocationList {
		t.Helper()
		der, err := f.svc.CRL(ctx, root.ID)
		if err != nil {
			t.Fatal(err)
		}
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := crl.CheckSignatureFrom(root.Cert); err != nil {
			t.Fatalf("the root CRL is not signed by the root: %v", err)
		}
		return crl
	}
	crl := readCRL()
	if life := crl.NextUpdate.Sub(crl.ThisUpdate); life != 7*24*time.Hour || len(crl.RevokedCertificateEntries) != 0 || !bytes.Equal(crl.AuthorityKeyId, root.Cert.SubjectKeyId) {
		t.Fatalf("root CRL: lifetime %s, %d entries, AKI %x; want 168h, none, the root's SKI", life, len(crl.RevokedCertificateEntries), crl.AuthorityKeyId)
	}
	ask := func() *ocsp.Response {
		t.Helper()
		der, _ := f.svc.Respond(ctx, root.ID, request(t, root.Cert, crypto.SHA256, f.issuing.Cert.SerialNumber, []byte("root-nonce-0123456789")))
		r, err := ocsp.ParseResponseForCert(der, f.issuing.Cert, root.Cert)
		if err != nil {
			t.Fatalf("the root's OCSP answer: %v", err)
		}
		return r
	}
	if r := ask(); r.Status != ocsp.Good {
		t.Fatalf("the issuing CA certificate is %d at the root's responder, want good", r.Status)
	}

	f.change(t, func(c store.Certificates) error { return c.Revoke(f.issuing.Cert.SerialNumber, 2, time.Now()) }) // cACompromise
	if err := f.svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if r := ask(); r.Status != ocsp.Revoked || r.RevocationReason != ocsp.CACompromise {
		t.Fatalf("after revocation: status %d reason %d", r.Status, r.RevocationReason)
	}
	deadline := time.Now().Add(10 * time.Second) // the builder rebuilds a dirty CRL within CRLMinGap (50ms here)
	for {
		crl = readCRL()
		if len(crl.RevokedCertificateEntries) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the root CRL does not list the revoked issuing CA within 10 s: %d entries", len(crl.RevokedCertificateEntries))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if e := crl.RevokedCertificateEntries[0]; e.SerialNumber.Cmp(f.issuing.Cert.SerialNumber) != 0 || e.ReasonCode != 2 {
		t.Errorf("root CRL entry %x reason %d", e.SerialNumber, e.ReasonCode)
	}

	urls := &URLs{}
	if o, c, i := urls.ForCA(root); o != nil || c != nil || i != nil {
		t.Errorf("ForCA without a base: %v %v %v", o, c, i)
	}
	srv := httptest.NewServer(f.svc.Handler())
	defer srv.Close()
	if err := urls.SetBase(srv.URL); err != nil {
		t.Fatal(err)
	}
	o, c, i := urls.ForCA(root)
	if len(o) != 1 || o[0] != srv.URL+"/ocsp/"+root.ID || len(c) != 1 || c[0] != srv.URL+"/crl/"+root.ID+".crl" || len(i) != 1 || i[0] != srv.URL+"/ca/"+root.ID+".cer" {
		t.Fatalf("ForCA: %v %v %v", o, c, i)
	}
	for _, u := range []string{c[0], i[0]} {
		res, err := srv.Client().Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", u, res.StatusCode)
		}
		if u == i[0] && (!bytes.Equal(body, root.CertDER) || res.Header.Get("Content-Type") != "application/pkix-cert") {
			t.Errorf("GET %s: %s, %d bytes, not the root certificate", u, res.Header.Get("Content-Type"), len(body))
		}
	}
	for path, want := range map[string]int{"/ca/ca-nosuchca.cer": 404, "/ca/" + root.ID + ".pem": 404, "/ca/" + root.ID: 404, "/ca/../crl/x.cer": 404} {
		res, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, res.StatusCode, want)
		}
	}
	res, err := srv.Client().Post(i[0], "application/octet-stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST %s: %d", i[0], res.StatusCode)
	}
}

// TestPollLearnsNewCAs: a hierarchy created after the service loaded its CAs is known as
// soon as the change feed shows its root signing the issuing CA, without waiting for a
// request to reload the list.
func TestPollLearnsNewCAs(t *testing.T) {
	f := newFixture(t)
	if err := f.svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	root, _, err := f.auth.CreateHierarchy(ctx, authority.HierarchyRequest{PartyID: "acme", Organization: "Acme", Stage: "manufacturing", Name: "acme-later",
		RootLife: 24 * time.Hour, IssuingLife: 12 * time.Hour}, func(tx store.Tx, c ca.CA) error {
		_, err := tx.Audit().Append(ev("ca.create"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.svc.caByID(root.ID) != nil {
		t.Fatal("the new root is known before any poll")
	}
	if err := f.svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if f.svc.caByID(root.ID) == nil {
		t.Fatal("the poll that saw the root sign its issuing CA did not load it")
	}
}

// FuzzCACertID feeds the /ca/<ca-id>.cer path reader real paths and their mutations: what it
// accepts names one CA ID, and the path is exactly the one that ID's URL has.
func FuzzCACertID(f *testing.F) {
	for _, p := range []string{"/ca/ca-jywx62fzvxcebjft.cer", "/ca/ca-x.cer", "/ca/.cer", "/ca/ca-.cer", "/ca/ca-a/b.cer", "/ca/ca-a.cer.cer", "/crl/ca-a.crl", "/ca/../ca-a.cer", ""} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, path string) {
		id, ok := caCertID(path)
		if !ok {
			return
		}
		if !strings.HasPrefix(id, "ca-") || strings.ContainsAny(id, "/.") || "/ca/"+id+".cer" != path {
			t.Fatalf("%q accepted as CA %q", path, id)
		}
	})
}
