package makerstatus

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

// This file builds a maker that does not run Hallmark, with plain openssl: a root, an
// intermediate that issues IDevIDs (with hardwareModuleName) and an OCSP responder
// certificate, with `openssl ca` keeping the index. Its CRL is served from a directory by a
// static file server on 127.0.0.1, and its OCSP answers are made by `openssl ocsp -index`
// in responder mode.
//
// openssl's own listener (`openssl ocsp -port N`) takes only a port number in OpenSSL 3.0
// and binds every interface, which tests here may not do; so a loopback HTTP front hands
// each request to `openssl ocsp -index ... -reqin req.der -respout resp.der`, which decodes
// it, looks the certificate up in the index, and builds, signs and nonce-echoes the answer.

// requireOpenSSL skips without openssl, except in CI (CI set), where openssl is required.
func requireOpenSSL(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("openssl is required in CI (.ci/run installs it): %v", err)
		}
		t.Skipf("openssl is not installed: %v", err)
	}
}

// hwType is the hardwareModuleName hwType of the maker's devices (the documentation arc).
const hwType = "1.3.6.1.4.1.32473.15.1"

// maker is a foreign maker's PKI in a temporary directory.
type maker struct {
	t       testing.TB
	dir     string
	served  string // the directory the static server serves
	crlURL  string // the distribution point its device certificates name
	ocspURL string // the responder its device certificates name
	base    string // the static server's base URL

	root, inter, responder *x509.Certificate
	devices                []*x509.Certificate // IDevIDs of serials AS-000001.. ; devices[1] is revoked
	serials                []string

	ocspRequests atomic.Int64
	streamed     atomic.Int64 // bytes the /stream/ handler wrote
}

// openssl runs openssl in the maker's directory within 60 s and returns its output.
func (m *maker) openssl(args ...string) string {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", args...)
	cmd.Dir = m.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		m.t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (m *maker) path(name string) string { return filepath.Join(m.dir, name) }

func (m *maker) cert(name string) *x509.Certificate {
	m.t.Helper()
	b, err := os.ReadFile(m.path(name))
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

// listen returns a loopback listener, closed at the end of the test.
func listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// serve runs h on l until the end of the test.
func serve(t testing.TB, l net.Listener, h http.Handler) {
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
crlDistributionPoints = URI:{{CRL}}
authorityInfoAccess = OCSP;URI:{{OCSP}}
[ hmn{{N}} ]
hwType = OID:` + hwType + `
hwSerialNum = FORMAT:HEX,OCTETSTRING:{{HEX}}
`

// newMaker builds the maker, starts its CRL server and OCSP responder, and revokes the
// second device (keyCompromise) in both.
func newMaker(t testing.TB) *maker {
	requireOpenSSL(t)
	m := &maker{t: t, dir: t.TempDir()}
	m.served = m.path("served")
	for _, d := range []string{m.served, m.path("newcerts"), m.path("impostor")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	crlL, ocspL := listen(t), listen(t)
	m.base = "http://" + crlL.Addr().String()
	m.crlURL = m.base + "/inter.crl"
	m.ocspURL = "http://" + ocspL.Addr().String() + "/ocsp"
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir(m.served)))
	mux.HandleFunc("/stream/", m.stream)
	serve(t, crlL, mux)
	serve(t, ocspL, http.HandlerFunc(m.respond))

	cfg := strings.ReplaceAll(caConfig, "{{DIR}}", m.dir)
	m.serials = []string{"AS-000001", "AS-000002", "AS-000003"}
	for i, s := range m.serials {
		r := strings.NewReplacer("{{N}}", fmt.Sprint(i+1), "{{CRL}}", m.crlURL, "{{OCSP}}", m.ocspURL, "{{HEX}}", hex.EncodeToString([]byte(s)))
		cfg += r.Replace(idevidSection)
	}
	write(t, m.path("ca.cnf"), cfg)
	for _, f := range []string{"index.txt", "impostor/index.txt"} {
		write(t, m.path(f), "")
	}
	write(t, m.path("serial"), "1000\n")
	write(t, m.path("crlnumber"), "1000\n")
	write(t, m.path("impostor/serial"), "1000\n")
	write(t, m.path("impostor/crlnumber"), "2000\n")

	ec := []string{"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"}
	m.openssl(append(ec, "root.key")...)
	m.openssl("req", "-config", "ca.cnf", "-new", "-x509", "-key", "root.key", "-days", "3650", "-subj", "/O=Acme Sensors/CN=Acme Sensors Root",
		"-extensions", "v3_root", "-out", "root.pem")
	m.openssl(append(ec, "inter.key")...)
	m.openssl("req", "-config", "ca.cnf", "-new", "-key", "inter.key", "-subj", "/O=Acme Sensors/CN=Acme Sensors Device CA", "-out", "inter.csr")
	m.openssl("x509", "-req", "-in", "inter.csr", "-CA", "root.pem", "-CAkey", "root.key", "-set_serial", "0x0100", "-days", "3650",
		"-extfile", "ca.cnf", "-extensions", "v3_inter", "-out", "inter.pem")
	for i, s := range m.serials {
		n := fmt.Sprint(i + 1)
		m.openssl(append(ec, "dev"+n+".key")...)
		m.openssl("req", "-config", "ca.cnf", "-new", "-key", "dev"+n+".key", "-subj", "/O=Acme Sensors/CN=Acme Sensor/serialNumber="+s, "-out", "dev"+n+".csr")
		m.openssl("ca", "-batch", "-config", "ca.cnf", "-extensions", "idevid"+n, "-notext", "-in", "dev"+n+".csr", "-out", "dev"+n+".pem")
	}
	m.openssl(append(ec, "ocsp.key")...)
	m.openssl("req", "-config", "ca.cnf", "-new", "-key", "ocsp.key", "-subj", "/O=Acme Sensors/CN=Acme Sensors OCSP", "-out", "ocsp.csr")
	m.openssl("ca", "-batch", "-config", "ca.cnf", "-extensions", "ocsp_signer", "-notext", "-in", "ocsp.csr", "-out", "ocsp.pem")
	m.openssl("ca", "-config", "ca.cnf", "-revoke", "dev2.pem", "-crl_reason", "keyCompromise")

	// The impostor: a CA with the intermediate's name and another key.
	m.openssl(append(ec, "impostor/impostor.key")...)
	m.openssl("req", "-config", "ca.cnf", "-new", "-x509", "-key", "impostor/impostor.key", "-days", "3650",
		"-subj", "/O=Acme Sensors/CN=Acme Sensors Device CA", "-extensions", "v3_root", "-out", "impostor/impostor.pem")

	m.root, m.inter, m.responder = m.cert("root.pem"), m.cert("inter.pem"), m.cert("ocsp.pem")
	for i := range m.serials {
		m.devices = append(m.devices, m.cert(fmt.Sprintf("dev%d.pem", i+1)))
	}
	m.publishCRL("inter.crl")
	return m
}

// makeCRL has openssl make a CRL (DER) with extra `openssl ca -gencrl` arguments.
func (m *maker) makeCRL(extra ...string) []byte {
	m.t.Helper()
	out := m.path("tmp-crl.pem")
	m.openssl(append([]string{"ca", "-config", "ca.cnf", "-gencrl", "-out", out}, extra...)...)
	m.openssl("crl", "-in", out, "-outform", "DER", "-out", out+".der")
	b, err := os.ReadFile(out + ".der")
	if err != nil {
		m.t.Fatal(err)
	}
	return b
}

// publishCRL makes a fresh CRL (7 days) and serves it as name.
func (m *maker) publishCRL(name string, extra ...string) []byte {
	m.t.Helper()
	b := m.makeCRL(extra...)
	m.publish(name, b)
	return b
}

// publish serves data as name, replacing what was there.
func (m *maker) publish(name string, data []byte) {
	m.t.Helper()
	tmp := filepath.Join(m.served, "."+name+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		m.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(m.served, name)); err != nil {
		m.t.Fatal(err)
	}
}

// stream serves 50 MB of CRL-looking bytes without a Content-Length, counting what it writes.
func (m *maker) stream(w http.ResponseWriter, r *http.Request) {
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = 0x30
	}
	for range (50 << 20) / len(chunk) {
		n, err := w.Write(chunk)
		m.streamed.Add(int64(n))
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

func (m *maker) respond(w http.ResponseWriter, r *http.Request) {
	m.ocspRequests.Add(1)
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
	in, out := m.path("ocsp-req.der"), m.path("ocsp-resp.der")
	os.Remove(out)
	if err := os.WriteFile(in, req, 0o600); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", "ocsp", "-index", "index.txt", "-CA", "inter.pem", "-rsigner", "ocsp.pem", "-rkey", "ocsp.key",
		"-nmin", "60", "-reqin", in, "-respout", out)
	cmd.Dir = m.dir
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

func write(t testing.TB, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
