package manufacturing_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/oid"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/store"
)

// TestCatalog: a manufacturer creates its CAs, models and lots, and may delegate a lot's
// issuance to a contract manufacturer; nobody else may, and malformed or mismatched requests
// are refused without an audit event.
func TestCatalog(t *testing.T) {
	w := newWorld(t)
	l := w.line(t, true)
	if l.issuing.ParentID != l.root.ID || l.issuing.Role != ca.Issuing || l.root.Role != ca.Root || l.issuing.Stage != "manufacturing" || l.issuing.CRLPartitions != 4 {
		t.Fatalf("hierarchy root %+v, issuing %+v", l.root, l.issuing)
	}
	if err := l.issuing.Cert.CheckSignatureFrom(l.root.Cert); err != nil {
		t.Fatalf("the issuing CA is not signed by its root: %v", err)
	}
	if want := oid.HardwareTypeArc.String() + "."; !strings.HasPrefix(l.model.HardwareType, want) {
		t.Fatalf("allocated hardware type %q, want one under %s", l.model.HardwareType, want)
	}
	if err := w.st.View(ctx, func(tx store.Tx) error {
		return governance.Require(tx, w.actors["cindy"], ownership.Manufacturing, ownership.Issue, governance.LotChain(l.lot))
	}); err != nil {
		t.Fatalf("the delegated contract manufacturer may not issue in the lot: %v", err)
	}
	_, globexCA, err := w.svc.CreateHierarchy(ctx, w.actors["gina"], manufacturing.CreateHierarchyRequest{ManufacturerID: "globex", Name: "globex-mfg"})
	if err != nil {
		t.Fatal(err)
	}

	before := w.events(t)
	var denied *ownership.DeniedError
	if _, _, err := w.svc.CreateHierarchy(ctx, w.actors["gina"], manufacturing.CreateHierarchyRequest{ManufacturerID: "acme", Name: "stolen"}); !errors.As(err, &denied) || denied.Owner != "acme" {
		t.Fatalf("globex created CAs for acme: %v", err)
	}
	wantErr(t, errOnly2(w.svc.CreateHierarchy(ctx, w.actors["oscar"], manufacturing.CreateHierarchyRequest{ManufacturerID: "op", Name: "ops"})), failure.Invalid, "not a manufacturer")
	wantErr(t, errOnly2(w.svc.CreateHierarchy(ctx, w.actors["alice"], manufacturing.CreateHierarchyRequest{ManufacturerID: "acme", Name: "Not A Slug"})), failure.Invalid, "CA name")
	wantErr(t, errOnly2(w.svc.CreateHierarchy(ctx, w.actors["alice"], manufacturing.CreateHierarchyRequest{ManufacturerID: "acme", Name: "wide", CRLPartitions: 5000})), failure.Invalid, "CRL partitions")

	wantErr(t, errOnly(w.svc.CreateModel(ctx, w.actors["alice"], manufacturing.CreateModelRequest{ManufacturerID: "acme", Name: "sensor"})), failure.Conflict, "already has a model")
	wantErr(t, errOnly(w.svc.CreateModel(ctx, w.actors["alice"], manufacturing.CreateModelRequest{ManufacturerID: "acme", Name: "probe", HardwareType: "7"})), failure.Invalid, "not a dotted OID")
	if _, err := w.svc.CreateModel(ctx, w.actors["gina"], manufacturing.CreateModelRequest{ManufacturerID: "acme", Name: "probe"}); !errors.As(err, &denied) {
		t.Fatalf("globex created a model of acme: %v", err)
	}

	lot := func(r manufacturing.CreateLotRequest) manufacturing.CreateLotRequest {
		if r.ModelID == "" {
			r.ModelID = l.model.ID
		}
		if r.Name == "" {
			r.Name = "lot-2"
		}
		if r.IssuingCAID == "" {
			r.IssuingCAID = l.issuing.ID
		}
		return r
	}
	wantErr(t, errOnly(w.svc.CreateLot(ctx, w.actors["alice"], lot(manufacturing.CreateLotRequest{IssuingCAID: l.root.ID}))), failure.Invalid, "not a manufacturing issuing CA")
	wantErr(t, errOnly(w.svc.CreateLot(ctx, w.actors["alice"], lot(manufacturing.CreateLotRequest{IssuingCAID: globexCA.ID}))), failure.Invalid, "not a manufacturing issuing CA of manufacturer acme")
	wantErr(t, errOnly(w.svc.CreateLot(ctx, w.actors["alice"], lot(manufacturing.CreateLotRequest{DelegateTo: "globex"}))), failure.Invalid, "contract manufacturer")
	wantErr(t, errOnly(w.svc.CreateLot(ctx, w.actors["alice"], lot(manufacturing.CreateLotRequest{Name: "lot-1"}))), failure.Conflict, "already has a lot")
	wantErr(t, errOnly(w.svc.CreateLot(ctx, w.actors["alice"], lot(manufacturing.CreateLotRequest{ModelID: "mdl-nope"}))), failure.NotFound, "")
	if _, err := w.svc.CreateLot(ctx, w.actors["cindy"], lot(manufacturing.CreateLotRequest{})); !errors.As(err, &denied) {
		t.Fatalf("the contract manufacturer created a lot: %v", err)
	}
	if got := w.events(t); got != before {
		t.Fatalf("refused requests appended %d audit events", got-before)
	}
	if lots, _ := w.svc.ListLots(ctx, w.actors["alice"], "acme"); len(lots) != 1 {
		t.Fatalf("acme has %d lots after the refusals, want 1", len(lots))
	}
}

// caPEM is a self-signed CA certificate (or, with ca false, a leaf) and its PKCS#8 key.
func caPEM(t *testing.T, name string, isCA bool) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name, Organization: []string{"Outside"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(5 * 365 * 24 * time.Hour), BasicConstraintsValid: true, IsCA: isCA}
	if isCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}))
}

// TestAnchorsAndImport: an operator registers another maker's root as a trust anchor; a
// manufacturer imports its own CA with its key. Wrong callers, leaves, extra certificates,
// keys of other certificates and malformed PEM are refused and store nothing.
func TestAnchorsAndImport(t *testing.T) {
	w := newWorld(t)
	anchorCert, _ := caPEM(t, "Outside Root", true)
	a, err := w.svc.RegisterAnchor(ctx, w.actors["oscar"], manufacturing.RegisterAnchorRequest{Name: "outside", CertificatePEM: anchorCert})
	if err != nil || a.Role != ca.Anchor || a.KeyID != "" || a.PartyID != "op" {
		t.Fatalf("RegisterAnchor = %+v, %v; want a keyless anchor of op", a, err)
	}
	rootCert, rootKey := caPEM(t, "Acme Legacy Root", true)
	imported, err := w.svc.ImportCA(ctx, w.actors["alice"], manufacturing.ImportCARequest{ManufacturerID: "acme", Name: "legacy", CertificatePEM: rootCert, KeyPEM: rootKey})
	if err != nil || imported.Role != ca.Root || !imported.Imported || imported.KeyID == "" {
		t.Fatalf("ImportCA = %+v, %v; want an imported root with a key", imported, err)
	}

	before := w.events(t)
	leafCert, leafKey := caPEM(t, "a device", false)
	otherCert, _ := caPEM(t, "Other Root", true)
	for _, tc := range []struct {
		name string
		err  error
		kind failure.Kind
		msg  string
	}{
		{"anchor by a manufacturer", errOnly(w.svc.RegisterAnchor(ctx, w.actors["alice"], manufacturing.RegisterAnchorRequest{Name: "x", CertificatePEM: anchorCert})), failure.Denied, "registered by the operators"},
		{"anchor of two certificates", errOnly(w.svc.RegisterAnchor(ctx, w.actors["oscar"], manufacturing.RegisterAnchorRequest{Name: "two", CertificatePEM: anchorCert + otherCert})), failure.Invalid, "one anchor certificate at a time"},
		{"anchor that is a leaf", errOnly(w.svc.RegisterAnchor(ctx, w.actors["oscar"], manufacturing.RegisterAnchorRequest{Name: "leaf", CertificatePEM: leafCert})), failure.Invalid, "not a CA certificate"},
		{"anchor not PEM", errOnly(w.svc.RegisterAnchor(ctx, w.actors["oscar"], manufacturing.RegisterAnchorRequest{Name: "junk", CertificatePEM: "MIIB..."})), failure.Invalid, "certificate_pem: no PEM certificate found"},
		{"anchor too large", errOnly(w.svc.RegisterAnchor(ctx, w.actors["oscar"], manufacturing.RegisterAnchorRequest{Name: "big", CertificatePEM: anchorCert + strings.Repeat("\n", 256<<10)})), failure.TooLarge, "certificate_pem"},
		{"import by another maker", errOnly(w.svc.ImportCA(ctx, w.actors["gina"], manufacturing.ImportCARequest{ManufacturerID: "acme", Name: "x", CertificatePEM: otherCert, KeyPEM: rootKey})), failure.Denied, "does not own manufacturing/issue"},
		{"import with another certificate's key", errOnly(w.svc.ImportCA(ctx, w.actors["alice"], manufacturing.ImportCARequest{ManufacturerID: "acme", Name: "x", CertificatePEM: otherCert, KeyPEM: rootKey})), failure.Invalid, "does not belong"},
		{"import of a leaf", errOnly(w.svc.ImportCA(ctx, w.actors["alice"], manufacturing.ImportCARequest{ManufacturerID: "acme", Name: "x", CertificatePEM: leafCert, KeyPEM: leafKey})), failure.Invalid, "not a CA certificate"},
		{"import with a key block in the certificate", errOnly(w.svc.ImportCA(ctx, w.actors["alice"], manufacturing.ImportCARequest{ManufacturerID: "acme", Name: "x", CertificatePEM: rootCert + rootKey, KeyPEM: rootKey})), failure.Invalid, `found "PRIVATE KEY"`},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.err, tc.kind, tc.msg) })
	}
	if got := w.events(t); got != before {
		t.Fatalf("refused requests appended %d audit events", got-before)
	}
	for p, who := range map[string]string{"acme": "alice", "op": "oscar"} {
		if cas, _ := w.svc.ListCAs(ctx, w.actors[who], p); len(cas) != 1 {
			t.Fatalf("party %s has %d CAs after the refusals, want 1", p, len(cas))
		}
	}
	if _, err := w.svc.ListCAs(ctx, w.actors["gina"], "acme"); !failure.Is(err, failure.Denied) {
		t.Fatalf("globex listed acme's CAs: %v", err)
	}
}

func errOnly2[A, B any](_ A, _ B, err error) error { return err }
