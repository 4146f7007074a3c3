package est

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/sigmemo"
)

// knownCA is the CA that server's Issuers knows.
var knownCA = sync.OnceValue(func() tls.Certificate { return newCA(nil, "known CA", nil) })

// newCA makes a CA certificate named cn, signed by parent (self-signed when nil), on key (a
// new one when nil).
func newCA(parent *tls.Certificate, cn string, key *ecdsa.PrivateKey) tls.Certificate {
	if key == nil {
		key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	issuer, signer := tmpl, any(key)
	if parent != nil {
		issuer, signer = parent.Leaf, parent.PrivateKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		panic(err)
	}
	c, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: c}
}

// issued makes a client certificate named cn that parent signs, valid until notAfter.
func issued(t *testing.T, parent tls.Certificate, cn string, notAfter time.Time) tls.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn}, NotBefore: notAfter.Add(-48 * time.Hour),
		NotAfter: notAfter, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent.Leaf, k.Public(), parent.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k, Leaf: c}
}

// TestIssuerSet: a certificate passes when a known CA signed it, directly or through
// certificates it presents; a stranger, a forged issuer name and a chain of strangers do not.
func TestIssuerSet(t *testing.T) {
	root := knownCA()
	inter := newCA(&root, "presented intermediate", nil)
	strangerCA := newCA(nil, "stranger CA", nil)
	forged := newCA(nil, "known CA", nil) // the known CA's name on another key
	set := NewIssuerSet([]*x509.Certificate{root.Leaf, nil})
	if set.Len() != 1 {
		t.Fatalf("Len = %d, want 1", set.Len())
	}
	past := time.Now().Add(-24 * time.Hour)
	for _, tc := range []struct {
		name  string
		chain []*x509.Certificate
		ok    bool
	}{
		{"issued by a known CA", []*x509.Certificate{issued(t, root, "d1", time.Now().Add(time.Hour)).Leaf}, true},
		{"expired, issued by a known CA: the Enroller's to refuse", []*x509.Certificate{issued(t, root, "d2", past).Leaf}, true},
		{"through a presented intermediate", []*x509.Certificate{issued(t, inter, "d3", time.Now().Add(time.Hour)).Leaf, inter.Leaf}, true},
		{"the known CA itself", []*x509.Certificate{root.Leaf}, true},
		{"self-signed", []*x509.Certificate{strangerCA.Leaf}, false},
		{"issued by a stranger", []*x509.Certificate{issued(t, strangerCA, "d4", time.Now().Add(time.Hour)).Leaf, strangerCA.Leaf}, false},
		{"the known CA's name on another key", []*x509.Certificate{issued(t, forged, "d5", time.Now().Add(time.Hour)).Leaf, forged.Leaf}, false},
		{"intermediate not presented", []*x509.Certificate{issued(t, inter, "d6", time.Now().Add(time.Hour)).Leaf}, false},
		{"empty", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := set.Issued(tc.chain)
			var ue *UnknownIssuerError
			if tc.ok != (err == nil) || err != nil && !errors.As(err, &ue) {
				t.Fatalf("Issued = %v, want ok %v (or an *UnknownIssuerError)", err, tc.ok)
			}
		})
	}
	// A long chain of presented CAs that never reaches a known one costs bounded work.
	chain := []*x509.Certificate{}
	prev := newCA(nil, "loop", nil)
	for i := range 20 {
		next := newCA(&prev, "loop", nil) // every one named alike and signed by the one before
		chain = append([]*x509.Certificate{next.Leaf}, chain...)
		prev = next
		_ = i
	}
	if err := set.Issued(chain); err == nil {
		t.Fatal("a chain of strangers passed")
	}
}

// TestIssuerSetRemembers: with a memo, Issued gives the same answers and leaves in it the
// signatures that verified, and only those, for the Enroller's chain check of the same request.
func TestIssuerSetRemembers(t *testing.T) {
	root := knownCA()
	inter := newCA(&root, "presented intermediate", nil)
	forged := newCA(nil, "known CA", nil)
	memo := sigmemo.New(0)
	set := NewCheckedIssuerSet([]*x509.Certificate{root.Leaf}, memo)
	direct := issued(t, root, "m1", time.Now().Add(time.Hour)).Leaf
	viaInter := issued(t, inter, "m2", time.Now().Add(time.Hour)).Leaf
	stranger := issued(t, forged, "m3", time.Now().Add(time.Hour)).Leaf
	if err := set.Issued([]*x509.Certificate{direct}); err != nil {
		t.Fatal(err)
	}
	if err := set.Issued([]*x509.Certificate{viaInter, inter.Leaf}); err != nil {
		t.Fatal(err)
	}
	if err := set.Issued([]*x509.Certificate{stranger, forged.Leaf}); err == nil {
		t.Fatal("the known CA's name on another key passed")
	}
	for _, c := range []struct {
		name          string
		child, parent *x509.Certificate
		want          bool
	}{
		{"leaf under the known CA", direct, root.Leaf, true},
		{"leaf under the presented intermediate", viaInter, inter.Leaf, true},
		{"intermediate under the known CA", inter.Leaf, root.Leaf, true},
		{"forged leaf under the known CA", stranger, root.Leaf, false},
		// A true signature, though the chain was refused: the memo holds facts about bytes,
		// not verdicts on chains.
		{"forged leaf under its own CA", stranger, forged.Leaf, true},
		{"its CA under the known CA", forged.Leaf, root.Leaf, false},
	} {
		if got := memo.Checked(c.child, c.parent); got != c.want {
			t.Errorf("%s: remembered %v, want %v", c.name, got, c.want)
		}
	}
}

// TestUnknownIssuerRefusedAtTLS: on the EST listener's TLS configuration, a client
// certificate of an unknown issuer fails the handshake (TLS 1.2 and 1.3) and never reaches the
// handler; a known one does, and so does a client without a certificate (cacerts).
func TestUnknownIssuerRefusedAtTLS(t *testing.T) {
	ca := selfSigned(t, "ca", true)
	f := &fake{ca: ca.Leaf, issued: ca.Leaf}
	srv := server(t, f)
	stranger := selfSigned(t, "stranger", false)
	known := issued(t, knownCA(), "known", time.Now().Add(time.Hour))
	good := encodeBase64(csrDER(t))
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		f.peer = nil
		req, _ := http.NewRequest("POST", srv.URL+"/.well-known/est/simpleenroll", strings.NewReader(string(good)))
		req.Header.Set("Content-Type", "application/pkcs10")
		res, err := client(srv, &stranger, v).Do(req)
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			t.Fatalf("TLS %x: a stranger's certificate was answered %d %s", v, res.StatusCode, b)
		}
		if !strings.Contains(err.Error(), "bad certificate") {
			t.Errorf("TLS %x: the client saw %v, want a bad_certificate alert", v, err)
		}
		if f.peer != nil {
			t.Errorf("TLS %x: the Enroller saw the stranger", v)
		}
		if res, _ := do(t, client(srv, &known, v), "POST", srv.URL+"/.well-known/est/simpleenroll", good, map[string]string{"Content-Type": "application/pkcs10"}); res.StatusCode != 200 {
			t.Errorf("TLS %x: a known issuer's certificate: %d", v, res.StatusCode)
		}
		if res, _ := do(t, client(srv, nil, v), "GET", srv.URL+"/.well-known/est/cacerts", nil, nil); res.StatusCode != 200 {
			t.Errorf("TLS %x: cacerts without a client certificate: %d", v, res.StatusCode)
		}
	}
}
