package makers_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/maker"
	"github.com/hallmark-id/hallmark/internal/makers"
	"github.com/hallmark-id/hallmark/internal/store"
)

// externalDevices registers maker "sensors" for op and, through the store, makes one active
// external device of it per id, each with an origin (a good factory certificate) and an
// issued operational certificate of its own (serials 0xe1, 0xe2, ... in id order, issued by
// an operational CA of op) that its row names. It returns the maker.
func (w *world) externalDevices(t *testing.T, ids ...string) maker.Maker {
	t.Helper()
	m, err := w.svc.Register(ctx, w.actors["oscar"], makers.RegisterRequest{Name: "sensors", AnchorsPEM: caPEM(t, "Sensors Root", true)})
	if err != nil {
		t.Fatal(err)
	}
	root := parsePEM(t, caPEM(t, "Operator Root", true))
	err = w.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.CAs().CreateCA(ca.CA{ID: "ca-op", PartyID: "op", Stage: "operational", Role: ca.Root, Name: "op root", KeyID: "k", CertDER: root.Raw, CreatedAt: t0}); err != nil {
			return err
		}
		for i, id := range ids {
			factory := parsePEM(t, caPEM(t, id+" factory", false))
			d := device.Device{ID: id, Serial: "SNS-" + id, State: device.Active, CustodianID: "op", CreatedAt: t0, UpdatedAt: t0}
			if err := tx.Devices().CreateDevice(d); err != nil {
				return err
			}
			if err := tx.Makers().CreateOrigin(maker.Origin{DeviceID: id, MakerID: m.ID, Serial: d.Serial, Factory: factory, Issuer: factory, FactorySerial: "f" + id,
				SPKISHA256: maker.SPKISHA256(factory), State: maker.Good, CreatedAt: t0}); err != nil {
				return err
			}
			serial := big.NewInt(int64(0xe1 + i))
			if err := tx.Certificates().Reserve(ca.Cert{Serial: serial, CAID: "ca-op", DeviceID: id, Profile: "operational", TBS: []byte{1}, NotBefore: t0, NotAfter: t0.Add(24 * time.Hour), CreatedAt: t0}); err != nil {
				return err
			}
			if err := tx.Certificates().MarkIssued(serial, []byte{2}, t0); err != nil {
				return err
			}
			next := d
			next.OperationalCert = ca.SerialHex(serial)
			if err := tx.Devices().UpdateDevice(next, d); err != nil {
				return err
			}
		}
		_, err := tx.Audit().Append(audit.Event{At: t0, PartyID: "op", PrincipalID: "test", Action: "test.external.seed"})
		return err
	})
	if err != nil {
		t.Fatalf("seeding external devices: %v", err)
	}
	return m
}

func parsePEM(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(s))
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// state returns the device's state, its origin's factory state and the state of certificate
// serial.
func (w *world) state(t *testing.T, id string, serial int64) (device.State, maker.FactoryState, ca.CertState) {
	t.Helper()
	var d device.Device
	var o maker.Origin
	var c ca.Cert
	if err := w.st.View(ctx, func(tx store.Tx) (err error) {
		if d, err = tx.Devices().GetDevice(id); err != nil {
			return err
		}
		if o, err = tx.Makers().OriginOf(id); err != nil {
			return err
		}
		c, err = tx.Certificates().GetCert(big.NewInt(serial))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return d.State, o.State, c.State
}

// TestRevocationHoldsOnlyOwnOperational: a maker's revocation of an external device puts on
// hold only that device's own operational certificate. When the device's row names another
// device's operational certificate, or a certificate that is not operational, the revocation
// is refused as not found naming the device, the serial, whose certificate it is and its
// profile, and changes nothing: the other device's certificate stays issued, the origin good.
// The same revocation of a consistent device still holds its certificate.
func TestRevocationHoldsOnlyOwnOperational(t *testing.T) {
	w := newWorld(t)
	w.externalDevices(t, "ext-a", "ext-b", "ext-c")
	name := func(id, serial string) {
		t.Helper()
		if err := w.st.Update(ctx, func(tx store.Tx) error {
			d, err := tx.Devices().GetDevice(id)
			if err != nil {
				return err
			}
			next := d
			next.OperationalCert = serial
			if err := tx.Devices().UpdateDevice(next, d); err != nil {
				return err
			}
			_, err = tx.Audit().Append(audit.Event{At: t0, PartyID: "op", PrincipalID: "test", Action: "test.device.corrupt"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	// f3 is a factory certificate of ext-c: its own, not operational.
	if err := w.st.Update(ctx, func(tx store.Tx) error {
		f3 := big.NewInt(0xf3)
		if err := tx.Certificates().Reserve(ca.Cert{Serial: f3, CAID: "ca-op", DeviceID: "ext-c", Profile: "factory", TBS: []byte{1}, NotBefore: t0, NotAfter: t0.Add(24 * time.Hour), CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.Certificates().MarkIssued(f3, []byte{2}, t0); err != nil {
			return err
		}
		_, err := tx.Audit().Append(audit.Event{At: t0, PartyID: "op", PrincipalID: "test", Action: "test.cert.seed"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	rev := makers.Revocation{RevokedAt: t0, Reason: 1, Evidence: maker.Evidence{Kind: "crl", URL: "http://crl.example/s.crl", Reason: "keyCompromise", ThisUpdate: t0}}
	for _, tc := range []struct {
		name, dev, names string
		serial           int64 // the certificate named, which must stay issued
		msg              string
	}{
		{"another device's operational certificate", "ext-a", "e2", 0xe2, `operational certificate of device "ext-b"`},
		{"its own factory certificate", "ext-c", "f3", 0xf3, `factory certificate of device "ext-c"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name(tc.dev, tc.names)
			r := rev
			r.DeviceID = tc.dev
			res, err := w.svc.RecordRevocation(ctx, r)
			if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), tc.dev) || !strings.Contains(err.Error(), "certificate "+tc.names) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("RecordRevocation = %+v, %v; want not found naming %s, %s and %q", res, err, tc.dev, tc.names, tc.msg)
			}
			if ds, os, cs := w.state(t, tc.dev, tc.serial); ds != device.Active || os != maker.Good || cs != ca.Issued {
				t.Errorf("after the refusal: device %s, origin %s, certificate %s issued; want active, good, issued", ds, os, cs)
			}
		})
	}
	if n := w.events(t, "factory.revoke.external"); n != 0 {
		t.Errorf("%d factory.revoke.external events after refusals, want 0", n)
	}
	// ext-b's own revocation still holds its own certificate.
	r := rev
	r.DeviceID = "ext-b"
	res, err := w.svc.RecordRevocation(ctx, r)
	if err != nil || res.Suspended != "e2" || res.SuspendedCA != "ca-op" {
		t.Fatalf("revoking ext-b: %+v, %v; want e2 of ca-op suspended", res, err)
	}
	if ds, os, cs := w.state(t, "ext-b", 0xe2); ds != device.Suspended || os != maker.Revoked || cs != ca.Revoked {
		t.Errorf("after ext-b's revocation: device %s, origin %s, certificate %s; want suspended, revoked, revoked", ds, os, cs)
	}
}
