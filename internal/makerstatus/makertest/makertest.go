// Package makertest builds, with plain openssl, a maker that does not run Hallmark, for tests
// of the code that checks such makers' devices (internal/makerstatus, onboarding in
// internal/app): a root, an intermediate that issues IDevIDs (with hardwareModuleName,
// cRLDistributionPoints and OCSP AIA) and an OCSP responder certificate, with ` + "`openssl ca`" + `
// keeping the index. Its CRL is served from a directory by a static file server on
// 127.0.0.1, and its OCSP answers are made by ` + "`openssl ocsp -index`" + ` in responder mode.
//
// openssl's own listener (` + "`openssl ocsp -port N`" + `) takes only a port number in OpenSSL 3.0
// and binds every interface, which tests here may not do; so a loopback HTTP front hands
// each request to ` + "`openssl ocsp -index ... -reqin req.der -respout resp.der`" + `, which decodes
// it, looks the certificate up in the index, and builds, signs and nonce-echoes the answer.
package makertest

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// RequireOpenSSL skips without openssl, except in CI (CI set), where openssl is required.
func RequireOpenSSL(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("openssl is required in CI (.ci/run installs it): %v", err)
		}
		t.Skipf("openssl is not installed: %v", err)
	}
}

// HWType is the hardwareModuleName hwType of the maker's devices (the documentation arc).
const HWType = "1.3.6.1.4.1.32473.15.1"

// maker is a foreign maker's PKI in a temporary directory.
type Maker struct {
	t testing.TB
	// Dir holds the maker's files: root.pem, inter.pem (the device CA), ocsp.pem, devN.pem and
	// devN.key (the IDevIDs and their keys, N from 1), ca.cnf and the index of openssl ca.
	Dir     string
	Served  string // the directory the static server serves
	CRLURL  string // the distribution point its device certificates name
	OCSPURL string // the responder its device certificates name
	Base    string // the static server's base URL

	Root, Inter, Responder *x509.Certificate
	Devices                []*x509.Certificate // IDevIDs of serials AS-000001.., in DirN/devN.pem
	Serials                []string

	OCSPRequests atomic.Int64 // OCSP requests answered
	Streamed     atomic.Int64 // bytes the /stream/ handler wrote

	opts Options
}

// Options shape the maker NewWith builds; the zero value is New's maker.
type Options struct {
	// OCSPOnly makes a maker that offers only OCSP: its device certificates name no CRL
	// distribution point, and no CRL is published (CRLURL then serves 404).
	OCSPOnly bool
	// OCSPLive has the responder answer without nextUpdate (RFC 6960 2.4: newer information
	// is always available), so a client caches nothing and a revocation in the index shows
	// in the next answer. Otherwise answers carry a nextUpdate 60 minutes on.
	OCSPLive bool
}

// OpenSSL runs openssl in the maker's directory within 60 s and returns its output.
func (m *Maker) OpenSSL(args ...string) string {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", args...)
	cmd.Dir = m.Dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		m.t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Path is name in the maker's directory.
func (m *Maker) Path(name string) string { return filepath.Join(m.Dir, name) }

// Cert reads a PEM certificate of the maker's directory.
func (m *Maker) Cert(name string) *x509.Certificate {
	m.t.Helper()
	b, err := os.ReadFile(m.Path(name))
	if err != nil {
		m.t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		m.t.Fatalf("%s: no PEM", name)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		m.t.Fatalf("%s: %v", name, err)
	}
	return c
}

// Listen returns a loopback listener, closed at the end of the test.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// Serve runs h on l until the end of the test.
func Serve(t testing.TB, l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
}

const caConfig = `
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
[ ca ]
default_ca = inter
[ inter ]
dir = {{DIR}}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
crlnumber = $dir/crlnumber
certificate = $dir/inter.pem
private_key = $dir/inter.key
default_md = sha256
default_days = 3650
default_crl_days = 7
policy = anything
unique_subject = no
copy_extensions = none
[ impostor ]
dir = {{DIR}}/impostor
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
crlnumber = $dir/crlnumber
certificate = $dir/impostor.pem
private_key = $dir/impostor.key
default_md = sha256
default_crl_days = 7
policy = anything
[ anything ]
organizationName = optional
commonName = optional
serialNumber = optional
[ v3_root ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ v3_inter ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ ocsp_signer ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = OCSPSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
noCheck = ignored
`

const idevidSection = `
[ idevid{{N}} ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = otherName:1.3.6.1.5.5.7.8.4;SEQUENCE:hmn{{N}}
{{CDP}}authorityInfoAccess = OCSP;URI:{{OCSP}}
[ hmn{{N}} ]
hwType = OID:` + HWType + `
hwSerialNum = FORMAT:HEX,OCTETSTRING:{{HEX}}
`

// New builds the maker with three devices, starts its CRL server and OCSP responder (both on
// 127.0.0.1, until the end of the test), and publishes its first CRL, valid 7 days. It skips
// the test without openssl (fails it under CI).
func New(t testing.TB) *Maker { return NewWith(t, Options{}) }

// NewWith builds the maker as New does, shaped by o.
func NewWith(t testing.TB, o Options) *Maker {
	RequireOpenSSL(t)
	m := &Maker{t: t, Dir: t.TempDir(), opts: o}
	m.Served = m.Path("served")
	for _, d := range []string{m.Served, m.Path("newcerts"), m.Path("impostor")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	crlL, ocspL := Listen(t), Listen(t)
	m.Base = "http://" + crlL.Addr().String()
	m.CRLURL = m.Base + "/inter.crl"
	m.OCSPURL = "http://" + ocspL.Addr().String() + "/ocsp"
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir(m.Served)))
	mux.HandleFunc("/stream/", m.stream)
	Serve(t, crlL, mux)
	Serve(t, ocspL, http.HandlerFunc(m.respond))

	cfg := strings.ReplaceAll(caConfig, "{{DIR}}", m.Dir)
	m.Serials = []string{"AS-000001", "AS-000002", "AS-000003"}
	for i, s := range m.Serials {
		cdp := "crlDistributionPoints = URI:" + m.CRLURL + "\n"
		if o.OCSPOnly {
			cdp = ""
		}
		r := strings.NewReplacer("{{N}}", fmt.Sprint(i+1), "{{CDP}}", cdp, "{{OCSP}}", m.OCSPURL, "{{HEX}}", hex.EncodeToString([]byte(s)))
		cfg += r.Replace(idevidSection)
	}
	Write(t, m.Path("ca.cnf"), cfg)
	for _, f := range []string{"index.txt", "impostor/index.txt"} {
		Write(t, m.Path(f), "")
	}
	Write(t, m.Path("serial"), "1000\n")
	Write(t, m.Path("crlnumber"), "1000\n")
	Write(t, m.Path("impostor/serial"), "1000\n")
	Write(t, m.Path("impostor/crlnumber"), "2000\n")

	ec := []string{"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"}
	m.OpenSSL(append(ec, "root.key")...)
	m.OpenSSL("req", "-config", "ca.cnf", "-new", "-x509", "-key", "root.key", "-days", "3650", "-subj", "/O=Acme Sensors/CN=Acme Sensors Root",
		"-extensions", "v3_root", "-out", "root.pem")
	m.OpenSSL(append(ec, "inter.key")...)
	m.OpenSSL("req", "-config", "ca.cnf", "-new", "-key", "inter.key", "-subj", "/O=Acme Sensors/CN=Acme Sensors Device CA", "-out", "inter.csr")
	m.OpenSSL("x509", "-req", "-in", "inter.csr", "-CA", "root.pem", "-CAkey", "root.key", "-set_serial", "0x0100", "-days", "3650",
		"-extfile", "ca.cnf", "-extensions", "v3_inter", "-out", "inter.pem")
	for i, s := range m.Serials {
		n := fmt.Sprint(i + 1)
		m.OpenSSL(append(ec, "dev"+n+".key")...)
		m.OpenSSL("req", "-config", "ca.cnf", "-new", "-key", "dev"+n+".key", "-subj", "/O=Acme Sensors/CN=Acme Sensor/serialNumber="+s, "-out", "dev"+n+".csr")
		m.OpenSSL("ca", "-batch", "-config", "ca.cnf", "-extensions", "idevid"+n, "-notext", "-in", "dev"+n+".csr", "-out", "dev"+n+".pem")
	}
	m.OpenSSL(append(ec, "ocsp.key")...)
	m.OpenSSL("req", "-config", "ca.cnf", "-new", "-key", "ocsp.key", "-subj", "/O=Acme Sensors/CN=Acme Sensors OCSP", "-out", "ocsp.csr")
	m.OpenSSL("ca", "-batch", "-config", "ca.cnf", "-extensions", "ocsp_signer", "-notext", "-in", "ocsp.csr", "-out", "ocsp.pem")

	// The impostor: a CA with the intermediate's name and another key.
	m.OpenSSL(append(ec, "impostor/impostor.key")...)
	m.OpenSSL("req", "-config", "ca.cnf", "-new", "-x509", "-key", "impostor/impostor.key", "-days", "3650",
		"-subj", "/O=Acme Sensors/CN=Acme Sensors Device CA", "-extensions", "v3_root", "-out", "impostor/impostor.pem")

	m.Root, m.Inter, m.Responder = m.Cert("root.pem"), m.Cert("inter.pem"), m.Cert("ocsp.pem")
	for i := range m.Serials {
		m.Devices = append(m.Devices, m.Cert(fmt.Sprintf("dev%d.pem", i+1)))
	}
	if !o.OCSPOnly {
		m.PublishCRL("inter.crl")
	}
	return m
}

// Revoke revokes device n (from 1) in the maker's index with an RFC 5280 reason name
// (keyCompromise, ...), which the OCSP responder answers from at once, and publishes a new
// CRL as inter.crl (unless the maker is OCSPOnly).
func (m *Maker) Revoke(n int, reason string) {
	m.t.Helper()
	m.OpenSSL("ca", "-config", "ca.cnf", "-revoke", fmt.Sprintf("dev%d.pem", n), "-crl_reason", reason)
	if !m.opts.OCSPOnly {
		m.PublishCRL("inter.crl")
	}
}

// MakeCRL has openssl make a CRL (DER) with extra `openssl ca -gencrl` arguments.
func (m *Maker) MakeCRL(extra ...string) []byte {
	m.t.Helper()
	out := m.Path("tmp-crl.pem")
	m.OpenSSL(append([]string{"ca", "-config", "ca.cnf", "-gencrl", "-out", out}, extra...)...)
	m.OpenSSL("crl", "-in", out, "-outform", "DER", "-out", out+".der")
	b, err := os.ReadFile(out + ".der")
	if err != nil {
		m.t.Fatal(err)
	}
	return b
}

// PublishCRL makes a fresh CRL (7 days) and serves it as name.
func (m *Maker) PublishCRL(name string, extra ...string) []byte {
	m.t.Helper()
	b := m.MakeCRL(extra...)
	m.Publish(name, b)
	return b
}

// Publish serves data as name, replacing what was there.
func (m *Maker) Publish(name string, data []byte) {
	m.t.Helper()
	tmp := filepath.Join(m.Served, "."+name+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		m.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(m.Served, name)); err != nil {
		m.t.Fatal(err)
	}
}

// stream serves 50 MB of CRL-looking bytes without a Content-Length, counting what it writes.
func (m *Maker) stream(w http.ResponseWriter, r *http.Request) {
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = 0x30
	}
	for range (50 << 20) / len(chunk) {
		n, err := w.Write(chunk)
		m.Streamed.Add(int64(n))
		if err != nil {
			return
		}
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
}

// respond answers one OCSP request (POST, or GET per RFC 6960 appendix A.1) by running
// `openssl ocsp -index` in responder mode on it.
var ocspMu sync.Mutex

func (m *Maker) respond(w http.ResponseWriter, r *http.Request) {
	m.OCSPRequests.Add(1)
	var req []byte
	var err error
	switch r.Method {
	case http.MethodPost:
		req, err = io.ReadAll(io.LimitReader(r.Body, 64<<10))
	case http.MethodGet:
		var s string
		if s, err = url.QueryUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/ocsp/")); err == nil {
			req, err = base64.StdEncoding.DecodeString(s)
		}
	default:
		http.Error(w, "method", http.StatusMethodNotAllowed)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ocspMu.Lock()
	defer ocspMu.Unlock()
	in, out := m.Path("ocsp-req.der"), m.Path("ocsp-resp.der")
	os.Remove(out)
	if err := os.WriteFile(in, req, 0o600); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	args := []string{"ocsp", "-index", "index.txt", "-CA", "inter.pem", "-rsigner", "ocsp.pem", "-rkey", "ocsp.key", "-reqin", in, "-respout", out}
	if !m.opts.OCSPLive {
		args = append(args, "-nmin", "60")
	}
	cmd := exec.CommandContext(ctx, "openssl", args...)
	cmd.Dir = m.Dir
	if b, err := cmd.CombinedOutput(); err != nil {
		http.Error(w, fmt.Sprintf("openssl ocsp: %v: %s", err, b), http.StatusInternalServerError)
		return
	}
	resp, err := os.ReadFile(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	w.Write(resp)
}

// Write writes a file or fails the test.
func Write(t testing.TB, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
