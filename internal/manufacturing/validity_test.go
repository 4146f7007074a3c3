package manufacturing_test

import (
	"crypto/x509"
	"testing"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/certpem"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
)

// TestFactoryValidity: a new hierarchy records "undefined" by default and its factory
// certificates carry 802.1AR's notAfter 99991231235959Z, verifying under an issuing CA that
// expires long before; "issuer" gives them the issuing CA's notAfter; anything else is
// refused and creates nothing.
func TestFactoryValidity(t *testing.T) {
	w := newWorld(t)
	l := w.line(t, false) // the default
	if l.issuing.FactoryValidity != ca.FactoryValidityUndefined || l.root.FactoryValidity != "" {
		t.Fatalf("factory validity: issuing %q, root %q", l.issuing.FactoryValidity, l.root.FactoryValidity)
	}
	stored, err := w.svc.GetCA(ctx, l.issuing.ID)
	if err != nil || stored.FactoryValidity != ca.FactoryValidityUndefined {
		t.Fatalf("stored issuing CA: %q %v", stored.FactoryValidity, err)
	}
	fi := w.issue(t, "alice", l, "SN-0001")
	certs, err := certpem.Parse([]byte(fi.CertificatePEM+fi.ChainPEM), certpem.Options{What: "the factory identity"})
	if err != nil || len(certs) != 3 {
		t.Fatalf("%d certificates, %v", len(certs), err)
	}
	if !certs[0].NotAfter.Equal(issuance.UndefinedNotAfter) {
		t.Fatalf("factory notAfter %s, want %s", certs[0].NotAfter, issuance.UndefinedNotAfter)
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(l.root.Cert)
	inters.AddCert(certs[1])
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: w.now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("verify: %v", err)
	}

	_, iss, err := w.svc.CreateHierarchy(ctx, w.actors["alice"], manufacturing.CreateHierarchyRequest{ManufacturerID: "acme", Name: "acme-legacy", FactoryValidity: ca.FactoryValidityIssuer})
	if err != nil || iss.FactoryValidity != ca.FactoryValidityIssuer {
		t.Fatalf("an \"issuer\" hierarchy: %q %v", iss.FactoryValidity, err)
	}
	lot, err := w.svc.CreateLot(ctx, w.actors["alice"], manufacturing.CreateLotRequest{ModelID: l.model.ID, Name: "lot-2", Line: "a", IssuingCAID: iss.ID})
	if err != nil {
		t.Fatal(err)
	}
	_, c := csrPEM(t)
	rec := w.record("SN-0002")
	rec.Lot = "lot-2"
	fi2, err := w.svc.IssueFactory(ctx, w.actors["alice"], manufacturing.IssueFactoryRequest{LotID: lot.ID, CSR: c, BuildRecord: rec})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := certpem.Parse([]byte(fi2.CertificatePEM), certpem.Options{What: "the factory certificate"})
	if err != nil || !leaf[0].NotAfter.Equal(iss.Cert.NotAfter) {
		t.Fatalf("factory notAfter under an \"issuer\" CA: %v, want %s (%v)", leaf, iss.Cert.NotAfter, err)
	}

	before := w.events(t)
	_, _, err = w.svc.CreateHierarchy(ctx, w.actors["alice"], manufacturing.CreateHierarchyRequest{ManufacturerID: "acme", Name: "acme-bad", FactoryValidity: "forever"})
	wantErr(t, err, failure.Invalid, "factory_validity")
	if after := w.events(t); after != before {
		t.Fatalf("a refused hierarchy left %d audit events", after-before)
	}
}
