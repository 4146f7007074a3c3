package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

// exportToContoso has fabrikam's station export the devices (made here, held by fabrikam) in a
// custody voucher to a fresh key of contoso's, which makes them handed-off; it returns the file.
func exportToContoso(t *testing.T, s *devServer, deviceIDs ...string) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(k.Public())
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	var exp struct{ File string }
	s.must(t, 201, station, "POST", "/v1/custody/vouchers/export", map[string]any{"device_ids": deviceIDs, "to": "contoso", "to_key_pem": keyPEM}).json(t, &exp)
	return exp.File
}

// TestReportsCountHandedOff: a device exported in a custody voucher shows in the summary as
// handed-off to its maker and to the holder that exported it, and joins the population of the
// offboarding check (OWASP NHI1) as a bucket of its own.
func TestReportsCountHandedOff(t *testing.T) {
	requireTool(t, "openssl")
	s := startDev(t, "")
	dir := t.TempDir()
	lot := demoLot(t, s, "lot-ho")
	fi := issueFactory(t, s, dir, lot, "lot-ho", "SN-HO1")
	issueFactory(t, s, dir, lot, "lot-ho", "SN-HO2")

	type summary struct {
		Devices int            `json:"devices"`
		ByState map[string]int `json:"by_state"`
	}
	type standards struct {
		Rows []struct {
			ID       string `json:"id"`
			Evidence struct {
				Count int    `json:"count"`
				Total int    `json:"total"`
				Note  string `json:"note"`
			} `json:"evidence"`
		} `json:"rows"`
	}
	nhi1 := func() (count, total int, note string) {
		t.Helper()
		var r standards
		s.must(t, 200, audrey, "GET", "/v1/reports/standards", nil).json(t, &r)
		for _, row := range r.Rows {
			if row.ID == "NHI1" {
				return row.Evidence.Count, row.Evidence.Total, row.Evidence.Note
			}
		}
		t.Fatal("the standards report has no NHI1 row")
		return 0, 0, ""
	}
	count0, total0, _ := nhi1()

	exportToContoso(t, s, fi.Device.ID)

	for _, who := range []string{alice, station, audrey} {
		var sum summary
		s.must(t, 200, who, "GET", "/v1/reports/summary", nil).json(t, &sum)
		if sum.ByState["handed-off"] != 1 || sum.ByState["registered"] != 1 || sum.Devices != 2 {
			t.Errorf("%s: summary = %+v, want 1 handed-off and 1 registered of 2", who, sum)
		}
	}
	var none summary
	s.must(t, 200, oscar, "GET", "/v1/reports/summary", nil).json(t, &none)
	if none.ByState["handed-off"] != 0 {
		t.Errorf("contoso, which has not imported the voucher here, sees %+v", none)
	}
	count, total, note := nhi1()
	if total != total0+1 || count != count0 {
		t.Errorf("NHI1 = %d of %d, want %d of %d: the handed-off device (no operational certificate) joins the population, not the offenders; note %q",
			count, total, count0, total0+1, note)
	}
}
