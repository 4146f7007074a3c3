package app

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/hallmark-id/hallmark/internal/keys"
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/store/postgres"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
)

// The process harness: real `hallmark serve --config` processes (the binary built once per
// test with go build) over one database, seeded in this process with the dev server's demo
// parties, so that tests can kill -9 them.

const procPassphrase = "replica test passphrase"

// buildBinary builds cmd/hallmark into a temporary folder of the test.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hallmark")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/hallmark")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// cluster is one database with its key folder, TLS certificate and demo tokens, and the
// replicas serving it.
type cluster struct {
	t        *testing.T
	bin      string
	dir      string
	driver   string // sqlite or postgres
	dsn      string // postgres URL, or the SQLite file
	tokens   map[string]string
	pool     *x509.CertPool
	leaseTTL string
	replicas []*replica
}

// replica is one `hallmark serve` process.
type replica struct {
	c    *cluster
	i    int
	addr string
	cfg  string
	log  string
	cmd  *exec.Cmd
	done chan error
	api  *devServer // for the must/call helpers of harness_test.go
	hc   *http.Client
}

// newCluster seeds a database (driver "sqlite": dsn is ignored and a file in the test's folder
// is used) and prepares replicas' configuration; start them with start.
func newCluster(t *testing.T, driver, dsn string) *cluster {
	t.Helper()
	c := &cluster{t: t, bin: buildBinary(t), dir: t.TempDir(), driver: driver, dsn: dsn, leaseTTL: "2s"}
	if driver == "sqlite" {
		c.dsn = filepath.Join(c.dir, "hallmark.db")
	}
	c.writeTLS()
	ctx := context.Background()
	st := c.openStore()
	defer st.Close()
	kp, err := keyfile.New(filepath.Join(c.dir, "keys"), keys.Secret(procPassphrase))
	if err != nil {
		t.Fatal(err)
	}
	a, err := Build(Wiring{Store: st, Keys: kp, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), AuditOrigin: "hallmark-test/audit"})
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(c.dir, "tokens.json")
	if err := a.devSeed(ctx, tokenFile); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &c.tokens); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.stopAll)
	return c
}

func (c *cluster) openStore() *sqlstore.Store {
	c.t.Helper()
	var st *sqlstore.Store
	var err error
	if c.driver == "sqlite" {
		st, err = sqlite.Open(context.Background(), c.dsn)
	} else {
		st, err = postgres.Open(context.Background(), c.dsn)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	return st
}

// db opens the database for the test's own checks.
func (c *cluster) db() *sql.DB {
	c.t.Helper()
	var db *sql.DB
	var err error
	if c.driver == "sqlite" {
		db, err = sql.Open("sqlite", "file:"+c.dsn+"?_pragma=busy_timeout(10000)")
	} else {
		db, err = sql.Open("pgx", c.dsn)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { db.Close() })
	return db
}

// writeTLS makes a self-signed server certificate for 127.0.0.1.
func (c *cluster) writeTLS() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		c.t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), BasicConstraintsValid: true, IsCA: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		c.t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		c.t.Fatal(err)
	}
	writeFile(c.t, c.dir, "tls.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(c.t, c.dir, "tls.key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})))
	cert, _ := x509.ParseCertificate(der)
	c.pool = x509.NewCertPool()
	c.pool.AddCert(cert)
}

// add prepares replica i (a free port, its configuration file) without starting it.
func (c *cluster) add() *replica {
	c.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	i := len(c.replicas)
	store := map[string]any{"driver": "sqlite", "path": c.dsn}
	if c.driver == "postgres" {
		store = map[string]any{"driver": "postgres", "dsn_env": "HALLMARK_TEST_DATABASE_URL"}
	}
	cfg := map[string]any{
		"listen": addr, "public_url": "https://" + addr, "store": store,
		"keys":   map[string]any{"dir": filepath.Join(c.dir, "keys"), "passphrase_env": "HALLMARK_TEST_PASSPHRASE"},
		"tls":    map[string]any{"cert_file": filepath.Join(c.dir, "tls.pem"), "key_file": filepath.Join(c.dir, "tls.key")},
		"log":    map[string]any{"level": "info", "format": "json"},
		"audit":  map[string]any{"checkpoint_interval": "1s", "origin": "hallmark-test/audit"},
		"leader": map[string]any{"lease_ttl": c.leaseTTL},
		"limits": map[string]any{"full_crl_min_interval": "1s"}, // the full CRL follows a revocation within seconds
	}
	b, _ := json.Marshal(cfg)
	name := fmt.Sprintf("replica-%d.json", i)
	writeFile(c.t, c.dir, name, string(b))
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.pool}, MaxIdleConnsPerHost: 16}}
	r := &replica{c: c, i: i, addr: addr, cfg: filepath.Join(c.dir, name), log: filepath.Join(c.dir, fmt.Sprintf("replica-%d.log", i)), hc: hc}
	r.api = &devServer{dir: c.dir, info: DevInfo{APIURL: "https://" + addr}, tokens: c.tokens, http: hc}
	c.replicas = append(c.replicas, r)
	return r
}

// start runs the replica's process and waits until /healthz answers.
func (r *replica) start() {
	t := r.c.t
	t.Helper()
	logf, err := os.OpenFile(r.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(r.c.bin, "serve", "--config", r.cfg)
	cmd.Env = append(os.Environ(), "HALLMARK_TEST_PASSPHRASE="+procPassphrase, "HALLMARK_TEST_DATABASE_URL="+r.c.dsn)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	r.cmd, r.done = cmd, make(chan error, 1)
	go func() { r.done <- cmd.Wait(); logf.Close() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := r.health(); err == nil {
			return
		}
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("replica %d exited: %v\n%s", r.i, err, r.tail())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %d did not answer /healthz within 60 s\n%s", r.i, r.tail())
		}
	}
}

// running reports whether the process has not exited.
func (r *replica) running() bool {
	if r.cmd == nil {
		return false
	}
	select {
	case err := <-r.done:
		r.done <- err
		return false
	default:
		return true
	}
}

// kill9 kills the process with SIGKILL and waits for it.
func (r *replica) kill9() {
	if !r.running() {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
	r.done <- nil
	r.cmd = nil
}

// stop ends the process gracefully (SIGTERM), killing it after 15 s.
func (r *replica) stop() {
	if !r.running() {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(15 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	r.done <- nil
	r.cmd = nil
}

func (c *cluster) stopAll() {
	for _, r := range c.replicas {
		r.stop()
	}
}

// tail is the end of the replica's log, for failure messages.
func (r *replica) tail() string {
	b, _ := os.ReadFile(r.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// health asks /healthz and returns the replica's role (leader or follower).
func (r *replica) health() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+r.addr+"/healthz", nil)
	res, err := r.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode != 200 {
		return "", fmt.Errorf("healthz: %d", res.StatusCode)
	}
	return res.Header.Get("Hallmark-Role"), nil
}

// try is devServer.call without failing the test: transport errors are returned.
func (r *replica) try(who, method, path string, body any) (resp, error) {
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			return resp{}, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, "https://"+r.addr+path, rd)
	if err != nil {
		return resp{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+r.c.tokens[who])
	}
	res, err := r.hc.Do(req)
	if err != nil {
		return resp{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return resp{}, err
	}
	return resp{Status: res.StatusCode, Body: b, Header: res.Header}, nil
}

// goCSR is a PEM PKCS#10 request for a fresh P-256 key.
func goCSR(t testing.TB, cn string) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// lotWithCA makes a lot of the demo model on the demo issuing CA, delegated to fabrikam, and
// returns its ID with the CA's.
func lotWithCA(t *testing.T, s *devServer, name string) (lotID, caID string) {
	t.Helper()
	var cas, models items
	s.must(t, 200, alice, "GET", "/v1/cas", nil).json(t, &cas)
	s.must(t, 200, alice, "GET", "/v1/models?manufacturer=acme", nil).json(t, &models)
	for _, c := range cas.Items {
		if c.Role == "issuing" {
			caID = c.ID
		}
	}
	var lot item
	s.must(t, 201, alice, "POST", "/v1/lots", map[string]any{
		"model_id": models.Items[0].ID, "name": name, "line": "line-a", "issuing_ca_id": caID, "delegate_to": "fabrikam",
	}).json(t, &lot)
	return lot.ID, caID
}

// issueVia issues one factory identity through r; ok is false when the request was not
// acknowledged (a transport error or a status other than 201).
func (r *replica) issueVia(t testing.TB, lotID, lotName, serial string) (fi factoryIdentity, status int, err error) {
	res, err := r.try(station, "POST", "/v1/lots/"+lotID+"/devices", map[string]any{"csr": goCSR(t, serial), "build_record": record(serial, lotName)})
	if err != nil {
		return fi, 0, err
	}
	if res.Status != 201 {
		return fi, res.Status, fmt.Errorf("status %d: %s", res.Status, res.Body)
	}
	return fi, 201, json.Unmarshal(res.Body, &fi)
}

// parsePEM returns the first certificate of a PEM text.
func parsePEM(t testing.TB, s string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		t.Fatalf("no PEM certificate in %q", s)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ocspStatus asks r's responder about cert.
func (r *replica) ocspStatus(cert, issuer *x509.Certificate) (int, error) {
	q, err := ocsp.CreateRequest(cert, issuer, nil)
	if err != nil {
		return 0, err
	}
	req, _ := http.NewRequest("POST", "https://"+r.addr+"/ocsp", bytes.NewReader(q))
	req.Header.Set("Content-Type", "application/ocsp-request")
	res, err := r.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err
	}
	o, err := ocsp.ParseResponseForCert(b, cert, issuer)
	if err != nil {
		return 0, fmt.Errorf("OCSP answer of replica %d: %w", r.i, err)
	}
	return o.Status, nil
}

// crl fetches and verifies r's CRL of the CA issuer.
func (r *replica) crl(caID string, issuer *x509.Certificate) (*x509.RevocationList, error) {
	res, err := r.try("", "GET", "/crl/"+caID+".crl", nil)
	if err != nil {
		return nil, err
	}
	if res.Status != 200 {
		return nil, fmt.Errorf("CRL of replica %d: status %d %s", r.i, res.Status, res.Body)
	}
	l, err := x509.ParseRevocationList(res.Body)
	if err != nil {
		return nil, err
	}
	return l, l.CheckSignatureFrom(issuer)
}

func crlLists(l *x509.RevocationList, serial *big.Int) bool {
	for _, e := range l.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			return true
		}
	}
	return false
}

// eventually polls cond every 50 ms until it holds or within passes, and returns how long
// it took.
func eventually(t *testing.T, what string, within time.Duration, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	var err error
	for time.Since(start) < within {
		if err = cond(); err == nil {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s: %v", what, within, err)
	return 0
}

// pgURL adds parameters to a PostgreSQL URL.
func pgURL(base string, kv ...string) string {
	var b strings.Builder
	b.WriteString(base)
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString(sep + kv[i] + "=" + kv[i+1])
		sep = "&"
	}
	return b.String()
}
