// Command floor is a measuring instrument for issue 21, not a product: an HTTPS server that
// issues factory certificates, and operational certificates over EST, doing only the work
// Hallmark's guarantees require, with the code Hallmark does that work with, and nothing else.
// tools/bench runs it beside Hallmark and the peers (-servers floor) so that the cost of the
// guarantees alone, on this stack, is measured in the same run as step-ca's and Hallmark's,
// rather than added up from a profile.
//
// Per factory certificate it does what Hallmark's factory issuance does that a guarantee needs:
//
//   - TLS (1.3 with the bench's clients) on a kept-alive connection, a bearer token compared
//     in constant time, and the request decoded with Hallmark's strict JSON decoder
//     (httpapi.DecodeJSON);
//   - the CSR parsed and its proof of possession verified (csr.ParseText);
//   - the build record validated and signed as a DSSE envelope (buildrecord.Sign);
//   - the factory template built, with status URLs of Hallmark's form so that the certificate
//     is the same, linted with zlint before signing, the TBS recorded, signed, parsed back,
//     compared and verified (issuance.Issuer's Prepare and Sign);
//   - a record of intent written durably before signing: one transaction that refuses a key
//     bound to another device and a serial the manufacturer already used, and reserves the
//     certificate;
//   - after signing, one transaction that marks the certificate issued and stores the device,
//     the build record and an audit event with its RFC 6962 leaf and the Merkle tree's new
//     nodes;
//   - both transactions group-committed on SQLite (modernc.org/sqlite, WAL, synchronous=FULL,
//     Hallmark's writer pragmas and batching);
//   - the answer, with the certificate, its chain and the envelope, as JSON.
//
// EST onboarding and renewal are in est.go. Everything else Hallmark does per request is left
// out: principals, parties and ownership, lots and models, custody and environments, policy,
// evidence, metrics, rate limits, the read cache, leadership, snapshots and background work.
// So it is the floor of issuance on this stack, not a server anyone should run.
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/config"
	"github.com/hallmark-id/hallmark/internal/csr"
	"github.com/hallmark-id/hallmark/internal/httpapi"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

func main() {
	defer func() { os.Exit(exit) }() // runs last, after the profile is written
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	dir := flag.String("dir", "", "folder for the database, root.pem and token (required)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *dir == "" {
		log.Fatal("floor: -dir is required")
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal("floor: ", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal("floor: ", err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	// Hallmark's defaults; GOGC and GOMEMLIMIT in the environment win, as they do for Hallmark.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(config.DefaultGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(config.DefaultMemoryLimit(config.DefaultOCSPCacheBytes))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *dir); err != nil {
		log.Print("floor: ", err)
		exit = 1
	}
}

// exit is the process's exit status, set when run fails.
var exit int

func run(ctx context.Context, addr, dir string) error {
	s, tlsCert, err := newServer(dir)
	if err != nil {
		return err
	}
	defer s.db.Close()
	defer s.readers.Close()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.statusBase = "http://" + l.Addr().String()
	srv := &http.Server{
		Handler:           s,
		TLSConfig:         s.tlsConfig([]tls.Certificate{tlsCert}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { <-ctx.Done(); srv.Close() }()
	go s.writer()
	log.Printf("floor: listening on https://%s", l.Addr())
	if err := srv.ServeTLS(l, "", ""); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type server struct {
	db       *sql.DB
	issuer   *issuance.Issuer // the factory issuing CA
	caCert   *x509.Certificate
	chainPEM string
	opIssuer *issuance.Issuer // the operational issuing CA (EST)
	opCert   *x509.Certificate
	brPub    crypto.PublicKey
	readers  *sql.DB // Hallmark's reader pool (internal/store/sqlite): EST's look-ups
	brKey    crypto.Signer
	token    []byte
	hwType   asn1.ObjectIdentifier
	writes   chan *write
	// statusBase is where the certificates say their status is served (nothing serves it).
	statusBase string
	prepared   map[string]*sql.Stmt // by query, on the one connection (prepare)
	treeSize   uint64
	tree       *compact.Range
	lastAudit  int64
}

// newServer makes a P-256 root and issuing CA, the build-record key and the TLS certificate,
// writes root.pem and token into dir, and opens dir/floor.db.
func newServer(dir string) (*server, tls.Certificate, error) {
	var tc tls.Certificate
	l, err := issuance.NewLinter()
	if err != nil {
		return nil, tc, err
	}
	now := time.Now()
	rootKey, root, err := makeCA(nil, nil, "floor root", now)
	if err != nil {
		return nil, tc, err
	}
	caKey, caCert, err := makeCA(root, rootKey, "floor issuing CA", now)
	if err != nil {
		return nil, tc, err
	}
	is, err := issuance.NewIssuer(caCert, caKey, l)
	if err != nil {
		return nil, tc, err
	}
	opKey, opCert, err := makeCA(root, rootKey, "floor operational CA", now)
	if err != nil {
		return nil, tc, err
	}
	opIs, err := issuance.NewIssuer(opCert, opKey, l)
	if err != nil {
		return nil, tc, err
	}
	brKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tc, err
	}
	tlsKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tc, err
	}
	tlsDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "floor"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}, root, tlsKey.Public(), rootKey)
	if err != nil {
		return nil, tc, err
	}
	tc = tls.Certificate{Certificate: [][]byte{tlsDER}, PrivateKey: tlsKey}
	token := []byte(rand.Text())
	if err := os.WriteFile(filepath.Join(dir, "root.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), 0o600); err != nil {
		return nil, tc, err
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), token, 0o600); err != nil {
		return nil, tc, err
	}
	db, prepared, err := openDB(filepath.Join(dir, "floor.db"))
	if err != nil {
		return nil, tc, err
	}
	readers, err := openReaders(filepath.Join(dir, "floor.db"))
	if err != nil {
		db.Close()
		return nil, tc, err
	}
	chain := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw})) + string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}))
	tree, err := rangeFactory.NewRange(0, 0, nil)
	if err != nil {
		return nil, tc, err
	}
	return &server{db: db, readers: readers, issuer: is, caCert: caCert, chainPEM: chain, opIssuer: opIs, opCert: opCert, brKey: brKey, brPub: brKey.Public(), token: token,
		hwType: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 55555, 1}, writes: make(chan *write, 256), prepared: prepared, tree: tree}, tc, nil
}

// makeCA makes a P-256 CA certificate, self-signed when parent is nil.
func makeCA(parent *x509.Certificate, parentKey crypto.Signer, cn string, now time.Time) (crypto.Signer, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn, Organization: []string{"floor"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	if parent == nil {
		parent, parentKey = tmpl, key
	} else {
		tmpl.MaxPathLenZero = true
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return key, c, err
}

// schema is the least that holds what the guarantees need: the reserved then issued
// certificate with its key's hash (one key, one device), the device and its serial (one serial
// per manufacturer), the signed build record, and the audit log with its Merkle nodes. The
// tables are laid out as Hallmark's are (rowid tables keyed by text IDs; the tree's nodes
// without rowid), with fewer columns and indexes. Identifiers that grow with time
// (issuance.NewSerial, party.NewID) keep inserts at the end of their B-trees, as in Hallmark.
const schema = `
CREATE TABLE IF NOT EXISTS certificates (serial TEXT PRIMARY KEY, key_sha256 BLOB NOT NULL, device_id TEXT NOT NULL,
  state INTEGER NOT NULL, tbs BLOB NOT NULL, der BLOB);
CREATE INDEX IF NOT EXISTS certificates_key ON certificates (key_sha256, device_id);
CREATE TABLE IF NOT EXISTS devices (id TEXT PRIMARY KEY, serial TEXT NOT NULL UNIQUE, factory_cert TEXT NOT NULL,
  factory_sha256 BLOB NOT NULL, operational_cert TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS build_records (device_id TEXT PRIMARY KEY, payload_sha256 BLOB NOT NULL, envelope BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS audit_events (seq INTEGER PRIMARY KEY, leaf BLOB NOT NULL, leaf_hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS audit_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID;
`

// The writer's statements, prepared once (openDB).
const (
	qAuditEvent  = "INSERT INTO audit_events (seq, leaf, leaf_hash) VALUES (?, ?, ?)"
	qAuditNode   = "INSERT INTO audit_nodes (level, idx, hash) VALUES (?, ?, ?)"
	qFree        = "SELECT EXISTS (SELECT 1 FROM certificates WHERE key_sha256 = ? AND device_id <> ?), EXISTS (SELECT 1 FROM devices WHERE serial = ?)"
	qReserve     = "INSERT INTO certificates (serial, key_sha256, device_id, tbs, state) VALUES (?, ?, ?, ?, 0)"
	qIssued      = "UPDATE certificates SET der = ?, state = 1 WHERE serial = ? AND state = 0"
	qDevice      = "INSERT INTO devices (id, serial, factory_cert, factory_sha256) VALUES (?, ?, ?, ?)"
	qBuildRecord = "INSERT INTO build_records (device_id, payload_sha256, envelope) VALUES (?, ?, ?)"
	qKeyFree     = "SELECT EXISTS (SELECT 1 FROM certificates WHERE key_sha256 = ? AND device_id <> ?)"
	qOperational = "UPDATE devices SET operational_cert = ? WHERE id = ? AND operational_cert = ?"
	qSupersede   = "UPDATE certificates SET state = 2 WHERE serial = ? AND state = 1"
)

var statements = []string{qAuditEvent, qAuditNode, qFree, qReserve, qIssued, qDevice, qBuildRecord, qKeyFree, qOperational, qSupersede}

// EST's look-ups, on the reader pool: the presented certificate must be the one stored for
// its serial, issued and (for renewal) the device's current operational certificate.
const (
	qOnboard = `SELECT c.device_id, d.factory_sha256, d.operational_cert, b.payload_sha256, b.envelope FROM certificates c
  JOIN devices d ON d.id = c.device_id JOIN build_records b ON b.device_id = c.device_id
  WHERE c.serial = ? AND c.state = 1 AND c.der = ? AND d.factory_cert = c.serial`
	qRenewal = `SELECT c.device_id, d.factory_cert, d.factory_sha256 FROM certificates c JOIN devices d ON d.id = c.device_id
  WHERE c.serial = ? AND c.state = 1 AND c.der = ? AND d.operational_cert = c.serial`
)

// openReaders opens Hallmark's reader pool on path (sqlite.DSN, sqlite.Readers): every
// connection kept open.
func openReaders(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", sqlite.DSN(path, false))
	if err != nil {
		return nil, err
	}
	n := sqlite.Readers()
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	return db, nil
}

func sha256Of(b []byte) []byte { h := sha256.Sum256(b); return h[:] }

// openDB opens the one writing connection with Hallmark's settings (sqlite.DSN: WAL,
// synchronous=FULL, immediate transactions and the writer's pragmas) and prepares the writer's
// statements on it (the connection is the transaction's once one is open, so nothing can be
// prepared on the side then).
func openDB(path string) (*sql.DB, map[string]*sql.Stmt, error) {
	db, err := sql.Open("sqlite", sqlite.DSN(path, true))
	if err != nil {
		return nil, nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("creating the schema: %w", err)
	}
	prepared := map[string]*sql.Stmt{}
	for _, q := range statements {
		st, err := db.Prepare(q)
		if err != nil {
			db.Close()
			return nil, nil, fmt.Errorf("preparing %q: %w", q, err)
		}
		prepared[q] = st
	}
	return db, prepared, nil
}

// write is one transaction's work, run by the writer in a batch.
type write struct {
	fn   func(tx *wtx) error
	done chan error
}

// wtx is the writer's transaction. Its statements are prepared once on the connection and
// bound to the transaction once each, as Hallmark's are (sqlstore's statement cache): SQLite
// does not parse a statement per request.
type wtx struct {
	tx    *sql.Tx
	s     *server
	stmts map[string]*sql.Stmt
}

func (t *wtx) stmt(q string) (*sql.Stmt, error) {
	if st, ok := t.stmts[q]; ok {
		return st, nil
	}
	p, ok := t.s.prepared[q]
	if !ok {
		return nil, fmt.Errorf("statement not prepared: %q", q)
	}
	st := t.tx.Stmt(p)
	t.stmts[q] = st
	return st, nil
}

func (t *wtx) exec(q string, args ...any) (sql.Result, error) {
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.Exec(args...)
}

func (t *wtx) queryRow(q string, args ...any) (*sql.Row, error) {
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.QueryRow(args...), nil
}

// do runs fn in the next group commit and returns once that commit is durable.
func (s *server) do(ctx context.Context, fn func(tx *wtx) error) error {
	w := &write{fn: fn, done: make(chan error, 1)}
	select {
	case s.writes <- w:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-w.done
}

// floorCAID names the issuing CA in status URLs, as long as Hallmark's CA IDs.
const floorCAID = "ca-floor0000000000000"

var rangeFactory = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// groupMax is Hallmark's.
const groupMax = sqlite.GroupCommitMax

// writer is the group commit: it takes what is waiting (up to groupMax, after one yield), runs
// it in one transaction without savepoints and commits once, as Hallmark's batcher does
// (loop, runOptimistic).
// When one fails in a batch of more, the batch is rolled back and each runs alone.
func (s *server) writer() {
	for first := range s.writes {
		batch := []*write{first}
		yielded := false
	more:
		for len(batch) < groupMax {
			select {
			case w := <-s.writes:
				batch = append(batch, w)
			default:
				if yielded {
					break more
				}
				// Hallmark's batcher yields once before a batch closes, so that writes about to
				// be handed over share its commit (sqlstore/groupcommit.go); so does the floor.
				yielded = true
				runtime.Gosched()
			}
		}
		if err := s.commit(batch); err != nil && len(batch) > 1 {
			for _, w := range batch {
				w.done <- s.commit([]*write{w})
			}
			continue
		} else {
			for _, w := range batch {
				w.done <- err
			}
		}
	}
}

// commit runs batch in one transaction and commits it; the first failure rolls it all back.
func (s *server) commit(batch []*write) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	t := &wtx{tx: tx, s: s, stmts: map[string]*sql.Stmt{}}
	hashes, size, last := slices.Clone(s.tree.Hashes()), s.treeSize, s.lastAudit
	for _, w := range batch {
		if err := w.fn(t); err != nil {
			tx.Rollback()
			// The leaves this batch appended in memory did not land: back to the stored tree.
			var rerr error
			if s.tree, rerr = rangeFactory.NewRange(0, size, hashes); rerr != nil {
				log.Fatalf("floor: audit tree: %v", rerr)
			}
			s.treeSize, s.lastAudit = size, last
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		log.Fatalf("floor: commit: %v", err) // the audit tree in memory has moved on (appendAudit)
	}
	return nil
}

// appendAudit appends e to the audit log in tx: its leaf, and the Merkle nodes of level 4 and
// up that the new leaf completes. Only the writer calls it. The tree in memory moves with the transaction; should a
// write fail once it has moved, the server stops (commit says why): an instrument has no
// recovery to measure.
func (s *server) appendAudit(tx *wtx, e audit.Event) error {
	e.Seq = s.lastAudit + 1
	leaf, err := audit.MarshalLeaf(e)
	if err != nil {
		return err
	}
	hash := rfc6962.DefaultHasher.HashLeaf(leaf)
	if _, err := tx.exec(qAuditEvent, e.Seq, leaf, hash); err != nil {
		return err
	}
	var nodeErr error
	if err := s.tree.Append(hash, func(id compact.NodeID, h []byte) {
		// Hallmark's storedNodeLevel: the leaves are stored with their events and levels 1 to
		// 3 are recomputed from them.
		if id.Level >= 4 && nodeErr == nil {
			_, nodeErr = tx.exec(qAuditNode, id.Level, id.Index, h)
		}
	}); err != nil {
		log.Fatalf("floor: audit tree: %v", err)
	}
	if nodeErr != nil {
		log.Fatalf("floor: audit nodes: %v", nodeErr)
	}
	s.treeSize, s.lastAudit = s.treeSize+1, e.Seq
	return nil
}

var errKeyBound = errors.New("this public key is already bound to another device")

// statusURLs are a certificate's OCSP and CRL URLs, of the form and length of Hallmark's
// (status.URLs.For with 16 CRL partitions), so that the certificate, and what zlint reads of
// it, is the same. Nothing serves them.
func (s *server) statusURLs(caID, devID string) (ocsp, crl []string) {
	part := strconv.Itoa(ca.DevicePartition(devID, ca.DefaultCRLPartitions))
	return []string{s.statusBase + "/ocsp/" + caID}, []string{s.statusBase + "/crl/" + caID + "-" + part + ".crl"}
}

// prepare builds and lints tmpl under is (issuance.Issuer.Prepare) and returns what the
// record of intent stores: the TBS, its key's hash and the serial.
func prepare(is *issuance.Issuer, profile issuance.Profile, tmpl *x509.Certificate) (p *issuance.Prepared, tbs, keySHA []byte, serial string, err error) {
	if p, err = is.Prepare(profile, tmpl, rand.Reader); err != nil {
		return nil, nil, nil, "", err
	}
	tbs = p.TBS()
	if keySHA, err = ca.TBSKeySHA256(tbs); err != nil {
		return nil, nil, nil, "", err
	}
	return p, tbs, keySHA, ca.SerialHex(p.Serial()), nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case "/sign":
		s.factory(w, r)
	case "/.well-known/est/simpleenroll":
		s.est(w, r, false)
	case "/.well-known/est/simplereenroll":
		s.est(w, r, true)
	default:
		http.Error(w, "no such endpoint", http.StatusNotFound)
	}
}

// factory is factory issuance (issue) behind a bearer token.
func (s *server) factory(w http.ResponseWriter, r *http.Request) {
	const prefix = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) <= len(prefix) || h[:len(prefix)] != prefix || subtle.ConstantTimeCompare([]byte(h[len(prefix):]), s.token) != 1 {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	fi, err := s.issue(r.Context(), r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(fi)
}

// issue is factory issuance's required work (see the package comment).
func (s *server) issue(ctx context.Context, body io.Reader) (*api.FactoryIdentity, error) {
	var req api.IssueFactoryRequest
	if err := httpapi.DecodeJSON(io.LimitReader(body, httpapi.MaxBody+1), &req); err != nil {
		return nil, err
	}
	var rec buildrecord.Record
	if err := httpapi.DecodeJSON(bytes.NewReader(req.BuildRecord), &rec); err != nil {
		return nil, err
	}
	if rec.TestResult != buildrecord.TestPass {
		return nil, fmt.Errorf("build record: testResult is %q; only devices that passed get a factory identity", rec.TestResult)
	}
	cr, err := csr.ParseText(req.CSR)
	if err != nil {
		return nil, err
	}
	env, digest, err := buildrecord.Sign(ctx, &rec, cr.PublicKey, s.brKey)
	if err != nil {
		return nil, err
	}
	envJSON, err := json.Marshal(env)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	devID := party.NewID("dev")
	ocsp, crl := s.statusURLs(floorCAID, devID)
	tmpl, err := issuance.FactoryTemplate(issuance.FactoryParams{DeviceSerial: rec.Serial, Organization: "floor", HardwareType: s.hwType,
		BuildRecordDigest: digest, PublicKey: cr.PublicKey, NotBefore: now.Add(-5 * time.Minute), NotAfter: s.caCert.NotAfter,
		OCSPServer: ocsp, CRLDistributionPoints: crl})
	if err != nil {
		return nil, err
	}
	p, tbs, keySHA, serial, err := prepare(s.issuer, issuance.ProfileFactory, tmpl)
	if err != nil {
		return nil, err
	}
	// The record of intent, durable before the CA signs.
	if err := s.do(ctx, func(tx *wtx) error {
		var bound, taken bool
		row, err := tx.queryRow(qFree,
			keySHA, devID, rec.Serial)
		if err != nil {
			return err
		}
		if err := row.Scan(&bound, &taken); err != nil {
			return err
		}
		if bound {
			return errKeyBound
		}
		if taken {
			return fmt.Errorf("serial %q is taken", rec.Serial)
		}
		_, err = tx.exec(qReserve, serial, keySHA, devID, tbs)
		return err
	}); err != nil {
		return nil, err
	}
	cert, err := s.issuer.Sign(p)
	if err != nil {
		return nil, err
	}
	if err := s.do(ctx, func(tx *wtx) error {
		if err := one(tx.exec(qIssued, cert.Raw, serial)); err != nil {
			return fmt.Errorf("certificate %s was not reserved: %w", serial, err)
		}
		if _, err := tx.exec(qDevice, devID, rec.Serial, serial, sha256Of(cert.Raw)); err != nil {
			return err
		}
		if _, err := tx.exec(qBuildRecord, devID, digest[:], envJSON); err != nil {
			return err
		}
		detail, err := json.Marshal(map[string]any{"serial": rec.Serial, "certificate": serial, "build_record_sha256": hex.EncodeToString(digest[:])})
		if err != nil {
			return err
		}
		return s.appendAudit(tx, audit.Event{At: now, PartyID: "floor", PrincipalID: "station", Action: "factory.issue", Subject: "device:" + devID, Detail: detail})
	}); err != nil {
		return nil, err
	}
	return &api.FactoryIdentity{
		Device:         api.Device{ID: devID, Serial: rec.Serial, State: "registered", FactoryCert: serial, CreatedAt: now, UpdatedAt: now},
		CertificatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})),
		ChainPEM:       s.chainPEM,
		BuildRecord:    envJSON,
		BuildRecordSHA: hex.EncodeToString(digest[:]),
	}, nil
}
