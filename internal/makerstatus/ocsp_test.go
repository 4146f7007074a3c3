package makerstatus

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"math/big"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// TestBuildRequest checks the request against golang.org/x/crypto/ocsp's parser; the
// interop tests check it against openssl, nonce included.
func TestBuildRequest(t *testing.T) {
	g := newGoMaker(t)
	id, err := newCertID(g.issuer.cert, g.device.SerialNumber, crypto.SHA1)
	if err != nil {
		t.Fatal(err)
	}
	nonce := bytes.Repeat([]byte{7}, nonceLen)
	der, err := buildRequest(id, nonce)
	if err != nil {
		t.Fatal(err)
	}
	req, err := ocsp.ParseRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	// x/crypto/ocsp computes the same hashes when it builds a request.
	theirs, err := ocsp.CreateRequest(g.device, g.issuer.cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ocsp.ParseRequest(theirs)
	if req.HashAlgorithm != crypto.SHA1 || req.SerialNumber.Cmp(g.device.SerialNumber) != 0 ||
		!bytes.Equal(req.IssuerNameHash, want.IssuerNameHash) || !bytes.Equal(req.IssuerKeyHash, want.IssuerKeyHash) {
		t.Errorf("request = %+v, want the hashes of %+v", req, want)
	}
	if !bytes.Contains(der, nonceValue(nonce)) {
		t.Error("the nonce extension is missing")
	}
}

// TestVerifyOCSP covers what an OCSP answer must be to be used.
func TestVerifyOCSP(t *testing.T) {
	g := newGoMaker(t)
	src := Source{KindOCSP, "http://127.0.0.1/ocsp"}
	serial := g.device.SerialNumber
	id, err := newCertID(g.issuer.cert, serial, crypto.SHA1)
	if err != nil {
		t.Fatal(err)
	}
	otherCA := issue(t, g.root, caTemplate("Another CA"))
	strangerResponder := issue(t, otherCA, leafTemplate("Go Maker OCSP", x509.ExtKeyUsageOCSPSigning))
	noEKU := issue(t, g.issuer, leafTemplate("Go Maker OCSP no EKU", x509.ExtKeyUsageClientAuth))
	expiredTmpl := leafTemplate("Go Maker OCSP expired", x509.ExtKeyUsageOCSPSigning)
	expiredTmpl.NotBefore, expiredTmpl.NotAfter = t0.Add(-48*time.Hour), t0.Add(-24*time.Hour)
	expired := issue(t, g.issuer, expiredTmpl)

	// x/crypto/ocsp's encoder: responderID by name, no response extensions.
	xresp := func(signer *ca, include *x509.Certificate, tmpl ocsp.Response) []byte {
		t.Helper()
		if tmpl.SerialNumber == nil {
			tmpl.SerialNumber = serial
		}
		if tmpl.ThisUpdate.IsZero() {
			tmpl.ThisUpdate, tmpl.NextUpdate = t0, t0.Add(time.Hour)
		}
		tmpl.Certificate = include
		der, err := ocsp.CreateResponse(g.issuer.cert, signer.cert, tmpl, signer.key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	base := testResponse{signer: g.issuer, id: id, status: Good, this: t0, next: t0.Add(time.Hour)}
	with := func(f func(r *testResponse)) []byte {
		r := base
		f(&r)
		return r.encode(t)
	}
	sha256ID, _ := newCertID(g.issuer.cert, serial, crypto.SHA256)
	nonce := bytes.Repeat([]byte{9}, nonceLen)
	tests := []struct {
		name    string
		der     []byte
		nonce   []byte
		outcome Outcome
		msg     string
		status  Status
	}{
		{"issuer, by name", xresp(g.issuer, nil, ocsp.Response{Status: ocsp.Good}), nil, "", "", Good},
		{"issuer, by key", with(func(r *testResponse) { r.byKey = true }), nil, "", "", Good},
		{"delegated, by name", xresp(g.responder, g.responder.cert, ocsp.Response{Status: ocsp.Good}), nil, "", "", Good},
		{"delegated, by key", with(func(r *testResponse) { r.signer, r.include, r.byKey = g.responder, g.responder.cert, true }), nil, "", "", Good},
		{"SHA-256 CertID", xresp(g.issuer, nil, ocsp.Response{Status: ocsp.Good, IssuerHash: crypto.SHA256}), nil, "", "", Good},
		{"revoked", xresp(g.issuer, nil, ocsp.Response{Status: ocsp.Revoked, RevokedAt: t0.Add(-time.Hour), RevocationReason: ocsp.KeyCompromise}), nil, "", "", Revoked},
		{"unknown", xresp(g.issuer, nil, ocsp.Response{Status: ocsp.Unknown}), nil, "", "", Unknown},
		{"delegated without the certificate", xresp(g.responder, nil, ocsp.Response{Status: ocsp.Good}), nil, BadSignature, "neither the issuer", 0},
		{"delegated without OCSPSigning", xresp(noEKU, noEKU.cert, ocsp.Response{Status: ocsp.Good}), nil, BadSignature, "not authorised", 0},
		{"delegated by another CA", xresp(strangerResponder, strangerResponder.cert, ocsp.Response{Status: ocsp.Good}), nil, BadSignature, "not authorised", 0},
		{"delegated and expired", xresp(expired, expired.cert, ocsp.Response{Status: ocsp.Good}), nil, BadSignature, "not authorised", 0},
		{"issuer's name, another key", xresp(g.impostor, nil, ocsp.Response{Status: ocsp.Good}), nil, BadSignature, "does not verify", 0},
		{"issuer-signed but a responder named", xresp(g.issuer, g.responder.cert, ocsp.Response{Status: ocsp.Good}), nil, "", "", Good},
		{"another serial", xresp(g.issuer, nil, ocsp.Response{Status: ocsp.Good, SerialNumber: big.NewInt(1)}), nil, Invalid, "no answer for serial", 0},
		{"another issuer's CertID", with(func(r *testResponse) {
			r.id = certID{nameHash: sha256ID.nameHash[:20], keyHash: id.keyHash, serial: serial}
		}), nil, Invalid, "no answer", 0},
		{"nextUpdate passed", xresp(g.issuer, nil, ocsp.Response{Status: ocsp.Good, ThisUpdate: t0.Add(-2 * time.Hour), NextUpdate: t0.Add(-time.Hour)}), nil, Stale, "has passed", 0},
		{"thisUpdate in the future", xresp(g.issuer, nil, ocsp.Response{Status: ocsp.Good, ThisUpdate: t0.Add(time.Hour), NextUpdate: t0.Add(2 * time.Hour)}), nil, Stale, "in the future", 0},
		{"no nextUpdate, recent", with(func(r *testResponse) { r.this, r.next = t0.Add(-30*time.Minute), time.Time{} }), nil, "", "", Good},
		{"no nextUpdate, old", with(func(r *testResponse) { r.this, r.next = t0.Add(-2*time.Hour), time.Time{} }), nil, Stale, "no nextUpdate", 0},
		{"nextUpdate before thisUpdate", with(func(r *testResponse) { r.next = t0.Add(-time.Minute) }), nil, Invalid, "before thisUpdate", 0},
		{"nonce echoed", with(func(r *testResponse) { r.nonce = nonceValue(nonce) }), nonce, "", "", Good},
		{"nonce echoed bare", with(func(r *testResponse) { r.nonce = nonce }), nonce, "", "", Good},
		{"nonce not echoed", base.encode(t), nonce, "", "", Good},
		{"another nonce", with(func(r *testResponse) { r.nonce = nonceValue(bytes.Repeat([]byte{1}, nonceLen)) }), nonce, Invalid, "nonce", 0},
		{"critical response extension", with(func(r *testResponse) { r.critical = true }), nil, Invalid, "critical response extension", 0},
		{"critical single extension", with(func(r *testResponse) { r.singleExt = true }), nil, Invalid, "singleExtension", 0},
		{"unauthorized", ocsp.UnauthorizedErrorResponse, nil, ResponderError, "unauthorized", 0},
		{"tryLater", []byte{0x30, 0x03, 0x0a, 0x01, 0x03}, nil, ResponderError, "tryLater", 0},
		{"garbage", []byte("<html>"), nil, ParseError, "", 0},
		{"trailing data", append(base.encode(t), 0), nil, ParseError, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := verifyOCSP(tc.der, src, g.issuer.cert, id, tc.nonce, t0, 5*time.Minute, time.Hour)
			if tc.outcome != "" {
				if err == nil || err.Outcome != tc.outcome || !strings.Contains(err.Error(), tc.msg) || a != nil {
					t.Fatalf("err = %v, want %s containing %q", err, tc.outcome, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.status != tc.status || !a.fresh(t0, 0) {
				t.Fatalf("answer = %+v", a)
			}
			if a.nonce != (tc.nonce != nil && strings.HasPrefix(tc.name, "nonce echoed")) {
				t.Errorf("nonce = %v", a.nonce)
			}
			if a.status == Revoked && (a.revocation.Reason != ocsp.KeyCompromise || !a.revocation.Time.Equal(t0.Add(-time.Hour))) {
				t.Errorf("revocation = %+v", a.revocation)
			}
		})
	}
}
