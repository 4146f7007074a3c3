package reports_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/policy"
	"github.com/hallmark-id/hallmark/internal/reports"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// benchNow is the instant the benchmark fleet is seen at.
var benchNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// benchDevices is the fleet size (HALLMARK_BENCH_DEVICES, default 100,000).
func benchDevices() int {
	if n, err := strconv.Atoi(os.Getenv("HALLMARK_BENCH_DEVICES")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

var fleet struct {
	once sync.Once
	st   store.Store
	dir  string
	took time.Duration
	err  error
}

// benchStore builds the fleet once per process in a SQLite file through the store, in
// transactions of 2,000 devices. Ten environments of two operators (max_age 24h); each device
// has a factory certificate, a signed build record (one envelope shared by all, verified per
// device all the same), an onboarding and, for a third of them, a renewal; issuance times are
// spread over 36 hours so about a third is overdue; every 20th device is quarantined; every
// 100th reported other firmware; environment env-0 tightened its onboarding policy to v2.
func benchStore(b *testing.B) store.Store {
	fleet.once.Do(func() {
		fleet.dir, fleet.err = os.MkdirTemp("", "hallmark-bench-")
		if fleet.err != nil {
			return
		}
		start := time.Now()
		fleet.st, fleet.err = buildFleet(context.Background(), filepath.Join(fleet.dir, "hallmark.db"), benchDevices())
		fleet.took = time.Since(start)
	})
	if fleet.err != nil {
		b.Fatal(fleet.err)
	}
	return fleet.st
}

func buildFleet(ctx context.Context, path string, n int) (store.Store, error) {
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	return st, fillFleet(ctx, st, n)
}

// fillFleet writes benchStore's fleet of n devices into an empty store.
func fillFleet(ctx context.Context, st store.Store, n int) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench factory"}, NotBefore: benchNow.Add(-365 * 24 * time.Hour), NotAfter: benchNow.Add(365 * 24 * time.Hour)}
	factoryDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return err
	}
	firmware := fmt.Sprintf("%064x", 15)
	rec := &buildrecord.Record{Manufacturer: "acme", Model: "m", HardwareRevision: "B", Serial: "SN-1", Lot: "l", FirmwareDigest: buildrecord.Digest{SHA256: firmware},
		TestResult: buildrecord.TestPass, BuiltAt: benchNow.Add(-30 * 24 * time.Hour)}
	env, digest, err := buildrecord.Sign(ctx, rec, key.Public(), key)
	if err != nil {
		return err
	}
	envelope, err := json.Marshal(env)
	if err != nil {
		return err
	}
	ev := audit.Event{At: benchNow, PartyID: "p", PrincipalID: "x", Action: "bench"}
	// The default onboarding policy but for build-record-names-device: the fleet shares one
	// build record.
	spec := policy.DefaultOnboarding()
	for i, r := range spec.Rules {
		if r.Name == "build-record-names-device" {
			spec.Rules = append(spec.Rules[:i], spec.Rules[i+1:]...)
			break
		}
	}
	onb, _ := json.Marshal(spec)
	ren, _ := json.Marshal(policy.DefaultRenewal())
	err = st.Update(ctx, func(tx store.Tx) error {
		for _, p := range []party.Party{{ID: "acme", Name: "Acme", Kind: party.Manufacturer}, {ID: "op1", Name: "Op 1", Kind: party.Operator}, {ID: "op2", Name: "Op 2", Kind: party.Operator}, {ID: "aud", Name: "Aud", Kind: party.Auditor}} {
			p.CreatedAt = benchNow
			if err := tx.Parties().CreateParty(p); err != nil {
				return err
			}
		}
		// Party aud audits the deployment, so it sees the whole fleet.
		if err := tx.Ownership().SetCell(ownership.Cell{Stage: ownership.Operational, Duty: ownership.Audit, Scope: ownership.DeploymentScope, PartyID: "aud"}, "x", benchNow); err != nil {
			return err
		}
		if err := tx.CAs().CreateCA(ca.CA{ID: "ca1", PartyID: "acme", Stage: "manufacturing", Role: ca.Root, Name: "root", KeyID: "k", CertDER: factoryDER, CreatedAt: benchNow}); err != nil {
			return err
		}
		if err := tx.CAs().CreateSigningKey(ca.SigningKey{ID: "sk1", PartyID: "acme", Purpose: "build-record", KeyID: "k", PublicKeyDER: pubDER, CreatedAt: benchNow}); err != nil {
			return err
		}
		if err := tx.Catalog().CreateModel(device.Model{ID: "m1", ManufacturerID: "acme", Name: "m", HardwareType: "1.2.3", CreatedAt: benchNow}); err != nil {
			return err
		}
		if err := tx.Catalog().CreateLot(device.Lot{ID: "l1", ManufacturerID: "acme", ModelID: "m1", Name: "l", Line: "a", IssuingCAID: "ca1", CreatedAt: benchNow}); err != nil {
			return err
		}
		for e := 0; e < 10; e++ {
			id := fmt.Sprintf("env-%d", e)
			if err := tx.Environments().CreateEnvironment(environment.Environment{ID: id, OperatorID: operatorOf(e), Name: id, IssuingCAID: "ca1", TrustDomain: "td",
				Lifetime: environment.Duration(24 * time.Hour), MaxAge: environment.Duration(24 * time.Hour), Services: []string{"mqtt"}, CreatedAt: benchNow}); err != nil {
				return err
			}
			for _, pv := range []environment.PolicyVersion{{Kind: environment.Onboarding, Version: 1, Spec: onb}, {Kind: environment.Renewal, Version: 1, Spec: ren}} {
				pv.EnvironmentID, pv.CreatedBy, pv.CreatedAt = id, "x", benchNow
				if err := tx.Environments().AddPolicy(pv); err != nil {
					return err
				}
			}
		}
		tight := `{"rules":[{"name":"hardware-c","expr":"facts.hardware_revision == \"C\""}]}`
		if err := tx.Environments().AddPolicy(environment.PolicyVersion{EnvironmentID: "env-0", Kind: environment.Onboarding, Version: 2, Spec: json.RawMessage(tight), CreatedBy: "x", CreatedAt: benchNow}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev)
		return err
	})
	if err != nil {
		return err
	}
	serial := int64(0x1000)
	next := func() *big.Int { serial++; return big.NewInt(serial) }
	const batch = 2000
	for lo := 0; lo < n; lo += batch {
		err := st.Update(ctx, func(tx store.Tx) error {
			for i := lo; i < min(lo+batch, n); i++ {
				e := i % 10
				envID := fmt.Sprintf("env-%d", e)
				d := device.Device{ID: fmt.Sprintf("dev-%07d", i), ManufacturerID: "acme", ModelID: "m1", LotID: "l1", Serial: fmt.Sprintf("SN-%07d", i),
					State: device.Active, CustodianID: operatorOf(e), EnvironmentID: envID, CreatedAt: benchNow, UpdatedAt: benchNow}
				fs, op := next(), next()
				d.FactoryCert, d.OperationalCert = ca.SerialHex(fs), ca.SerialHex(op)
				if i%20 == 0 {
					d.State = device.Quarantined
				}
				if err := tx.Devices().CreateDevice(d); err != nil {
					return err
				}
				if err := issue(tx, fs, d.ID, "factory", benchNow.Add(-30*24*time.Hour), benchNow.Add(365*24*time.Hour), factoryDER); err != nil {
					return err
				}
				if err := tx.BuildRecords().CreateBuildRecord(store.BuildRecord{ID: "br-" + d.ID, DeviceID: d.ID, PayloadSHA256: digest[:], Envelope: envelope, CreatedAt: benchNow}); err != nil {
					return err
				}
				facts := `{"firmware_digest":"` + firmware + `","hardware_revision":"B"}`
				if i%100 == 1 {
					facts = `{"firmware_digest":"` + fmt.Sprintf("%064x", 10) + `","hardware_revision":"B"}`
				}
				at := benchNow.Add(-time.Duration((i*7)%36) * time.Hour)
				kind, pk, based := "onboard", environment.Onboarding, d.FactoryCert
				if i%3 == 0 {
					first := next()
					firstAt := at.Add(-20 * time.Hour)
					if err := issue(tx, first, d.ID, "operational", firstAt, firstAt.Add(24*time.Hour), []byte{1}); err != nil {
						return err
					}
					if err := tx.Evidence().CreateEvidence(environment.Evidence{Serial: ca.SerialHex(first), DeviceID: d.ID, EnvironmentID: envID, Kind: "onboard", BasedOn: d.FactoryCert,
						FactorySerial: d.FactoryCert, Protocol: "est", PolicyKind: environment.Onboarding, PolicyVersion: 1, PrincipalID: "x", Facts: json.RawMessage(facts), CreatedAt: firstAt}); err != nil {
						return err
					}
					if err := tx.Certificates().Revoke(first, 4, at); err != nil {
						return err
					}
					kind, pk, based = "renew", environment.Renewal, ca.SerialHex(first)
				}
				if err := issue(tx, op, d.ID, "operational", at, at.Add(24*time.Hour), []byte{1}); err != nil {
					return err
				}
				if err := tx.Evidence().CreateEvidence(environment.Evidence{Serial: ca.SerialHex(op), DeviceID: d.ID, EnvironmentID: envID, Kind: kind, BasedOn: based,
					FactorySerial: d.FactoryCert, Protocol: "est", PolicyKind: pk, PolicyVersion: 1, PrincipalID: "x", Facts: json.RawMessage(facts), CreatedAt: at}); err != nil {
					return err
				}
				if i%20 == 0 {
					if err := tx.Certificates().Revoke(op, 1, benchNow.Add(-time.Hour)); err != nil {
						return err
					}
				}
			}
			_, err := tx.Audit().Append(ev)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func operatorOf(env int) string {
	if env < 5 {
		return "op1"
	}
	return "op2"
}

func issue(tx store.Tx, serial *big.Int, deviceID, profile string, at, end time.Time, der []byte) error {
	tbs := []byte{1} // the store checks a certificate's TBS against its reservation's
	if c, err := x509.ParseCertificate(der); err == nil {
		tbs = c.RawTBSCertificate
	}
	if err := tx.Certificates().Reserve(ca.Cert{Serial: serial, CAID: "ca1", DeviceID: deviceID, Profile: profile, TBS: tbs, NotBefore: at, NotAfter: end, CreatedAt: at}); err != nil {
		return err
	}
	return tx.Certificates().MarkIssued(serial, der, at)
}

// BenchmarkReports measures each report over the fleet of benchStore, for auditor party aud
// (the whole fleet, through its deployment-scope audit cell) and for operator op1 (half of it,
// filtered in SQL). A report that sees nothing fails the benchmark rather than time an empty
// scope.
func BenchmarkReports(b *testing.B) {
	st := benchStore(b)
	b.Logf("fleet of %d devices built in %s", benchDevices(), fleet.took.Round(time.Millisecond))
	svc := reports.New(st, func() time.Time { return benchNow })
	ctx := context.Background()
	for _, who := range []struct {
		name string
		a    audit.Actor
	}{
		{"auditor", audit.Actor{PartyID: "aud", PrincipalID: "x", Admin: true}},
		{"operator", audit.Actor{PartyID: "op1", PrincipalID: "y"}},
	} {
		for _, r := range []struct {
			name string
			fn   func() (int, error)
		}{
			{"summary", func() (int, error) { s, err := svc.Summary(ctx, who.a); return s.Devices, err }},
			{"inventory-page", func() (int, error) { p, err := svc.Inventory(ctx, who.a, "", 1000); return len(p.Items), err }},
			{"rotation", func() (int, error) { r, err := svc.Rotation(ctx, who.a, reports.TrendOptions{}); return r.Active, err }},
			{"rotation-trend-30d-1d", func() (int, error) {
				r, err := svc.Rotation(ctx, who.a, reports.TrendOptions{Since: 30 * 24 * time.Hour, Every: 24 * time.Hour})
				return len(r.Trend), err
			}},
			{"expiring-72h", func() (int, error) { r, err := svc.Expiring(ctx, who.a, 72*time.Hour); return r.Count, err }},
			{"drift", func() (int, error) { r, err := svc.Drift(ctx, who.a); return len(r.Items) + len(r.Policy), err }},
		} {
			b.Run(who.name+"/"+r.name, func(b *testing.B) {
				var n int
				for b.Loop() {
					var err error
					if n, err = r.fn(); err != nil {
						b.Fatal(err)
					}
				}
				if n == 0 && r.name != "expiring-72h" {
					b.Fatalf("%s sees nothing: the figure would cover an empty scope", who.name)
				}
				b.ReportMetric(float64(n), "items")
			})
		}
	}
}

// TestMain removes the benchmark fleet's database when the run ends.
func TestMain(m *testing.M) {
	code := m.Run()
	if fleet.st != nil {
		fleet.st.Close()
	}
	if fleet.dir != "" {
		os.RemoveAll(fleet.dir)
	}
	os.Exit(code)
}
