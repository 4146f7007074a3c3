package app

import (
	"bytes"
	"strings"
	"testing"
)

// TestInventoryCertificateSerialForms fetches a device's certificate through the real HTTPS API
// by its serial written as the API writes it and as openssl prints it (upper case, leading
// zeros, colons): every form answers the same PEM, anything else is a 400, and a party that
// cannot see the device still gets a 404 whatever the serial.
func TestInventoryCertificateSerialForms(t *testing.T) {
	requireTool(t, "openssl")
	s := startDev(t, "")
	dir := t.TempDir()
	fi := issueFactory(t, s, dir, demoLot(t, s, "lot-serials"), "lot-serials", "SN-SER1")
	base := "/v1/devices/" + fi.Device.ID + "/certificates/"
	serial := fi.Device.FactoryCert
	want := s.must(t, 200, station, "GET", base+serial, nil).Body

	// The serial as openssl prints it from the certificate itself ("serial=0A1B...").
	writeFile(t, dir, "factory.pem", fi.CertificatePEM)
	opensslSerial := strings.TrimPrefix(strings.TrimSpace(run(t, dir, "openssl", "x509", "-in", "factory.pem", "-noout", "-serial")), "serial=")
	upper := strings.ToUpper(serial)
	var colons []string
	for h := "0" + upper; len(h) > 1; h = h[2:] { // octets of the even-length form, padded by one zero
		colons = append(colons, h[:2])
	}
	if len(serial)%2 == 0 {
		colons = nil
		for h := upper; len(h) > 0; h = h[2:] {
			colons = append(colons, h[:2])
		}
	}
	for _, form := range []string{opensslSerial, upper, "0" + serial, "00" + upper, strings.Join(colons, ":"), "00:" + strings.Join(colons, ":")} {
		got := s.must(t, 200, station, "GET", base+form, nil).Body
		if !bytes.Equal(got, want) {
			t.Errorf("serial form %q answered a different certificate:\n%s", form, got)
		}
	}

	for _, bad := range []string{"zz", "0", "00:00", "0x" + serial, strings.Repeat("ab", 21)} {
		p := s.must(t, 400, station, "GET", base+bad, nil).problem(t)
		if !strings.Contains(p["detail"].(string), "hexadecimal certificate serial") {
			t.Errorf("serial %q: problem %v", bad, p)
		}
	}
	s.must(t, 404, station, "GET", base+"1"+serial, nil) // well formed, not this device's
	s.must(t, 404, oscar, "GET", base+"zz", nil)         // hidden device: the serial is not looked at
	s.must(t, 404, oscar, "GET", base+upper, nil)
}
