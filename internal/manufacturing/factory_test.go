package manufacturing_test

import (
	"crypto"
	"crypto/x509"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/certpem"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/keys"
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/readcache"
	"github.com/hallmark-id/hallmark/internal/store"
)

// TestIssueFactory: the owner of a lot's issuance (here the contract manufacturer it was
// delegated to) gets a device, an IDevID that chains to the manufacturer's root and a build
// record signed by the manufacturer's key and bound to the certificate.
func TestIssueFactory(t *testing.T) {
	w := newWorld(t)
	l := w.line(t, true)
	key, c := csrPEM(t)
	fi, err := w.svc.IssueFactory(ctx, w.actors["cindy"], manufacturing.IssueFactoryRequest{LotID: l.lot.ID, CSR: c, BuildRecord: w.record("SN-0001")})
	if err != nil {
		t.Fatal(err)
	}
	d := w.device(t, fi.Device.ID)
	if d.State != device.Registered || d.Serial != "SN-0001" || d.CustodianID != "cm" || d.LotID != l.lot.ID || d.FactoryCert == "" {
		t.Fatalf("device %+v: want registered SN-0001 of the lot, held by cm", d)
	}
	certs, err := certpem.Parse([]byte(fi.CertificatePEM+fi.ChainPEM), certpem.Options{What: "the factory identity"})
	if err != nil || len(certs) != 3 {
		t.Fatalf("certificate and chain: %d certificates, %v; want leaf, issuing, root", len(certs), err)
	}
	leaf := certs[0]
	if !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) || ca.SerialHex(leaf.SerialNumber) != d.FactoryCert || leaf.Subject.SerialNumber != "SN-0001" {
		t.Fatalf("leaf %s (serial %s) does not carry the device key, serial and number", leaf.Subject, ca.SerialHex(leaf.SerialNumber))
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(l.root.Cert)
	inters.AddCert(certs[1])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: w.now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("the IDevID does not chain to acme's root: %v", err)
	}

	keyPEM, err := w.svc.BuildRecordKeyPEM(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := buildrecord.ParsePublicKeyPEM([]byte(keyPEM))
	if err != nil {
		t.Fatal(err)
	}
	env, err := buildrecord.ParseEnvelope(fi.BuildRecord)
	if err != nil {
		t.Fatal(err)
	}
	v, err := buildrecord.Verify(env, pub)
	if err != nil {
		t.Fatalf("the build record does not verify with acme's key: %v", err)
	}
	digest, err := issuance.BuildRecordDigestOf(leaf)
	if err != nil {
		t.Fatal(err)
	}
	if err := buildrecord.CheckBinding(v, leaf.PublicKey, digest); err != nil {
		t.Fatalf("the build record is not bound to the certificate: %v", err)
	}
	// A second device reuses the manufacturer's build-record key.
	fi2 := w.issue(t, "cindy", l, "SN-0002")
	if k2, _ := w.svc.BuildRecordKeyPEM(ctx, "acme"); k2 != keyPEM || fi2.Device.ID == fi.Device.ID {
		t.Fatal("the second device got another build-record key or the same device")
	}
}

// TestIssueFactoryRefusals: callers that do not own the lot's issuance, a taken serial, a
// record that does not describe the lot or a device that failed its test, and a malformed
// CSR are refused; none leaves a device, a certificate or an audit event.
func TestIssueFactoryRefusals(t *testing.T) {
	w := newWorld(t)
	l := w.line(t, true)
	w.issue(t, "cindy", l, "SN-0001")
	_, goodCSR := csrPEM(t)
	req := func(edit func(*manufacturing.IssueFactoryRequest)) manufacturing.IssueFactoryRequest {
		r := manufacturing.IssueFactoryRequest{LotID: l.lot.ID, CSR: goodCSR, BuildRecord: w.record("SN-0002")}
		edit(&r)
		return r
	}
	before := w.events(t)
	var denied *ownership.DeniedError
	for _, tc := range []struct {
		name string
		who  string
		req  manufacturing.IssueFactoryRequest
		kind failure.Kind
		msg  string
	}{
		{"another maker", "gina", req(func(*manufacturing.IssueFactoryRequest) {}), failure.Denied, "owned by cm"},
		{"the manufacturer of a delegated lot", "alice", req(func(*manufacturing.IssueFactoryRequest) {}), failure.Denied, "owned by cm"},
		{"serial taken", "cindy", req(func(r *manufacturing.IssueFactoryRequest) { r.BuildRecord.Serial = "SN-0001" }), failure.Conflict, `serial "SN-0001"`},
		{"record of another lot", "cindy", req(func(r *manufacturing.IssueFactoryRequest) { r.BuildRecord.Lot = "lot-9" }), failure.Invalid, `lot is "lot-9"`},
		{"record of another line", "cindy", req(func(r *manufacturing.IssueFactoryRequest) { r.BuildRecord.Line = "b" }), failure.Invalid, `line is "b"`},
		{"failed its test", "cindy", req(func(r *manufacturing.IssueFactoryRequest) { r.BuildRecord.TestResult = buildrecord.TestFail }), failure.Invalid, "only devices that passed"},
		{"record without a serial", "cindy", req(func(r *manufacturing.IssueFactoryRequest) { r.BuildRecord.Serial = "" }), failure.Invalid, "serial"},
		{"CSR not PKCS#10", "cindy", req(func(r *manufacturing.IssueFactoryRequest) {
			r.CSR = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"
		}), failure.Invalid, "csr"},
		{"no such lot", "cindy", req(func(r *manufacturing.IssueFactoryRequest) { r.LotID = "lot-nope" }), failure.NotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.svc.IssueFactory(ctx, w.actors[tc.who], tc.req)
			wantErr(t, err, tc.kind, tc.msg)
			if tc.kind == failure.Denied && !errors.As(err, &denied) {
				t.Fatalf("%v is not a not-owner refusal", err)
			}
		})
	}
	if got := w.events(t); got != before {
		t.Fatalf("refused issuances appended %d audit events", got-before)
	}
	if err := w.st.View(ctx, func(tx store.Tx) error {
		ds, err := tx.Devices().ListDevices(store.DeviceFilter{LotID: l.lot.ID})
		if err == nil && len(ds) != 1 {
			t.Errorf("the lot has %d devices after the refusals, want 1", len(ds))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestIssueFactoryDuplicateSerialCached: through the server's read cache, which serves every
// read of a factory issuance but the serial check, a serial taken is still refused as a
// conflict, in the reservation's transaction: no certificate is reserved or issued, and no
// device or audit event is added. The same request with a free serial then succeeds.
func TestIssueFactoryDuplicateSerialCached(t *testing.T) {
	w := newWorld(t)
	l := w.line(t, true)
	cached := readcache.New(w.st, readcache.Config{Staleness: time.Hour})
	kp, err := keyfile.New(w.keys, keys.Secret("manufacturing-test"))
	if err != nil {
		t.Fatal(err)
	}
	svc := manufacturing.New(manufacturing.Config{Store: cached, Authority: w.auth, Keys: kp, RootLife: time.Hour, IssuingLife: time.Hour})
	_, c := csrPEM(t)
	first, err := svc.IssueFactory(ctx, w.actors["cindy"], manufacturing.IssueFactoryRequest{LotID: l.lot.ID, CSR: c, BuildRecord: w.record("SN-0001")})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+w.dbPath+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func(q string) int {
		t.Helper()
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	certs, devices, events := count(`SELECT COUNT(*) FROM certificates`), count(`SELECT COUNT(*) FROM devices`), w.events(t)

	_, c2 := csrPEM(t)
	_, err = svc.IssueFactory(ctx, w.actors["cindy"], manufacturing.IssueFactoryRequest{LotID: l.lot.ID, CSR: c2, BuildRecord: w.record("SN-0001")})
	wantErr(t, err, failure.Conflict, `serial "SN-0001"`)
	if n := count(`SELECT COUNT(*) FROM certificates`); n != certs {
		t.Errorf("the refused issuance left %d certificate rows (reserved or issued), want %d", n, certs)
	}
	if n := count(`SELECT COUNT(*) FROM devices`); n != devices {
		t.Errorf("the refused issuance left %d devices, want %d", n, devices)
	}
	if n := w.events(t); n != events {
		t.Errorf("the refused issuance appended %d audit events", n-events)
	}
	if st := w.certState(t, first.Device.FactoryCert); st != ca.Issued {
		t.Errorf("the first device's certificate is %s", st)
	}
	if _, err := svc.IssueFactory(ctx, w.actors["cindy"], manufacturing.IssueFactoryRequest{LotID: l.lot.ID, CSR: c2, BuildRecord: w.record("SN-0002")}); err != nil {
		t.Fatalf("a free serial after the refusal: %v", err)
	}
}

// TestIssueFactoryDuplicateSerialBeforeFirstKey: a manufacturer's first issuance creates its
// build-record key; when its serial is taken (here by a device stored directly), the refusal
// comes before the key, so nothing is created.
func TestIssueFactoryDuplicateSerialBeforeFirstKey(t *testing.T) {
	w := newWorld(t)
	l := w.line(t, true)
	if err := w.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Devices().CreateDevice(device.Device{ID: "dev-taken", ManufacturerID: "acme", ModelID: l.model.ID, LotID: l.lot.ID, Serial: "SN-0001",
			State: device.Registered, CustodianID: "cm", CreatedAt: w.now, UpdatedAt: w.now}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(audit.Event{At: w.now, PartyID: "acme", Action: "test.device"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	events := w.events(t)
	_, c := csrPEM(t)
	_, err := w.svc.IssueFactory(ctx, w.actors["cindy"], manufacturing.IssueFactoryRequest{LotID: l.lot.ID, CSR: c, BuildRecord: w.record("SN-0001")})
	wantErr(t, err, failure.Conflict, `serial "SN-0001"`)
	if _, err := w.svc.BuildRecordKeyPEM(ctx, "acme"); !failure.Is(err, failure.NotFound) {
		t.Errorf("the refused issuance left a build-record key (%v)", err)
	}
	if n := w.events(t); n != events {
		t.Errorf("the refused issuance appended %d audit events", n-events)
	}
}
