package sigmemo

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync"
	"testing"
	"time"
)

var now = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

type node struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// issue makes a certificate named cn signed by parent (nil: self-signed CA).
func issue(t testing.TB, cn string, serial int64, parent *node) *node {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), BasicConstraintsValid: true, IsCA: parent == nil,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	signer, pc := key, tmpl
	if parent != nil {
		signer, pc = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, pc, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &node{c, key}
}

func TestMemo(t *testing.T) {
	ca := issue(t, "CA", 1, nil)
	twin := issue(t, "CA", 1, nil) // same subject and serial, another key
	leaf := issue(t, "device", 2, ca)
	other := issue(t, "device", 2, twin) // same names, signed by the twin
	m := New(0)

	if m.Checked(leaf.cert, ca.cert) {
		t.Fatal("an empty memo knows a signature")
	}
	if err := m.CheckSignatureFrom(leaf.cert, twin.cert); err == nil {
		t.Fatal("the twin's signature check passed")
	}
	if m.Checked(leaf.cert, twin.cert) || m.Len() != 0 {
		t.Fatalf("a failed check was remembered (%d entries)", m.Len())
	}
	if err := m.CheckSignatureFrom(leaf.cert, ca.cert); err != nil {
		t.Fatalf("CheckSignatureFrom: %v", err)
	}
	if !m.Checked(leaf.cert, ca.cert) {
		t.Fatal("a successful check was not remembered")
	}
	for _, c := range []struct {
		name          string
		child, parent *x509.Certificate
	}{
		{"other parent with the same subject", leaf.cert, twin.cert},
		{"other child with the same names", other.cert, ca.cert},
		{"parent and child swapped", ca.cert, leaf.cert},
		{"tampered child", tampered(t, leaf.cert), ca.cert},
		{"tampered parent", leaf.cert, tampered(t, ca.cert)},
	} {
		if m.Checked(c.child, c.parent) {
			t.Errorf("%s: the memo says checked", c.name)
		}
	}
	// A nil memo remembers nothing and still checks.
	var none *Memo
	if err := none.CheckSignatureFrom(leaf.cert, ca.cert); err != nil || none.Checked(leaf.cert, ca.cert) || none.Len() != 0 {
		t.Errorf("nil memo: err %v, checked %v, len %d", err, none.Checked(leaf.cert, ca.cert), none.Len())
	}
	if err := none.CheckSignatureFrom(leaf.cert, twin.cert); err == nil {
		t.Error("nil memo: a bad signature passed")
	}
}

// tampered is c with one byte of its signature changed, parsed again.
func tampered(t *testing.T, c *x509.Certificate) *x509.Certificate {
	t.Helper()
	der := append([]byte(nil), c.Raw...)
	der[len(der)-3] ^= 1
	out, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMemoBounded feeds a memo of 16 entries 100 checks, from 4 goroutines at once, and wants
// at most 16 kept, the latest among them.
func TestMemoBounded(t *testing.T) {
	ca := issue(t, "CA", 1, nil)
	leaves := make([]*x509.Certificate, 100)
	for i := range leaves {
		leaves[i] = issue(t, "device", int64(10+i), ca).cert
	}
	m := New(16)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < len(leaves); i += 4 {
				if err := m.CheckSignatureFrom(leaves[i], ca.cert); err != nil {
					t.Error(err)
				}
				_ = m.Checked(leaves[(i+1)%len(leaves)], ca.cert)
			}
		})
	}
	wg.Wait()
	if n := m.Len(); n > 16 || n == 0 {
		t.Fatalf("the memo holds %d entries; want 1..16", n)
	}
	if err := m.CheckSignatureFrom(leaves[0], ca.cert); err != nil {
		t.Fatal(err)
	}
	if !m.Checked(leaves[0], ca.cert) || m.Len() > 16 {
		t.Fatalf("after one more check: checked %v, %d entries", m.Checked(leaves[0], ca.cert), m.Len())
	}
}
