package voucher

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// The JWS examples of draft-ietf-anima-jws-voucher-08, Appendix A (the working group's
// source, anima-jws-voucher.mkd at the -08 docname), unfolded from their RFC 8792 line
// wrapping into testdata. Each carries its signer's certificate in x5c, so its signature is
// checked here; the issuer of those certificates (JingJingTestCA) is not in the draft, so
// no chain is. The draft gives two facts that tie the examples together: the pledge
// certificate's subject serialNumber is the request's serial-number, and the registrar
// certificate in the request is issued by the pinned-domain-cert of the voucher.

// draftDate is a time at which the draft's certificates are all valid (the examples are
// dated July 2022).
var draftDate = time.Date(2022, 7, 8, 8, 40, 42, 0, time.UTC)

func TestJWSVoucherDraftExamples(t *testing.T) {
	// Appendix A.3: the voucher from the MASA, signed by "JingJingCorp Voucher Signing Key".
	vs, err := VerifyJWS(read(t, "jws-voucher-08-A.3-voucher.json"), VerifyOptions{})
	if err != nil {
		t.Fatalf("A.3 voucher: %v", err)
	}
	if cn := vs.Signer.Subject.CommonName; cn != "JingJingCorp Voucher Signing Key" {
		t.Errorf("A.3 signer %q", cn)
	}
	v, err := Parse(vs.Payload)
	if err != nil {
		t.Fatalf("A.3 payload: %v", err)
	}
	nonce, _ := base64.StdEncoding.DecodeString("ddhHd82QiPks00SrMTI9DQ==")
	if v.Assertion != Logged || v.SerialNumber != "0123456789" || !bytes.Equal(v.Nonce, nonce) ||
		!v.CreatedOn.Equal(at("2022-07-07T17:47:01.890Z")) || !v.ExpiresOn.IsZero() || v.IDevIDIssuer != nil {
		t.Errorf("A.3 voucher %+v", v)
	}
	pinned, err := x509.ParseCertificate(v.PinnedDomainCert)
	if err != nil || pinned.Subject.CommonName != "TestCA" || !pinned.IsCA {
		t.Fatalf("A.3 pinned-domain-cert: %v %v", pinned, err)
	}

	// Appendix A.1: the pledge's request, signed by its IDevID "JingJingDevice".
	rs, err := VerifyJWS(read(t, "jws-voucher-08-A.1-pledge-request.json"), VerifyOptions{})
	if err != nil {
		t.Fatalf("A.1 request: %v", err)
	}
	r, err := ParseRequest(rs.Payload)
	if err != nil {
		t.Fatalf("A.1 payload: %v", err)
	}
	nonce, _ = base64.StdEncoding.DecodeString("6Gtn+ZQKN2HqDFVkBExZLQ==")
	// The draft's request has no assertion leaf (RFC 8995 section 3.3's pledge example has one).
	if r.Assertion != "" || r.SerialNumber != "0123456789" || !bytes.Equal(r.Nonce, nonce) ||
		!r.CreatedOn.Equal(at("2022-07-08T08:40:42.820Z")) || r.PriorSignedVoucherRequest != nil {
		t.Errorf("A.1 request %+v", r)
	}
	if sn := rs.Signer.Subject.SerialNumber; sn != r.SerialNumber || rs.Signer.Subject.CommonName != "JingJingDevice" {
		t.Errorf("A.1 signer %v: serialNumber %q, request %q", rs.Signer.Subject, sn, r.SerialNumber)
	}
	reg, err := x509.ParseCertificate(r.ProximityRegistrarCert)
	if err != nil || reg.Subject.CommonName != "DomainRegistrar" {
		t.Fatalf("A.1 proximity-registrar-cert: %v %v", reg, err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(pinned)
	if _, err := reg.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: draftDate, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("the registrar certificate does not chain to the pinned-domain-cert: %v", err)
	}

	// The signatures are real: one changed payload character, or the voucher's signature
	// moved onto the request, fails.
	for name, doc := range map[string]string{
		"payload changed": strings.Replace(string(read(t, "jws-voucher-08-A.3-voucher.json")), `"payload": "eyJpZXRm`, `"payload": "eyJpZXRn`, 1),
		"signature swapped": strings.Replace(string(read(t, "jws-voucher-08-A.1-pledge-request.json")),
			"abVg4TDGzSTjVHkQlNeIW3ABu5ZXdMl1cEqwcIAlHFW4BrlGbO-DRTKfyCOGxSW49-ktJcrVlYgKqC4xmZoy0Q",
			"y1HLYBFlwouf42XWSKUWjeYQHnG2Q6A4bjA7hvTkB3z1dPwTUljPHtuN2Qex6gDxTfaSiKeoXGsOD4JWOgQJPg", 1),
	} {
		if _, err := VerifyJWS([]byte(doc), VerifyOptions{}); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	// With roots that do not include the draft's (absent) issuing CA, the chain is refused.
	if _, err := VerifyJWS(read(t, "jws-voucher-08-A.3-voucher.json"), VerifyOptions{Roots: roots, Now: draftDate}); err == nil {
		t.Error("A.3 chained to an unrelated root")
	}
}
