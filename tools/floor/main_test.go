package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/est"
)

// TestFloorIssues shows that the instrument does the work it claims, on real SQLite over real
// TLS on loopback: a certificate that chains to its CA and carries the device's key, the rows
// of the record of intent and of the completion with the audit leaf, and the refusals the
// reservation makes before anything is signed (a key bound to another device, a serial in
// use), which leave nothing behind; then EST onboarding with the factory certificate and
// renewal with the operational one, which supersedes it.
func TestFloorIssues(t *testing.T) {
	s, _, err := newServer(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.db.Close() })
	s.statusBase = "http://127.0.0.1:8080"
	go s.writer()
	t.Cleanup(func() { close(s.writes) })
	ts := httptest.NewUnstartedServer(s)
	ts.TLS = s.tlsConfig(nil)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	c := ts.Client()
	c.Timeout = 30 * time.Second

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	post := func(serial string, k *ecdsa.PrivateKey, token string) (int, []byte) {
		t.Helper()
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: serial}}, k)
		if err != nil {
			t.Fatal(err)
		}
		rec := map[string]any{"manufacturer": "acme", "model": "sensor-x", "serial": serial, "lot": "lot-1",
			"firmwareDigest": map[string]string{"sha256": strings.Repeat("0f", 32)}, "testResult": "pass", "builtAt": time.Now().UTC().Format(time.RFC3339)}
		body, err := json.Marshal(map[string]any{"csr": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), "build_record": rec})
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest("POST", ts.URL+"/sign", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, b
	}
	count := func(q string) int {
		t.Helper()
		var n int
		if err := s.db.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	if code, _ := post("SN-1", key, "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("a wrong token got HTTP %d, want 401", code)
	}
	code, b := post("SN-1", key, string(s.token))
	if code != http.StatusCreated {
		t.Fatalf("HTTP %d: %s", code, b)
	}
	var fi struct {
		Cert  string `json:"certificate_pem"`
		Chain string `json:"chain_pem"`
	}
	if err := json.Unmarshal(b, &fi); err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode([]byte(fi.Cert))
	if blk == nil {
		t.Fatal("no certificate in the answer")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.CheckSignatureFrom(s.caCert); err != nil {
		t.Errorf("the certificate is not signed by the issuing CA: %v", err)
	}
	if !cert.PublicKey.(*ecdsa.PublicKey).Equal(&key.PublicKey) {
		t.Error("the certificate does not carry the CSR's key")
	}
	if len(cert.OCSPServer) != 1 || len(cert.CRLDistributionPoints) != 1 || !strings.HasPrefix(cert.CRLDistributionPoints[0], "http://127.0.0.1:8080/crl/"+floorCAID+"-") {
		t.Errorf("status URLs %v and %v, want Hallmark's form", cert.OCSPServer, cert.CRLDistributionPoints)
	}
	var der []byte
	var state int
	if err := s.db.QueryRow("SELECT der, state FROM certificates WHERE serial = ?", ca.SerialHex(cert.SerialNumber)).Scan(&der, &state); err != nil {
		t.Fatal(err)
	}
	if state != 1 || !bytes.Equal(der, cert.Raw) {
		t.Errorf("stored certificate: state %d, same bytes %t; want 1, true", state, bytes.Equal(der, cert.Raw))
	}
	var leaf, hash []byte
	if err := s.db.QueryRow("SELECT leaf, leaf_hash FROM audit_events WHERE seq = 1").Scan(&leaf, &hash); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rfc6962.DefaultHasher.HashLeaf(leaf), hash) || !strings.Contains(string(leaf), ca.SerialHex(cert.SerialNumber)) {
		t.Error("the audit event's leaf does not hash to its leaf hash or does not name the certificate")
	}
	if root, err := s.tree.GetRootHash(nil); err != nil || !bytes.Equal(root, hash) {
		t.Errorf("the one-leaf tree's root is not the leaf hash (%v)", err)
	}

	// Refused in the reservation, before signing: nothing is stored.
	if code, b := post("SN-2", key, string(s.token)); code != http.StatusBadRequest || !strings.Contains(string(b), "already bound") {
		t.Errorf("the same key for another serial: HTTP %d %s, want 400 and the key refusal", code, b)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if code, b := post("SN-1", other, string(s.token)); code != http.StatusBadRequest || !strings.Contains(string(b), "taken") {
		t.Errorf("a serial in use: HTTP %d %s, want 400 and the serial refusal", code, b)
	}
	for q, want := range map[string]int{
		"SELECT count(*) FROM certificates": 1, "SELECT count(*) FROM devices": 1, "SELECT count(*) FROM build_records": 1, "SELECT count(*) FROM audit_events": 1,
	} {
		if got := count(q); got != want {
			t.Errorf("%s = %d after the refusals, want %d", q, got, want)
		}
	}
	if s.treeSize != 1 {
		t.Errorf("audit tree size %d, want 1", s.treeSize)
	}

	// EST: onboarding with the factory certificate, renewal with the operational one.
	estPost := func(op string, id tls.Certificate, k *ecdsa.PrivateKey) (int, *x509.Certificate, string) {
		t.Helper()
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, k)
		if err != nil {
			t.Fatal(err)
		}
		tr := ts.Client().Transport.(*http.Transport).Clone()
		tr.TLSClientConfig.Certificates = []tls.Certificate{id}
		ec := &http.Client{Transport: tr, Timeout: 30 * time.Second}
		res, err := ec.Post(ts.URL+"/.well-known/est/"+op, "application/pkcs10", strings.NewReader(base64.StdEncoding.EncodeToString(der)))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK {
			return res.StatusCode, nil, string(b)
		}
		p7, err := base64.StdEncoding.DecodeString(string(b))
		if err != nil {
			t.Fatal(err)
		}
		certs, err := est.ParseCertsOnly(p7)
		if err != nil || len(certs) != 1 {
			t.Fatalf("%s answer: %d certificates, %v", op, len(certs), err)
		}
		return res.StatusCode, certs[0], ""
	}
	factoryID := tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key}
	opKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, msg := estPost("simplereenroll", factoryID, opKey); code != http.StatusForbidden {
		t.Errorf("renewal with the factory certificate: HTTP %d %s, want 403", code, msg)
	}
	code, op1, msg := estPost("simpleenroll", factoryID, opKey)
	if code != http.StatusOK {
		t.Fatalf("onboarding: HTTP %d %s", code, msg)
	}
	if err := op1.CheckSignatureFrom(s.opCert); err != nil || !op1.PublicKey.(*ecdsa.PublicKey).Equal(&opKey.PublicKey) {
		t.Errorf("the operational certificate is not the operational CA's for the CSR's key (%v)", err)
	}
	code, op2, msg := estPost("simplereenroll", tls.Certificate{Certificate: [][]byte{op1.Raw}, PrivateKey: opKey}, opKey)
	if code != http.StatusOK {
		t.Fatalf("renewal: HTTP %d %s", code, msg)
	}
	if code, _, msg := estPost("simplereenroll", tls.Certificate{Certificate: [][]byte{op1.Raw}, PrivateKey: opKey}, opKey); code != http.StatusBadRequest || !strings.Contains(msg, "not this device's current") {
		t.Errorf("renewal with the superseded certificate: HTTP %d %s, want 400", code, msg)
	}
	var current string
	if err := s.db.QueryRow("SELECT operational_cert FROM devices").Scan(&current); err != nil || current != ca.SerialHex(op2.SerialNumber) {
		t.Errorf("the device's current certificate is %s (%v), want the renewed %s", current, err, ca.SerialHex(op2.SerialNumber))
	}
	if got := count("SELECT count(*) FROM audit_events"); got != 3 {
		t.Errorf("%d audit events after factory issuance, onboarding and renewal, want 3", got)
	}
}
