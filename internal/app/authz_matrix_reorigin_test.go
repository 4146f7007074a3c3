package app

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/operational"
)

// mxExtMaker is a maker that does not run Hallmark, made in Go for the matrix: a root that
// signs device certificates directly, registered for contoso (fail-open: its certificates name
// no CRL or OCSP responder).
type mxExtMaker struct {
	id   string
	root *x509.Certificate
	key  *ecdsa.PrivateKey
}

// extMaker registers contoso's Go maker at first use.
func (f *mxFixture) extMaker(t *testing.T) *mxExtMaker {
	t.Helper()
	if m := f.reoriginMaker; m != nil {
		return m
	}
	m := &mxExtMaker{key: mxKey(t)}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "MX Reorigin Root"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, m.key.Public(), m.key)
	if err != nil {
		t.Fatal(err)
	}
	if m.root, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	var reg struct{ ID string }
	f.s.must(t, 201, oscar, "POST", "/v1/makers", map[string]any{"name": "mx-reorigin", "policy": map[string]any{"revocation": "fail-open"},
		"anchors_pem": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}).json(t, &reg)
	m.id = reg.ID
	f.reoriginMaker = m
	return m
}

// issue is the maker's factory certificate of device serial for key k, PEM.
func (m *mxExtMaker) issue(t *testing.T, serial string, k *ecdsa.PrivateKey) string {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: n.Add(n, big.NewInt(1)), Subject: pkix.Name{CommonName: "MX Sensor", SerialNumber: serial}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, m.root, k.Public(), m.key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// externalOnboarded is a new device of contoso's Go maker, onboarded in envA, and a
// certificate the maker re-issued for it (same serial, a new key).
func (f *mxFixture) externalOnboarded(t *testing.T) (mxDev, string) {
	t.Helper()
	m := f.extMaker(t)
	serial := f.name("MXR")
	d := mxDev{Serial: serial, Key: mxKey(t)}
	d.FactoryPEM = m.issue(t, serial, d.Key)
	f.onboard(t, oscar, f.envA, &d)
	d.ID = operational.ExternalDeviceID(m.id, serial)
	return d, m.issue(t, serial, mxKey(t))
}

// mxReoriginRows are the matrix rows of reorigin (docs/external-makers.md): the device's
// custodian, with operational/issue over its environment (contoso and its administrator),
// asks, and the request waits for an approval; the auditor sees the device and is refused
// (403); everyone else finds nothing (404). The other world's device is tailspin's.
func mxReoriginRows() []mxRow {
	return []mxRow{
		{op: "POST /v1/devices/{id}/origin", own: mxBy{mx404, mx404, mx404, mx202, mx404, mx403, mx404, mx202}, other: mxOnly(mx403, mx404, "auditco"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				d, cert := f.dB, f.extMaker(t).issue(t, "MXR-other", mxKey(t))
				if !c.other {
					if f.reoriginShared.ID == "" || c.allowed() {
						f.reoriginShared, f.reoriginCert = f.externalOnboarded(t)
					}
					d, cert = f.reoriginShared, f.reoriginCert
				}
				q := mxReq{path: "/v1/devices/" + d.ID + "/origin", body: map[string]any{"certificate": cert, "reason": "the maker replaced the secure element"}}
				if c.allowed() {
					q.check = mxThen(mxExpect("approval.kind", "reorigin", "approval.state", "pending", "approval.approver_party", "contoso", "device.id", d.ID),
						f.readBack(c.who, "/v1/approvals/%s", "approval.id", "subject", "device:"+d.ID))
				}
				return q
			}},
	}
}
