package voucher

import (
	"testing"
	"time"
)

// seeds are the RFC examples and a signed voucher in each medium.
func seeds(f *testing.F) {
	for _, n := range []string{"rfc8366-5.2-erratum6646.json", "rfc8366-5.2-original.json", "rfc8995-3.3-pledge.json", "rfc8995-3.3-registrar.json", "rfc8995-3.3-registrar-nonceless.json",
		"jws-voucher-08-A.1-pledge-request.json", "jws-voucher-08-A.3-voucher.json"} {
		f.Add(read(f, n))
	}
	// A registrar voucher request carrying a custody voucher (docs/brski.md).
	if rvr, err := (Request{CreatedOn: time.Now(), SerialNumber: "SN", PriorSignedVoucherRequest: []byte("{}"),
		CustodyVoucher: []byte(`{"voucherType":"https://hallmark.dev/custody-voucher/v1","devices":[],"links":[]}`)}).Marshal(); err == nil {
		f.Add(rvr)
	}
	p := newPKI(f, "masa")
	payload, _ := Voucher{CreatedOn: time.Now(), Assertion: Logged, SerialNumber: "SN", PinnedDomainCert: p.root.Raw}.Marshal()
	for _, m := range []string{MediaCMS, MediaJWS} {
		b, err := Sign(m, payload, p.signer)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzParse: the voucher parser never panics, and what it accepts marshals and parses again.
func FuzzParse(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Parse(b)
		if err != nil {
			return
		}
		out, err := v.Marshal()
		if err != nil {
			t.Fatalf("accepted but does not marshal: %v", err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("marshalled form does not parse: %v", err)
		}
	})
}

// FuzzParseRequest: the same for voucher requests.
func FuzzParseRequest(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			return
		}
		out, err := r.Marshal()
		if err != nil {
			t.Fatalf("accepted but does not marshal: %v", err)
		}
		if _, err := ParseRequest(out); err != nil {
			t.Fatalf("marshalled form does not parse: %v", err)
		}
	})
}

// FuzzVerify: neither signature format panics on any input, and nothing unsigned verifies.
func FuzzVerify(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, m := range []string{MediaCMS, MediaJWS} {
			s, err := Verify(m, b, VerifyOptions{})
			if err == nil && s.Signer == nil {
				t.Fatalf("%s verified with no signer", m)
			}
		}
	})
}
