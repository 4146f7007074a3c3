package storetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// BenchIssuanceWrites measures the store's part of a factory issuance alone, clients at a
// time: the reservation (a key check and the TBS, one write transaction), then the
// certificate, its device, a build record and an audit event (a second one), with real
// certificates whose serials are made as the issuer makes them (issuance.NewSerial). It
// reports the process's CPU per issuance (cpu-ns/op) and the write transactions per group
// commit, so a change to the schema or the writer can be measured without the signing,
// linting and HTTP around it.
func BenchIssuanceWrites(b *testing.B, s store.Store, clients int) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	benchSeed(b, s)
	type issue struct {
		serial *big.Int
		der    []byte
		tbs    []byte
		key    []byte
	}
	issues := make([]issue, b.N)
	for i := range issues {
		serial, err := issuance.NewSerial(time.Now(), rand.Reader) // as the issuer makes them
		if err != nil {
			b.Fatal(err)
		}
		dk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: fmt.Sprintf("SN-%08d", i)}, NotBefore: t0, NotAfter: t0.AddDate(20, 0, 0)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, dk.Public(), k)
		if err != nil {
			b.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			b.Fatal(err)
		}
		kh := sha256.Sum256(c.RawSubjectPublicKeyInfo)
		issues[i] = issue{serial: serial, der: der, tbs: c.RawTBSCertificate, key: kh[:]}
	}
	envelope := make([]byte, 1200)
	var next atomic.Int64
	b.SetParallelism(max(1, clients/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, io0 := processCPU(b), processIO()
	gc, _ := s.(interface{ GroupCommitStats() (int64, int64) })
	var batches0 int64
	if gc != nil {
		batches0, _ = gc.GroupCommitStats()
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			is := issues[i]
			dev := party.NewID("dev")
			err := s.Update(ctx, func(tx store.Tx) error {
				if bound, err := tx.Certificates().KeyBoundElsewhere(is.key, dev); err != nil || bound {
					return fmt.Errorf("key bound elsewhere %v: %w", bound, err)
				}
				return tx.Certificates().Reserve(ca.Cert{Serial: is.serial, CAID: "ca1", DeviceID: dev, Profile: "factory", TBS: is.tbs, KeySHA256: is.key,
					NotBefore: t0, NotAfter: t0.AddDate(20, 0, 0), CreatedAt: t0})
			})
			if err == nil {
				err = s.Update(ctx, func(tx store.Tx) error {
					d := device.Device{ID: dev, ManufacturerID: "acme", ModelID: "m1", LotID: "l1", Serial: fmt.Sprintf("SN-%08d", i), State: device.Registered,
						CustodianID: "acme", FactoryCert: ca.SerialHex(is.serial), CreatedAt: t0, UpdatedAt: t0}
					if err := tx.Devices().CreateDevice(d); err != nil {
						return err
					}
					if err := tx.Certificates().MarkIssued(is.serial, is.der, t0); err != nil {
						return err
					}
					sum := sha256.Sum256(envelope)
					if err := tx.BuildRecords().CreateBuildRecord(store.BuildRecord{ID: party.NewID("br"), DeviceID: dev, PayloadSHA256: sum[:], Envelope: envelope, CreatedAt: t0}); err != nil {
						return err
					}
					_, err := tx.Audit().Append(audit.Event{At: t0, PartyID: "acme", PrincipalID: "prn_0123456789abcdef", Action: "device.factory_issue", Stage: "manufacturing",
						Scope: "lot:l1", Subject: dev, Detail: audit.Detail(map[string]string{"serial": ca.SerialHex(is.serial), "lot": "l1", "model": "m1", "device_serial": d.Serial})})
					return err
				})
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
	if io := processIO(); io0 != nil && io != nil {
		b.ReportMetric(float64(io["wchar"]-io0["wchar"])/float64(b.N), "written-B/op")
		b.ReportMetric(float64(io["syscw"]-io0["syscw"])/float64(b.N), "writes/op")
		b.ReportMetric(float64(io["rchar"]-io0["rchar"])/float64(b.N), "read-B/op")
	}
	if gc != nil {
		if batches, _ := gc.GroupCommitStats(); batches > batches0 {
			b.ReportMetric(float64(2*b.N)/float64(batches-batches0), "writes/batch")
		}
	}
}

// benchSeed makes the manufacturer, its CA, a model and a lot.
func benchSeed(b *testing.B, s store.Store) {
	b.Helper()
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Parties().CreateParty(party.Party{ID: "acme", Name: "Acme", Kind: party.Manufacturer, CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.CAs().CreateCA(ca.CA{ID: "ca1", PartyID: "acme", Stage: "manufacturing", Role: ca.Root, Name: "root", KeyID: "k", CertDER: SelfSignedForTest(b), CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.Catalog().CreateModel(device.Model{ID: "m1", ManufacturerID: "acme", Name: "m", HardwareType: "1.2.3", CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.Catalog().CreateLot(device.Lot{ID: "l1", ManufacturerID: "acme", ModelID: "m1", Name: "l", Line: "a", IssuingCAID: "ca1", CreatedAt: t0}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("bench.seed"))
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
}

// processIO is this process's I/O counters (/proc/self/io: bytes and calls of read and write
// system calls, the database's and its log's); nil where there is no such file.
func processIO() map[string]int64 {
	raw, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return nil
	}
	m := map[string]int64{}
	for _, line := range strings.Split(string(raw), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if n, err := strconv.ParseInt(v, 10, 64); ok && err == nil {
			m[k] = n
		}
	}
	return m
}

// processCPU is the CPU time (user and system) this process has used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchRenewalCount measures what a renewal reads to count the renewals of a device that has
// made renewals of them before (and one onboarding): "count" is CountRenewals, which reads the
// index of renewals alone (migration 0037); "list" is ListEvidence and a count of its rows of
// kind renew, what every renewal read before, facts included.
func BenchRenewalCount(b *testing.B, s store.Store, renewals int) {
	benchSeed(b, s)
	const dev = "dev_bench"
	facts := json.RawMessage(`{"firmware_digest":"` + strings.Repeat("0f", 32) + `","hardware_revision":"B"}`)
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Devices().CreateDevice(device.Device{ID: dev, ManufacturerID: "acme", ModelID: "m1", LotID: "l1", Serial: "SN-1", State: device.Active,
			CustodianID: "acme", CreatedAt: t0, UpdatedAt: t0}); err != nil {
			return err
		}
		for i := range renewals + 1 {
			serial := big.NewInt(int64(1000 + i))
			if err := tx.Certificates().Reserve(ca.Cert{Serial: serial, CAID: "ca1", DeviceID: dev, Profile: store.OperationalProfile, TBS: []byte{1},
				NotBefore: t0, NotAfter: t0.Add(time.Hour), CreatedAt: t0}); err != nil {
				return err
			}
			kind := "renew"
			if i == 0 {
				kind = "onboard"
			}
			if err := tx.Evidence().CreateEvidence(environment.Evidence{Serial: ca.SerialHex(serial), DeviceID: dev, EnvironmentID: "env1", Kind: kind,
				FactorySerial: "f", Protocol: "est", PolicyKind: environment.Renewal, PolicyVersion: 1, PrincipalID: "x", Facts: facts,
				CreatedAt: t0.Add(time.Duration(i) * time.Hour)}); err != nil {
				return err
			}
		}
		_, err := tx.Audit().Append(ev("bench.seed"))
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	read := func(b *testing.B, count func(store.Tx) (int, error)) {
		for b.Loop() {
			var n int
			if err := s.View(ctx, func(tx store.Tx) (err error) { n, err = count(tx); return err }); err != nil {
				b.Fatal(err)
			}
			if n != renewals {
				b.Fatalf("counted %d renewals, want %d", n, renewals)
			}
		}
	}
	b.Run("count", func(b *testing.B) {
		read(b, func(tx store.Tx) (int, error) { return tx.Evidence().CountRenewals(dev) })
	})
	b.Run("list", func(b *testing.B) {
		read(b, func(tx store.Tx) (int, error) {
			evs, err := tx.Evidence().ListEvidence(dev)
			n := 0
			for _, e := range evs {
				if e.Kind == "renew" {
					n++
				}
			}
			return n, err
		})
	})
}
