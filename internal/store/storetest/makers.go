package storetest

import (
	"crypto/sha256"
	"crypto/x509"
	"slices"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/maker"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

var makerTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"MakersRoundTrip", testMakers},
	{"ManifestActivationSupersedes", testManifests},
	{"ExternalDevicesAndOrigins", testOrigins},
	{"MakerSourceStates", testSourceStates},
}

func testCert(t *testing.T) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(SelfSignedForTest(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func seedMaker(t *testing.T, s store.Store, id, operator, name string) maker.Maker {
	t.Helper()
	m := maker.Maker{ID: id, OperatorID: operator, Name: name, Anchors: []*x509.Certificate{testCert(t)}, CRLURLs: []string{"http://crl.example/a.crl"},
		ManifestKeys: []string{"k1"}, Policy: maker.Policy{Revocation: maker.FailOpen, KeyTypes: []string{"ecdsa-p256"}}, CreatedBy: "x", CreatedAt: t0, UpdatedAt: t0}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Makers().CreateMaker(m); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("maker.register"))
		return err
	})
	return m
}

func testMakers(t *testing.T, s store.Store) {
	seedParty(t, s, "op", party.Operator)
	seedParty(t, s, "op2", party.Operator)
	m := seedMaker(t, s, "mkr_1", "op", "acme")
	seedMaker(t, s, "mkr_2", "op2", "acme") // another operator may use the name
	err := s.Update(ctx, func(tx store.Tx) error {
		m2 := m
		m2.ID = "mkr_3"
		return tx.Makers().CreateMaker(m2)
	})
	if !failure.Is(err, failure.Conflict) {
		t.Errorf("a second maker of the same name for one operator: %v, want a conflict", err)
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		got, err := tx.Makers().GetMaker("mkr_1")
		if err != nil {
			return err
		}
		if got.Name != "acme" || len(got.Anchors) != 1 || !got.Anchors[0].Equal(m.Anchors[0]) || len(got.CRLURLs) != 1 || got.Policy.Mode() != maker.FailOpen ||
			len(got.Policy.KeyTypes) != 1 || !got.CreatedAt.Equal(t0) || len(got.OCSPURLs) != 0 || got.ManifestKeys[0] != "k1" {
			t.Errorf("maker read back as %+v", got)
		}
		got.Policy = maker.Policy{RequireManifest: true}
		got.OCSPURLs = []string{"http://ocsp.example/"}
		got.UpdatedAt = t0.Add(time.Hour)
		if err := tx.Makers().UpdateMaker(got); err != nil {
			return err
		}
		_, err = tx.Audit().Append(ev("maker.update"))
		return err
	})
	_ = s.View(ctx, func(tx store.Tx) error {
		got, err := tx.Makers().GetMaker("mkr_1")
		if err != nil || !got.Policy.RequireManifest || got.Policy.Mode() != maker.FailClosed || len(got.OCSPURLs) != 1 || !got.UpdatedAt.Equal(t0.Add(time.Hour)) {
			t.Errorf("updated maker read back as %+v, %v", got, err)
		}
		if l, err := tx.Makers().ListMakers("op"); err != nil || len(l) != 1 {
			t.Errorf("ListMakers(op) = %d makers, %v; want 1", len(l), err)
		}
		if l, err := tx.Makers().ListMakers(""); err != nil || len(l) != 2 {
			t.Errorf("ListMakers() = %d makers, %v; want 2", len(l), err)
		}
		if _, err := tx.Makers().GetMaker("nope"); !failure.Is(err, failure.NotFound) {
			t.Errorf("unknown maker: %v", err)
		}
		return nil
	})
}

func testManifests(t *testing.T, s store.Store) {
	seedParty(t, s, "op", party.Operator)
	seedMaker(t, s, "mkr_1", "op", "acme")
	add := func(id string, state maker.ManifestState, at time.Time) {
		mustUpdate(t, s, func(tx store.Tx) error {
			m := maker.Manifest{ID: id, MakerID: "mkr_1", Format: "csv", SHA256: [32]byte{id[len(id)-1]}, Content: []byte("serial\n" + id + "\n"), Entries: 1,
				State: state, UploadedBy: "x", UploadedAt: at}
			if state == maker.ManifestActive {
				m.ActivatedAt = &at
			}
			if err := tx.Makers().AddManifest(m); err != nil {
				return err
			}
			_, err := tx.Audit().Append(ev("maker.manifest"))
			return err
		})
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Makers().ActiveManifest("mkr_1"); !failure.Is(err, failure.NotFound) {
			t.Errorf("active manifest of a maker without one: %v", err)
		}
		return nil
	})
	add("mf_1", maker.ManifestActive, t0)
	add("mf_2", maker.ManifestPending, t0.Add(time.Minute))
	_ = s.View(ctx, func(tx store.Tx) error {
		if m, err := tx.Makers().ActiveManifest("mkr_1"); err != nil || m.ID != "mf_1" || string(m.Content) != "serial\nmf_1\n" {
			t.Errorf("active manifest = %+v, %v; want mf_1 with its content", m, err)
		}
		return nil
	})
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Makers().SetManifestState("mf_2", maker.ManifestActive, "apr_1", t0.Add(2*time.Minute)); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("maker.manifest.activate"))
		return err
	})
	_ = s.View(ctx, func(tx store.Tx) error {
		m, err := tx.Makers().ActiveManifest("mkr_1")
		if err != nil || m.ID != "mf_2" || m.ApprovalID != "apr_1" || m.ActivatedAt == nil || !m.ActivatedAt.Equal(t0.Add(2*time.Minute)) || m.SHA256[0] != '2' {
			t.Errorf("active manifest after activation = %+v, %v; want mf_2", m, err)
		}
		all, err := tx.Makers().ListManifests("mkr_1")
		if err != nil || len(all) != 2 || all[0].ID != "mf_2" || all[1].State != maker.ManifestSuperseded || all[0].Content != nil {
			t.Errorf("manifests = %+v, %v; want mf_2 then mf_1 superseded, without content", all, err)
		}
		return nil
	})
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.Makers().SetManifestState("mf_1", maker.ManifestActive, "", t0)
	})
	if !failure.Is(err, failure.Conflict) {
		t.Errorf("activating a superseded manifest: %v, want a conflict", err)
	}
}

func testOrigins(t *testing.T, s store.Store) {
	seedParty(t, s, "op", party.Operator)
	seedMaker(t, s, "mkr_1", "op", "acme")
	c := testCert(t)
	dev := device.Device{ID: "dev_x", Serial: "AS-1", State: device.Registered, CustodianID: "op", CreatedAt: t0, UpdatedAt: t0}
	o := maker.Origin{DeviceID: "dev_x", MakerID: "mkr_1", Serial: "AS-1", Factory: c, Issuer: c, FactorySerial: "01", SPKISHA256: maker.SPKISHA256(c), State: maker.Good, CreatedAt: t0}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Devices().CreateDevice(dev); err != nil {
			return err
		}
		if err := tx.Makers().CreateOrigin(o); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("device.external"))
		return err
	})
	err := s.Update(ctx, func(tx store.Tx) error {
		d2 := dev
		d2.ID = "dev_y"
		if err := tx.Devices().CreateDevice(d2); err != nil {
			return err
		}
		o2 := o
		o2.DeviceID = "dev_y"
		return tx.Makers().CreateOrigin(o2)
	})
	if !failure.Is(err, failure.Conflict) {
		t.Errorf("a second device of the same maker and serial: %v, want a conflict", err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		d, err := tx.Devices().GetDevice("dev_x")
		if err != nil || d.ManufacturerID != "" || d.ModelID != "" || d.LotID != "" || d.CustodianID != "op" {
			t.Errorf("external device read back as %+v, %v", d, err)
		}
		if l, err := tx.Devices().ListDevices(store.DeviceFilter{VisibleTo: "op"}); err != nil || len(l) != 1 {
			t.Errorf("the operator sees %d devices (%v), want its external one", len(l), err)
		}
		// The governance gaps report counts devices by lot: one without a lot counts under "".
		if counts, err := tx.GovernanceReads().DeviceCounts(); err != nil || !slices.ContainsFunc(counts, func(c store.DeviceCount) bool { return c.LotID == "" && c.Devices == 1 }) {
			t.Errorf("device counts with an external device: %+v, %v", counts, err)
		}
		got, err := tx.Makers().OriginOf("dev_x")
		if err != nil || got.MakerID != "mkr_1" || !got.Factory.Equal(c) || got.State != maker.Good || got.Evidence != nil || got.SPKISHA256 != o.SPKISHA256 {
			t.Errorf("origin = %+v, %v", got, err)
		}
		if got, err := tx.Makers().OriginBySerial("mkr_1", "AS-1"); err != nil || got.DeviceID != "dev_x" {
			t.Errorf("origin by serial = %+v, %v", got, err)
		}
		if l, err := tx.Makers().ListOrigins("mkr_1", "", 10); err != nil || len(l) != 1 {
			t.Errorf("ListOrigins = %d, %v; want 1", len(l), err)
		}
		if _, err := tx.Makers().OriginOf("nope"); !failure.Is(err, failure.NotFound) {
			t.Errorf("origin of an unknown device: %v", err)
		}
		return nil
	})
	checkOriginState(t, s, "dev_x", "mkr_1", "01", c, maker.Good)
	evd := maker.Evidence{Kind: "crl", URL: "http://crl.example/a.crl", ThisUpdate: t0, NextUpdate: t0.Add(time.Hour), Reason: "keyCompromise", RevokedAt: t0}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Makers().RevokeOrigin("dev_x", t0.Add(time.Minute), 1, evd); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("device.external.revoke"))
		return err
	})
	_ = s.View(ctx, func(tx store.Tx) error {
		got, err := tx.Makers().OriginOf("dev_x")
		if err != nil || got.State != maker.Revoked || got.Reason == nil || *got.Reason != 1 || got.RevokedAt == nil || got.Evidence == nil || got.Evidence.URL != evd.URL || !got.Evidence.ThisUpdate.Equal(t0) {
			t.Errorf("revoked origin = %+v, %v", got, err)
		}
		if l, err := tx.Makers().ListOrigins("", "", 10); err != nil || len(l) != 0 {
			t.Errorf("ListOrigins after the revocation = %d, %v; want none", len(l), err)
		}
		return nil
	})
	checkOriginState(t, s, "dev_x", "mkr_1", "01", c, maker.Revoked) // reconciliation reads revoked origins too
	err = s.Update(ctx, func(tx store.Tx) error { return tx.Makers().RevokeOrigin("dev_x", t0, 1, evd) })
	if !failure.Is(err, failure.Conflict) {
		t.Errorf("revoking twice: %v, want a conflict", err)
	}

	// The maker re-issues the device's factory certificate: the origin holds the new one, its
	// factory state is good again, and the rest stays; only over the certificate it holds.
	c2 := testCert(t)
	o2 := o
	o2.Factory, o2.Issuer, o2.FactorySerial, o2.SPKISHA256 = c2, c, "02", maker.SPKISHA256(c2)
	// Another certificate of the same serial (01) is not the one the origin holds.
	err = s.Update(ctx, func(tx store.Tx) error { return tx.Makers().ReplaceOriginFactory(o2, testCert(t).Raw) })
	if !failure.Is(err, failure.Conflict) {
		t.Errorf("replacing a certificate of the same serial the origin does not hold: %v, want a conflict", err)
	}
	err = s.Update(ctx, func(tx store.Tx) error { return tx.Makers().ReplaceOriginFactory(o2, nil) })
	if !failure.Is(err, failure.Conflict) {
		t.Errorf("replacing no certificate: %v, want a conflict", err)
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Makers().ReplaceOriginFactory(o2, o.Factory.Raw); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("device.reorigin"))
		return err
	})
	_ = s.View(ctx, func(tx store.Tx) error {
		got, err := tx.Makers().OriginOf("dev_x")
		if err != nil || !got.Factory.Equal(c2) || !got.Issuer.Equal(c) || got.FactorySerial != "02" || got.SPKISHA256 != o2.SPKISHA256 ||
			got.State != maker.Good || got.RevokedAt != nil || got.Reason != nil || got.Evidence != nil || got.Serial != "AS-1" || got.MakerID != "mkr_1" || !got.CreatedAt.Equal(t0) {
			t.Errorf("origin after the re-issue = %+v, %v", got, err)
		}
		return nil
	})
	err = s.Update(ctx, func(tx store.Tx) error { return tx.Makers().ReplaceOriginFactory(o2, o.Factory.Raw) })
	if !failure.Is(err, failure.Conflict) {
		t.Errorf("replacing the superseded certificate again: %v, want a conflict", err)
	}
	checkOriginState(t, s, "dev_x", "mkr_1", "02", c2, maker.Good)
}

// checkOriginState checks what StateRows, which reconciliation reads, says of device's
// origin: alone, and in the pages of every origin.
func checkOriginState(t *testing.T, s store.Store, device, makerID, serial string, factory *x509.Certificate, state maker.FactoryState) {
	t.Helper()
	want := store.OriginStateRow{DeviceID: device, MakerID: makerID, FactorySerial: serial, FactorySHA256: sha256.Sum256(factory.Raw), State: string(state)}
	_ = s.View(ctx, func(tx store.Tx) error {
		if got, err := tx.StateRows().OriginState(device); err != nil || got != want {
			t.Errorf("OriginState(%s) = %+v, %v; want %+v", device, got, err, want)
		}
		if _, err := tx.StateRows().OriginState("nope"); !failure.Is(err, failure.NotFound) {
			t.Errorf("OriginState of a device without an origin: %v, want not found", err)
		}
		rows, err := tx.StateRows().OriginStates("", 1)
		if err != nil || len(rows) != 1 || rows[0] != want {
			t.Errorf("OriginStates first page = %+v, %v; want %+v", rows, err, want)
		}
		if rows, err := tx.StateRows().OriginStates(device, 1); err != nil || len(rows) != 0 {
			t.Errorf("OriginStates after %s = %+v, %v; want none", device, rows, err)
		}
		return nil
	})
}

// UpgradeMakersSeed fills a database at schema 0013 for CheckUpgradedMakers: a manufacturer
// with a model, a lot and a device that has a build record, a certificate, evidence and a
// custody offer.
func UpgradeMakersSeed(t *testing.T) []Statement {
	return []Statement{
		{`INSERT INTO parties (id, name, kind, created_at) VALUES ('mfr', 'Mfr', 'manufacturer', 1), ('op', 'Op', 'operator', 1)`, nil},
		{`INSERT INTO cas (id, party_id, stage, role, name, key_id, cert_der, created_at) VALUES ('ca1', 'mfr', 'manufacturing', 'issuing', 'ca', 'k', ?, 1)`, []any{SelfSignedForTest(t)}},
		{`INSERT INTO models (id, manufacturer_id, name, hardware_type, created_at) VALUES ('m1', 'mfr', 'm', '1.2.3', 1)`, nil},
		{`INSERT INTO lots (id, manufacturer_id, model_id, name, line, issuing_ca_id, created_at) VALUES ('l1', 'mfr', 'm1', 'l', 'line', 'ca1', 1)`, nil},
		{`INSERT INTO devices (id, manufacturer_id, model_id, lot_id, serial, state, custodian_id, factory_cert, created_at, updated_at, environment_id, operational_cert)
  VALUES ('d1', 'mfr', 'm1', 'l1', 'SN-1', 'registered', 'mfr', 'f1', 1, 2, '', ''), ('d2', 'mfr', 'm1', 'l1', 'SN-2', 'registered', 'op', '', 3, 4, '', '')`, nil},
		{`INSERT INTO build_records (id, device_id, payload_sha256, envelope, created_at) VALUES ('br1', 'd1', ?, ?, 1)`, []any{[]byte{1}, []byte("{}")}},
		{`INSERT INTO transfers (id, from_party_id, to_party_id, state, offered_by, offered_at, device_count) VALUES ('t1', 'mfr', 'op', 'offered', 'x', 1, 1)`, nil},
		{`INSERT INTO transfer_items (transfer_id, device_id, open) VALUES ('t1', 'd1', 1)`, nil},
	}
}

// CheckUpgradedMakers checks a store migrated from UpgradeMakersSeed: the devices and what
// refers to them are intact, and a device without manufacturer, model or lot can be added.
func CheckUpgradedMakers(t *testing.T, s store.Store) {
	t.Helper()
	_ = s.View(ctx, func(tx store.Tx) error {
		d, err := tx.Devices().GetDevice("d1")
		if err != nil || d.ManufacturerID != "mfr" || d.ModelID != "m1" || d.LotID != "l1" || d.Serial != "SN-1" || d.FactoryCert != "f1" || d.UpdatedAt.UnixMicro() != 2 {
			t.Errorf("d1 after the upgrade: %+v, %v", d, err)
		}
		if d, err := tx.Devices().DeviceBySerial("mfr", "SN-2"); err != nil || d.ID != "d2" || d.CustodianID != "op" {
			t.Errorf("d2 after the upgrade: %+v, %v", d, err)
		}
		if br, err := tx.Devices().ListDevices(store.DeviceFilter{LotID: "l1"}); err != nil || len(br) != 2 {
			t.Errorf("devices of lot l1 after the upgrade: %d, %v", len(br), err)
		}
		if br, err := tx.BuildRecords().LatestBuildRecord("d1"); err != nil || br.ID != "br1" {
			t.Errorf("build record of d1 after the upgrade: %+v, %v", br, err)
		}
		if ids, err := tx.Custody().TransferDevices("t1", "", 10); err != nil || len(ids) != 1 || ids[0] != "d1" {
			t.Errorf("transfer t1 after the upgrade: %v, %v", ids, err)
		}
		return nil
	})
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Devices().CreateDevice(device.Device{ID: "dx", Serial: "X-1", State: device.Registered, CustodianID: "op", CreatedAt: t0, UpdatedAt: t0}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("device.external"))
		return err
	})
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.Devices().CreateDevice(device.Device{ID: "dy", ManufacturerID: "nope", ModelID: "m1", LotID: "l1", Serial: "Y", State: device.Registered, CustodianID: "op", CreatedAt: t0, UpdatedAt: t0})
	})
	if err == nil {
		t.Error("a device of an unknown manufacturer was stored: the foreign keys did not survive the upgrade")
	}
}

func testSourceStates(t *testing.T, s store.Store) {
	seedParty(t, s, "op", party.Operator)
	seedParty(t, s, "op2", party.Operator)
	seedMaker(t, s, "mkr_1", "op", "acme")
	seedMaker(t, s, "mkr_2", "op2", "acme")
	failing := maker.SourceState{Kind: "crl", URL: "http://crl.example/a.crl", Issuer: "CN=Acme CA", Outcome: "unreachable", Err: "HTTP 404",
		LastAttempt: t0.Add(time.Hour), LastOK: t0, HeldUntil: t0.Add(7 * 24 * time.Hour), FailingSince: t0.Add(time.Minute)}
	ok := maker.SourceState{Kind: "ocsp", URL: "http://ocsp.example/", Issuer: "CN=Acme CA", Outcome: "ok", LastAttempt: t0, LastOK: t0}
	// A write of observations alone needs no audit event in its transaction.
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Makers().PutSourceStates("mkr_1", []maker.SourceState{ok, failing}) })
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Makers().PutSourceStates("mkr_2", []maker.SourceState{ok}) })
	err := s.Update(ctx, func(tx store.Tx) error { return tx.Makers().PutSourceStates("mkr_none", []maker.SourceState{ok}) })
	if !failure.Is(err, failure.NotFound) {
		t.Errorf("source states of no maker: %v, want not found", err)
	}
	var got []maker.SourceState
	if err := s.View(ctx, func(tx store.Tx) (err error) { got, err = tx.Makers().ListSourceStates("op"); return err }); err != nil {
		t.Fatal(err)
	}
	failing.MakerID, ok.MakerID = "mkr_1", "mkr_1"
	if len(got) != 2 || !sameSource(got[0], failing) || !sameSource(got[1], ok) {
		t.Fatalf("the operator's source states = %+v, want %+v and %+v", got, failing, ok)
	}
	if err := s.View(ctx, func(tx store.Tx) (err error) { got, err = tx.Makers().ListSourceStates(""); return err }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Errorf("every operator's source states: %d, want 3", len(got))
	}
	// A round replaces the maker's states; none forgets them.
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Makers().PutSourceStates("mkr_1", nil) })
	if err := s.View(ctx, func(tx store.Tx) (err error) { got, err = tx.Makers().ListSourceStates("op"); return err }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("after an empty round: %+v, want none", got)
	}
}

func sameSource(a, b maker.SourceState) bool {
	return a.MakerID == b.MakerID && a.Kind == b.Kind && a.URL == b.URL && a.Issuer == b.Issuer && a.Outcome == b.Outcome && a.Err == b.Err &&
		a.LastAttempt.Equal(b.LastAttempt) && a.LastOK.Equal(b.LastOK) && a.HeldUntil.Equal(b.HeldUntil) && a.FailingSince.Equal(b.FailingSince)
}
