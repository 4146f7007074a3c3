package storetest

import (
	"bytes"
	"crypto/x509"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/store"
)

var reservationTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"ReservationsReadLikeCertificates", testReservationsRead},
}

// testReservationsRead: a reservation not yet signed reads as a reserved certificate through
// every read that lists reserved ones (GetCert, ListDeviceCerts, CertStates), in the order
// certificates have there; signing it makes it issued once, with a status change; and a
// serial already issued cannot be reserved again. It pins what a change to where or how a
// reservation is stored (a narrower record of intent, issue 21) must keep.
func testReservationsRead(t *testing.T, s store.Store) {
	seedCA(t, s)
	der := SelfSignedForTest(t)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	// 0x10 and 0x30 are issued, 0x20 and 0x40 stay reserved; 0x10 and 0x20 are dev-1's.
	type row struct {
		serial int64
		dev    string
		at     time.Time
		issue  bool
	}
	rows := []row{{0x30, "dev-2", t0, true}, {0x20, "dev-1", t0.Add(time.Second), false}, {0x10, "dev-1", t0.Add(2 * time.Second), true}, {0x40, "", t0, false}}
	for _, r := range rows {
		mustUpdate(t, s, func(tx store.Tx) error {
			return tx.Certificates().Reserve(ca.Cert{Serial: big.NewInt(r.serial), CAID: "ca1", DeviceID: r.dev, Profile: "factory", TBS: cert.RawTBSCertificate,
				NotBefore: t0, NotAfter: t0.Add(time.Hour), CreatedAt: r.at, CRLPartition: 3})
		})
	}
	var seq0 int64
	_ = s.View(ctx, func(tx store.Tx) (err error) { seq0, err = tx.Status().LastChange(); return err })
	for _, r := range rows {
		if r.issue {
			mustUpdate(t, s, func(tx store.Tx) error {
				if err := tx.Certificates().MarkIssued(big.NewInt(r.serial), der, t0); err != nil {
					return err
				}
				_, err := tx.Audit().Append(ev("cert.issue"))
				return err
			})
		}
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		c, err := tx.Certificates().GetCert(big.NewInt(0x20))
		if err != nil || c.State != ca.Reserved || c.DeviceID != "dev-1" || !bytes.Equal(c.TBS, cert.RawTBSCertificate) || c.DER != nil ||
			c.IssuedAt != nil || c.CRLPartition != 3 || !c.CreatedAt.Equal(t0.Add(time.Second)) || c.Serial.Int64() != 0x20 {
			t.Errorf("reserved cert = %+v, %v", c, err)
		}
		c, err = tx.Certificates().GetCert(big.NewInt(0x10))
		if err != nil || c.State != ca.Issued || !bytes.Equal(c.DER, der) || c.IssuedAt == nil || c.CRLPartition != 3 {
			t.Errorf("issued cert = %+v, %v", c, err)
		}
		if _, err := tx.Certificates().GetCert(big.NewInt(0x50)); !failure.Is(err, failure.NotFound) {
			t.Errorf("a serial never reserved = %v, want not found", err)
		}
		list, err := tx.Certificates().ListDeviceCerts("dev-1")
		var got []string
		for _, c := range list {
			got = append(got, c.SerialHex+":"+string(c.State))
		}
		// Creation order: 0x20 was reserved a second before 0x10.
		if err != nil || strings.Join(got, " ") != "20:reserved 10:issued" {
			t.Errorf("dev-1's certificates = %v, %v; want 20 reserved then 10 issued", got, err)
		}
		var states []string
		for after := ""; ; {
			page, err := tx.StateRows().CertStates(after, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			states = append(states, page[0].SerialHex+":"+string(page[0].State))
			after = page[0].SerialHex
		}
		if want := "10:issued 20:reserved 30:issued 40:reserved"; strings.Join(states, " ") != want {
			t.Errorf("CertStates, a row at a time = %v; want %s", states, want)
		}
		changes, err := tx.Status().Changes(seq0, 10)
		var fed []string
		for _, c := range changes {
			fed = append(fed, c.SerialHex)
		}
		if err != nil || strings.Join(fed, " ") != "30 10" || changes[0].CRLPartition != 3 {
			t.Errorf("status changes since the reservations = %+v, %v; want 30 then 10, partition 3", changes, err)
		}
		return nil
	})
	for _, serial := range []int64{0x10, 0x20} {
		err := s.Update(ctx, func(tx store.Tx) error {
			return tx.Certificates().Reserve(ca.Cert{Serial: big.NewInt(serial), CAID: "ca1", Profile: "factory", TBS: []byte{1}, NotBefore: t0, NotAfter: t0.Add(time.Hour), CreatedAt: t0})
		})
		if !failure.Is(err, failure.Conflict) {
			t.Errorf("reserving serial %x again = %v, want conflict", serial, err)
		}
	}
}
