package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCAHelpNamesBothStages: "ca --help" says that ca list, cert and rotate work on
// operational CAs too, not only manufacturing ones.
func TestCAHelpNamesBothStages(t *testing.T) {
	code, out, _ := run(t, "ca", "--help")
	if code != ExitOK {
		t.Fatalf("ca --help exited %d", code)
	}
	for _, want := range []string{"Operational CAs", "--stage manufacturing or operational", "operational create-hierarchy"} {
		if !strings.Contains(out, want) {
			t.Errorf("ca --help does not say %q:\n%s", want, out)
		}
	}
}

// TestUntrustedServerExitCode: a real TLS server whose certificate the CLI does not trust
// (no --cacert, or the CA of another server) ends the command with ExitUntrusted and says how
// to fix it; with the right CA the same command reaches the server.
func TestUntrustedServerExitCode(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"prn_1","party_id":"acme","name":"alice","kind":"person"}`))
	}))
	defer srv.Close()
	caFile := func(der []byte) string {
		p := filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Another CA: a self-signed certificate of a key of its own.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "another CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	otherCA, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	for name, extra := range map[string][]string{
		"no --cacert":         nil,
		"another server's CA": {"--cacert", caFile(otherCA)},
	} {
		code, _, stderr := run(t, append([]string{"--server", srv.URL, "--token", "hmk_x", "whoami"}, extra...)...)
		if code != ExitUntrusted || !strings.Contains(stderr, "not trusted") || !strings.Contains(stderr, "--cacert") {
			t.Errorf("%s: exit %d, want %d (ExitUntrusted)\n%s", name, code, ExitUntrusted, stderr)
		}
	}
	code, out, stderr := run(t, "--server", srv.URL, "--token", "hmk_x", "--cacert", caFile(srv.Certificate().Raw), "whoami")
	if code != ExitOK || !strings.Contains(out, "alice") {
		t.Errorf("with the server's CA: exit %d\n%s%s", code, out, stderr)
	}
	if !strings.Contains(helpText(t), "9 the server's TLS certificate is not") {
		t.Error("the root help does not document exit code 9")
	}
}

func helpText(t *testing.T) string {
	t.Helper()
	_, out, _ := run(t, "--help")
	return out
}

// TestIsTerminal: a regular file and a pipe are not terminals; a pseudo-terminal is.
func TestIsTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(f) || isTerminal(w) || isTerminal(&strings.Builder{}) {
		t.Error("a file, a pipe or a buffer was taken for a terminal")
	}
	pty, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer pty.Close()
	if !isTerminal(pty) {
		t.Error("a pseudo-terminal was not taken for a terminal")
	}
}
