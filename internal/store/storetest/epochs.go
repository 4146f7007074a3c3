package storetest

import (
	"crypto/x509"
	"encoding/json"
	"math/big"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/waiver"
)

var epochTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"GovernanceEpochMovesWithEveryWriter", testEpochWriters},
	{"GovernanceEpochMovesWithEnvironmentWriters", testEpochEnvironmentWriters},
	{"EpochsUnmoved", testEpochsUnmoved},
}

// unmovedEpochs is the optional side of store.Epochs that readcache uses to skip its epoch
// read in a write transaction (readcache.unmovedEpochs).
type unmovedEpochs interface{ Unmoved() bool }

// unmoved reports what tx's Epochs says of the transaction so far; ok is false when the store
// does not tell.
func unmoved(tx store.Tx) (v, ok bool) {
	u, ok := tx.Epochs().(unmovedEpochs)
	if !ok {
		return false, false
	}
	return u.Unmoved(), true
}

func epochNow(t *testing.T, s store.Store) int64 {
	t.Helper()
	var e int64
	if err := s.View(ctx, func(tx store.Tx) (err error) { e, err = tx.Epochs().Epoch(store.GovernanceEpoch); return err }); err != nil {
		t.Fatalf("reading the governance epoch: %v", err)
	}
	return e
}

// testEpochWriters runs every store method that changes what authentication, authorization
// or the cached catalog reads see, each in its own audited transaction, and checks that the
// governance epoch moved with it (and that the transaction saw its own move); a rolled-back
// change and a recorded use do not move it. A writer added later must be added here.
func testEpochWriters(t *testing.T, s store.Store) {
	der := SelfSignedForTest(t)
	exp := t0.Add(time.Hour)
	cell := ownership.Cell{Stage: ownership.Manufacturing, Duty: ownership.Issue, Scope: ownership.Scope{Kind: ownership.Lot, ID: "lot1"}, PartyID: "acme"}
	key := ownership.Key{Stage: cell.Stage, Duty: cell.Duty, Scope: cell.Scope}
	pair := ownership.Pair{Stage: ownership.Manufacturing, Duty: ownership.Issue}
	steps := []epochStep{
		{"CreateParty", func(tx store.Tx) error {
			if err := tx.Parties().CreateParty(party.Party{ID: "acme", Name: "Acme", Kind: party.Manufacturer, CreatedAt: t0}); err != nil {
				return err
			}
			return tx.Parties().CreateParty(party.Party{ID: "other", Name: "Other", Kind: party.Manufacturer, CreatedAt: t0})
		}},
		{"CreatePrincipal", func(tx store.Tx) error {
			return tx.Parties().CreatePrincipal(party.Principal{ID: "prn1", PartyID: "acme", Name: "line1", Kind: party.Service, CreatedAt: t0})
		}},
		{"CreateToken", func(tx store.Tx) error {
			return tx.Parties().CreateToken(party.Token{ID: "tok1", PrincipalID: "prn1", CreatedAt: t0, ExpiresAt: &exp}, []byte("hash-1-of-32-bytes-xxxxxxxxxxxxx"))
		}},
		{"CreateToken2", func(tx store.Tx) error {
			return tx.Parties().CreateToken(party.Token{ID: "tok2", PrincipalID: "prn1", CreatedAt: t0, ExpiresAt: &exp}, []byte("hash-2-of-32-bytes-xxxxxxxxxxxxx"))
		}},
		{"SupersedeTokens", func(tx store.Tx) error {
			_, err := tx.Parties().SupersedeTokens("prn1", "tok2", t0, t0.Add(time.Minute))
			return err
		}},
		{"RevokeToken", func(tx store.Tx) error { return tx.Parties().RevokeToken("tok2", t0) }},
		{"SetDisabled", func(tx store.Tx) error { at := t0; return tx.Parties().SetDisabled("prn1", &at) }},
		{"SetEnabled", func(tx store.Tx) error { return tx.Parties().SetDisabled("prn1", nil) }},
		{"SetPrincipalDuties", func(tx store.Tx) error {
			return tx.Duties().SetPrincipalDuties("prn1", []ownership.Pair{pair})
		}},
		{"CreateSoDRule", func(tx store.Tx) error {
			return tx.Duties().CreateSoDRule(store.SoDRule{ID: "r1", A: pair, B: ownership.Pair{Stage: ownership.Manufacturing, Duty: ownership.Audit}, By: "x", At: t0})
		}},
		{"DeleteSoDRule", func(tx store.Tx) error { return tx.Duties().DeleteSoDRule("r1") }},
		{"SetCell", func(tx store.Tx) error { return tx.Ownership().SetCell(cell, "x", t0) }},
		{"SetCellAgain", func(tx store.Tx) error { c := cell; c.PartyID = "other"; return tx.Ownership().SetCell(c, "x", t0) }},
		{"DeleteCell", func(tx store.Tx) error { return tx.Ownership().DeleteCell(key) }},
		{"CreateCA", func(tx store.Tx) error {
			if err := tx.CAs().CreateCA(ca.CA{ID: "ca1", PartyID: "acme", Stage: "manufacturing", Role: ca.Root, Name: "root", KeyID: "k", CertDER: der, CreatedAt: t0}); err != nil {
				return err
			}
			return tx.CAs().CreateCA(ca.CA{ID: "ca2", PartyID: "acme", Stage: "manufacturing", Role: ca.Root, Name: "root2", KeyID: "k2", CertDER: der, CreatedAt: t0})
		}},
		{"CreateModel", func(tx store.Tx) error {
			return tx.Catalog().CreateModel(device.Model{ID: "m1", ManufacturerID: "acme", Name: "m", HardwareType: "1.3.6.1.4.1.99999.1", CreatedAt: t0})
		}},
		{"CreateLot", func(tx store.Tx) error {
			return tx.Catalog().CreateLot(device.Lot{ID: "lot1", ManufacturerID: "acme", ModelID: "m1", Name: "l", Line: "a", IssuingCAID: "ca1", CreatedAt: t0})
		}},
		{"Succeed", func(tx store.Tx) error {
			_, _, err := tx.Succession().Succeed("ca1", "ca2", t0, t0.Add(time.Hour))
			return err
		}},
		{"RetireCA", func(tx store.Tx) error { return tx.CAs().RetireCA("ca1", t0) }},
		{"CreateSigningKey", func(tx store.Tx) error {
			return tx.CAs().CreateSigningKey(ca.SigningKey{ID: "sk1", PartyID: "acme", Purpose: "build-record", KeyID: "brk-1", PublicKeyDER: []byte{1}, CreatedAt: t0})
		}},
		{"RotateSigningKey", func(tx store.Tx) error {
			return tx.KeyHistory().RotateSigningKey(ca.SigningKey{ID: "sk2", PartyID: "acme", Purpose: "build-record", KeyID: "brk-2", PublicKeyDER: []byte{2}, CreatedAt: t0.Add(time.Second)})
		}},
		{"DeletePrincipal", func(tx store.Tx) error { return tx.Parties().DeletePrincipal("prn1") }},
	}
	checkEpochSteps(t, s, steps)

	// A recorded use is not a change.
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Parties().CreatePrincipal(party.Principal{ID: "prn2", PartyID: "acme", Name: "line2", Kind: party.Service, CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.Parties().CreateToken(party.Token{ID: "tok3", PrincipalID: "prn2", CreatedAt: t0, ExpiresAt: &exp}, []byte("hash-3-of-32-bytes-xxxxxxxxxxxxx")); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("principal.create"))
		return err
	})
	before := epochNow(t, s)
	if err := s.TouchToken(ctx, "prn2", "tok3", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchPrincipal(ctx, "prn2", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if after := epochNow(t, s); after != before {
		t.Errorf("recording a use moved the governance epoch from %d to %d", before, after)
	}
	// A change that rolls back leaves it where it was.
	errStop := store.ErrConflict
	if err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Parties().SetDisabled("prn2", &t0); err != nil {
			return err
		}
		return errStop
	}); err != errStop {
		t.Fatalf("rolled-back update: %v", err)
	}
	if after := epochNow(t, s); after != before {
		t.Errorf("a rolled-back change moved the governance epoch from %d to %d", before, after)
	}
}

// epochStep is one audited change that must move the governance epoch.
type epochStep struct {
	name string
	fn   func(tx store.Tx) error
}

// checkEpochSteps runs each step in its own audited transaction and checks that the
// governance epoch moved with it, and that the transaction saw its own move.
func checkEpochSteps(t *testing.T, s store.Store, steps []epochStep) {
	t.Helper()
	for _, st := range steps {
		before := epochNow(t, s)
		var inside int64
		mustUpdate(t, s, func(tx store.Tx) error {
			if err := st.fn(tx); err != nil {
				return err
			}
			if v, ok := unmoved(tx); ok && v {
				t.Errorf("%s: the transaction's epochs say unmoved after it moved the governance epoch", st.name)
			}
			var err error
			if inside, err = tx.Epochs().Epoch(store.GovernanceEpoch); err != nil {
				return err
			}
			_, err = tx.Audit().Append(ev("epoch." + st.name))
			return err
		})
		after := epochNow(t, s)
		if after <= before {
			t.Errorf("%s: the governance epoch stayed at %d", st.name, before)
		}
		if inside != after {
			t.Errorf("%s: the transaction saw epoch %d, committed %d", st.name, inside, after)
		}
	}
}

// testEpochEnvironmentWriters: every writer of what EST enrollment and renewal read through
// the cache (environments, EST labels, policies, waivers, a key history) moves the governance
// epoch (migration 0030), and reading them does not.
func testEpochEnvironmentWriters(t *testing.T, s store.Store) {
	der := SelfSignedForTest(t)
	env := environment.Environment{ID: "env1", OperatorID: "op", Name: "plant", IssuingCAID: "ca1", TrustDomain: "td",
		Lifetime: environment.Duration(time.Hour), MaxAge: environment.Duration(2 * time.Hour), Services: []string{}, CreatedAt: t0}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Parties().CreateParty(party.Party{ID: "op", Name: "Op", Kind: party.Operator, CreatedAt: t0}); err != nil {
			return err
		}
		for _, id := range []string{"ca1", "ca2"} {
			if err := tx.CAs().CreateCA(ca.CA{ID: id, PartyID: "op", Stage: "operational", Role: ca.Root, Name: id, KeyID: id, CertDER: der, CreatedAt: t0}); err != nil {
				return err
			}
		}
		_, err := tx.Audit().Append(ev("seed"))
		return err
	})
	checkEpochSteps(t, s, []epochStep{
		{"CreateEnvironment", func(tx store.Tx) error { return tx.Environments().CreateEnvironment(env) }},
		{"ClaimESTName", func(tx store.Tx) error { _, err := tx.Environments().ClaimESTName("plant", "env1", t0); return err }},
		{"UpdateEnvironment", func(tx store.Tx) error {
			e := env
			e.Lifetime = environment.Duration(2 * time.Hour)
			return tx.Environments().UpdateEnvironment(e)
		}},
		{"AddPolicy", func(tx store.Tx) error {
			return tx.Environments().AddPolicy(environment.PolicyVersion{EnvironmentID: "env1", Kind: environment.Renewal, Version: 1, Spec: json.RawMessage(`{"rules":[]}`), CreatedBy: "x", CreatedAt: t0})
		}},
		{"CreateWaiver", func(tx store.Tx) error {
			return tx.Waivers().CreateWaiver(waiver.Waiver{ID: "w1", PartyID: "op", DeviceID: "d1", EnvironmentID: "env1", Rule: "fw", Reason: "r", ApprovalID: "a1", RequestedBy: "u", NotAfter: t0.Add(time.Hour), CreatedAt: t0})
		}},
		{"CreateSigningKey", func(tx store.Tx) error {
			return tx.CAs().CreateSigningKey(ca.SigningKey{ID: "sk1", PartyID: "op", Purpose: "build-record", KeyID: "brk-1", PublicKeyDER: []byte{1}, CreatedAt: t0})
		}},
		{"RotateSigningKey", func(tx store.Tx) error {
			return tx.KeyHistory().RotateSigningKey(ca.SigningKey{ID: "sk2", PartyID: "op", Purpose: "build-record", KeyID: "brk-2", PublicKeyDER: []byte{2}, CreatedAt: t0.Add(time.Second)})
		}},
		{"SucceedMovesEnvironment", func(tx store.Tx) error {
			_, envs, err := tx.Succession().Succeed("ca1", "ca2", t0, t0.Add(time.Hour))
			if err == nil && envs != 1 {
				t.Errorf("Succeed moved %d environments, want 1", envs)
			}
			return err
		}},
	})

	// Reading them is not a change.
	before := epochNow(t, s)
	if err := s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Environments().EnvironmentByLabel("plant"); err != nil {
			return err
		}
		if _, err := tx.Environments().LatestPolicy("env1", environment.Renewal); err != nil {
			return err
		}
		if _, err := tx.Waivers().ListWaivers(store.WaiverFilter{DeviceID: "d1", ActiveAt: &t0}); err != nil {
			return err
		}
		_, err := tx.KeyHistory().SigningKeys("op", "build-record")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if after := epochNow(t, s); after != before {
		t.Errorf("reading moved the governance epoch from %d to %d", before, after)
	}
}

// testEpochsUnmoved: a write transaction whose writes are only those of a factory issuance (a
// certificate's reservation, its completion, a new device, a new build record, the audit event)
// or of EST enrollment and renewal (a device update, a revocation, evidence) moves no epoch,
// and a store that tells (unmovedEpochs) says so; one more write that moves the governance
// epoch, in the same transaction, makes it say moved. Both directions matter:
// readcache skips its epoch read on "unmoved", so a wrong "unmoved" would leave this process's
// own change out of its cache for up to the staleness bound.
func testEpochsUnmoved(t *testing.T, s store.Store) {
	seedDevice(t, s, "d1")
	der := SelfSignedForTest(t)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	serial := big.NewInt(0x51)
	epochs := func() [2]int64 {
		var v [2]int64
		if err := s.View(ctx, func(tx store.Tx) error {
			g, err := tx.Epochs().Epoch(store.GovernanceEpoch)
			if err != nil {
				return err
			}
			b, err := tx.Epochs().Epoch(store.BuildRecordsEpoch)
			v = [2]int64{g, b}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return v
	}
	steps := []epochStep{
		{"Reserve", func(tx store.Tx) error {
			return tx.Certificates().Reserve(ca.Cert{Serial: serial, CAID: "ca1", DeviceID: "d2", Profile: "factory", TBS: cert.RawTBSCertificate,
				NotBefore: t0, NotAfter: t0.Add(time.Hour), CreatedAt: t0, KeySHA256: []byte("key-of-32-bytes-xxxxxxxxxxxxxxxx")})
		}},
		{"MarkIssuedCreateDeviceCreateBuildRecord", func(tx store.Tx) error {
			if err := tx.Certificates().MarkIssued(serial, der, t0); err != nil {
				return err
			}
			if err := tx.Devices().CreateDevice(device.Device{ID: "d2", ManufacturerID: "acme", ModelID: "m1", LotID: "l1", Serial: "SN-unmoved",
				State: device.Registered, CustodianID: "acme", FactoryCert: "51", CreatedAt: t0, UpdatedAt: t0}); err != nil {
				return err
			}
			if err := tx.BuildRecords().CreateBuildRecord(store.BuildRecord{ID: "br1", DeviceID: "d2", PayloadSHA256: make([]byte, 32), Envelope: []byte("{}"), CreatedAt: t0}); err != nil {
				return err
			}
			_, err := tx.Audit().Append(ev("factory.issue"))
			return err
		}},
		// What EST enrollment and renewal write besides: the device moves to its environment,
		// the certificate it replaces is revoked as superseded, and evidence is recorded.
		{"UpdateDeviceRevokeCreateEvidence", func(tx store.Tx) error {
			d := device.Device{ID: "d2", ManufacturerID: "acme", ModelID: "m1", LotID: "l1", Serial: "SN-unmoved", State: device.Registered, CustodianID: "acme", FactoryCert: "51"}
			next := d
			next.State, next.EnvironmentID, next.OperationalCert, next.UpdatedAt = device.Active, "env1", "51", t0
			if err := tx.Devices().UpdateDevice(next, d); err != nil {
				return err
			}
			if err := tx.Certificates().Revoke(serial, 4, t0); err != nil {
				return err
			}
			if err := tx.Evidence().CreateEvidence(environment.Evidence{Serial: "51", DeviceID: "d2", EnvironmentID: "env1", Kind: "onboard", FactorySerial: "f",
				Protocol: "est", PolicyKind: environment.Onboarding, PolicyVersion: 1, PrincipalID: "x", Facts: json.RawMessage(`{}`), CreatedAt: t0}); err != nil {
				return err
			}
			_, err := tx.Audit().Append(ev("device.enroll"))
			return err
		}},
	}
	seedParty(t, s, "op", party.Operator)
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Environments().CreateEnvironment(environment.Environment{ID: "env1", OperatorID: "op", Name: "plant", IssuingCAID: "ca1", TrustDomain: "td",
			Lifetime: environment.Duration(time.Hour), MaxAge: environment.Duration(2 * time.Hour), Services: []string{}, CreatedAt: t0}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("environment.create"))
		return err
	})
	told := false
	for _, st := range steps {
		before := epochs()
		mustUpdate(t, s, func(tx store.Tx) error {
			if err := st.fn(tx); err != nil {
				return err
			}
			v, ok := unmoved(tx)
			told = ok
			if ok && !v {
				t.Errorf("%s: the transaction's epochs say moved; it wrote nothing an epoch trigger follows", st.name)
			}
			return nil
		})
		if after := epochs(); after != before {
			t.Errorf("%s moved the epochs from %v to %v", st.name, before, after)
		}
	}
	if !told {
		return // the store does not tell: nothing more to check
	}
	// After a write that moves the governance epoch, the same transaction is not unmoved,
	// whatever unmoved writes follow it.
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Catalog().CreateModel(device.Model{ID: "m2", ManufacturerID: "acme", Name: "m2", HardwareType: "1.2.3", CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.Devices().CreateDevice(device.Device{ID: "d3", ManufacturerID: "acme", ModelID: "m2", LotID: "l1", Serial: "SN-moved",
			State: device.Registered, CustodianID: "acme", CreatedAt: t0, UpdatedAt: t0}); err != nil {
			return err
		}
		if v, _ := unmoved(tx); v {
			t.Errorf("after CreateModel and CreateDevice the transaction's epochs say unmoved")
		}
		_, err := tx.Audit().Append(ev("model.create"))
		return err
	})
}
