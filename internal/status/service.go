// Package status serves revocation status for every CA Hallmark holds the key of, issuing
// CAs and roots: CRLs (RFC 5280 section 5) at /crl/<ca-id>.crl, partition CRLs at
// /crl/<ca-id>-<p>.crl, an OCSP responder (RFC 6960) at /ocsp/<ca-id>, and each CA's
// certificate at /ca/<ca-id>.cer (the caIssuers of the certificates it signs). A root's CRL
// lists the issuing CA certificates (and responders) it signed; it is rebuilt every
// RootCRLInterval rather than every CRLInterval, and lives RootCRLLifetime.
//
// Invariants:
//   - The responder never answers good for a serial its CA did not issue: a serial the store
//     does not hold for that CA, or holds only as a reservation, is unknown; an issuer
//     Hallmark does not run gets unauthorized.
//   - Responses are signed by a delegated responder certificate per CA (id-kp-OCSPSigning,
//     id-pkix-ocsp-nocheck) issued through the authority's lint-then-sign cycle; its key comes
//     from the key provider and its record from the store, so a restart reuses it.
//   - Answers without a nonce are signed once and then served from memory, within one byte
//     budget for all CAs (cache.go). Every change of a certificate's state reaches the store's
//     change feed (a trigger), which this service polls every PollInterval (at most one
//     second): the cached answer is dropped and the CA's CRL rebuilt. An answer computed while
//     a change was in flight is not cached.
//   - No request builds a CRL unless the CRL it asks for is missing or older than
//     CRLInterval; concurrent requests share that one build (crl.go).
//   - A revoked certificate stays on its CA's CRL until it has expired.
//   - The full CRL of a CA lists every revoked certificate of the CA. A partition CRL lists
//     exactly the revoked certificates recorded with its partition and carries a critical
//     issuingDistributionPoint naming its URL; it is served only while a base URL is set.
package status

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"log/slog"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hallmark-id/hallmark/internal/authority"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Config holds the collaborators and the timings; zero durations take the defaults shown.
type Config struct {
	Store     store.Store
	Authority *authority.Authority
	Keys      keys.Provider
	Log       *slog.Logger
	Now       func() time.Time
	// CRLInterval is how often every CRL is rebuilt (default 1h). A CA whose certificates
	// changed is rebuilt at once, at most once per CRLMinGap (default 1s).
	CRLInterval time.Duration
	CRLMinGap   time.Duration
	// FullCRLMinGap is the least time between two rebuilds, for changes, of the full CRL of a
	// partitioned CA, which is rebuilt for changes only while it is fetched (default 1m, at
	// most CRLInterval; see crl.go).
	FullCRLMinGap time.Duration
	// CRLLifetime is nextUpdate − thisUpdate (default 4 × CRLInterval), so a relying party
	// that misses a few fetches keeps a valid CRL.
	CRLLifetime time.Duration
	// RootCRLInterval and RootCRLLifetime are CRLInterval and CRLLifetime for the CRLs of
	// roots (default 24h and 7 days): a root signs few certificates, and its CRL changes
	// only when one of them does, which rebuilds it at once as for any CA.
	RootCRLInterval time.Duration
	RootCRLLifetime time.Duration
	// OCSPLifetime is nextUpdate − thisUpdate of OCSP answers (default 1h); a cached answer is
	// re-signed after half of it.
	OCSPLifetime time.Duration
	// PollInterval is how often the change feed is read (default 500ms, at most 1s).
	PollInterval time.Duration
	// ResponderLife is the validity of a delegated responder certificate (default 30 days);
	// it is renewed after two thirds of it.
	ResponderLife time.Duration
	// CacheBytes bounds the memory of cached OCSP answers, all CAs together (default 64 MiB,
	// DefaultCacheBytes); answers of unknown serials get an eighth of it (cache.go).
	CacheBytes int64
	// BaseURL is the public base of the URLs certificates carry (see URLs); CRL partitions
	// are named under it.
	URLs *URLs
	// Leader, when set, makes CRL signing the leader's alone (crlstore.go): the leader
	// stores every CRL it signs and the other replicas serve the stored bytes.
	Leader Leader
	// Disputes, when set, names the certificates whose rows disagree with the audit log
	// (auditlog.Disputes, filled by reconciliation): the responder answers tryLater for them.
	Disputes Disputes
}

// Disputes says which certificates' rows disagree with the audit log; Disputed is called for
// every OCSP answer and must be cheap.
type Disputes interface {
	Disputed(serialHex string) bool
	Len() int
	// Generation moves whenever the set changes; CRLs list disputed certificates on hold
	// (disputedEntries), so the CRL builder rebuilds every CRL when it moves.
	Generation() uint64
}

// Service is the OCSP responder and CRL distributor. It is safe for concurrent use.
type Service struct {
	c      Config
	mu     sync.RWMutex
	cas    map[string]*caState // by CA ID
	byHash map[string]*caState // by hash algorithm + issuer name hash + issuer key hash
	loaded time.Time           // when cas was last read
	// reloadMu makes the reloads a miss triggers one at a time, so that a flood of requests
	// for unknown CAs reads the CA list at most once per missReload.
	reloadMu sync.Mutex
	wake     chan struct{} // a CRL became dirty
	pollC    chan struct{} // poll the change feed now
	cursor   atomic.Int64  // the last change-feed Seq applied
	pollMu   sync.Mutex    // one Poll at a time, so the cursor only moves forward
	epoch    atomic.Int64  // the leader term seen last (crlstore.go)
	cache    *ocspCache

	ocspCached, ocspSigned atomic.Int64    // answers served from the cache, answers signed
	ocspDisputed           atomic.Int64    // tryLater answers for disputed certificates
	crlBuilds              [2]atomic.Int64 // CRLs built: full, partition
	crlServed              [3]atomic.Int64 // CRL requests by source: servedMemory, servedBuild, servedStore
}

// DefaultCacheBytes is the default bound on the memory of cached OCSP answers.
const DefaultCacheBytes = 64 << 20

// New returns a Service; Start runs its background work.
func New(c Config) *Service {
	if c.Now == nil {
		c.Now = func() time.Time { return time.Now().UTC() }
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.CRLInterval, time.Hour)
	def(&c.CRLMinGap, time.Second)
	def(&c.CRLLifetime, 4*c.CRLInterval)
	def(&c.RootCRLInterval, 24*time.Hour)
	def(&c.RootCRLLifetime, 7*24*time.Hour)
	c.RootCRLLifetime = max(c.RootCRLLifetime, c.RootCRLInterval)
	def(&c.OCSPLifetime, time.Hour)
	def(&c.PollInterval, 500*time.Millisecond)
	def(&c.ResponderLife, 30*24*time.Hour)
	c.PollInterval = min(c.PollInterval, time.Second)
	def(&c.FullCRLMinGap, time.Minute)
	c.FullCRLMinGap = min(c.FullCRLMinGap, c.CRLInterval)
	if c.CacheBytes <= 0 {
		c.CacheBytes = DefaultCacheBytes
	}
	if c.URLs == nil {
		c.URLs = &URLs{}
	}
	return &Service{c: c, cas: map[string]*caState{}, byHash: map[string]*caState{}, wake: make(chan struct{}, 1), pollC: make(chan struct{}, 1),
		cache: newOCSPCache(c.CacheBytes)}
}

// caState is one CA's CRLs and responder; its OCSP answers are in the Service's cache.
type caState struct {
	c ca.CA

	crl   crlState   // the full CRL
	parts []crlState // the partition CRLs, c.CRLPartitions of them

	resp       atomic.Pointer[signer]
	respMu     sync.Mutex
	respErr    error     // the last failure to issue a responder, guarded by respMu
	respFailed time.Time // when it happened (real time)
}

// Start loads the CAs and runs the change poller and the CRL builder until ctx ends.
func (s *Service) Start(ctx context.Context) error {
	if err := s.loadCAs(ctx); err != nil {
		return err
	}
	var last int64
	if err := s.c.Store.View(ctx, func(tx store.Tx) (err error) { last, err = tx.Status().LastChange(); return err }); err != nil {
		return err
	}
	s.cursor.Store(last)
	go s.pollLoop(ctx)
	go s.crlLoop(ctx)
	return nil
}

// Invalidate marks caID's CRL for rebuilding now and has the change feed read at once, so
// the cached OCSP answers of the certificates that changed are dropped without waiting for
// the next poll. The revocation paths call it after they commit; without the call the
// change feed gets there within PollInterval.
func (s *Service) Invalidate(caID string) {
	if cs := s.caByID(caID); cs != nil {
		cs.crl.dirty.Store(true) // partitions are marked by the poll below, which knows which
		s.kick()
	}
	select {
	case s.pollC <- struct{}{}:
	default:
	}
}

// Changed drops the cached answers of the given serials of caID and marks its CRL dirty.
func (s *Service) Changed(caID string, serials ...*big.Int) {
	cs := s.caByID(caID)
	if cs == nil {
		return
	}
	hex := make([]string, len(serials))
	for i, n := range serials {
		hex[i] = ca.SerialHex(n)
	}
	s.cache.drop(cs, hex...)
	cs.markAllDirty() // the serials' partitions are not known here
	s.kick()
}

// markAllDirty marks the CA's full CRL and every partition CRL dirty.
func (cs *caState) markAllDirty() {
	cs.crl.dirty.Store(true)
	for i := range cs.parts {
		cs.parts[i].dirty.Store(true)
	}
}

func (s *Service) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// crlInterval is how often cs's CRLs are rebuilt at the latest, crlLifetime their
// nextUpdate − thisUpdate: RootCRLInterval and RootCRLLifetime for a root.
func (s *Service) crlInterval(cs *caState) time.Duration {
	if cs.c.Role == ca.Root {
		return s.c.RootCRLInterval
	}
	return s.c.CRLInterval
}

func (s *Service) crlLifetime(cs *caState) time.Duration {
	if cs.c.Role == ca.Root {
		return s.c.RootCRLLifetime
	}
	return s.c.CRLLifetime
}

func (s *Service) caByID(id string) *caState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cas[id]
}

// loadCAs (re)reads the issuing CAs and roots that hold a key. Existing state is kept.
func (s *Service) loadCAs(ctx context.Context) error {
	var list []ca.CA
	if err := s.c.Store.View(ctx, func(tx store.Tx) (err error) { list, err = tx.CAs().ListCAs(""); return err }); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loaded = s.c.Now()
	for _, c := range list {
		if (c.Role != ca.Issuing && c.Role != ca.Root) || c.KeyID == "" || s.cas[c.ID] != nil {
			continue
		}
		cs := &caState{c: c, crl: crlState{part: -1}, parts: make([]crlState, max(0, c.CRLPartitions))}
		for i := range cs.parts {
			cs.parts[i].part = i
		}
		s.cas[c.ID] = cs
		for _, k := range issuerKeys(c) {
			s.byHash[k] = cs
		}
	}
	return nil
}

// missReload is the least time between two reloads of the CA list that a request for an
// unknown CA triggers. A CA created on any replica is therefore served from its first
// request at most missReload after the last reload, and strangers asking for CAs that do not
// exist cost at most one read of the CA list per missReload.
const missReload = 100 * time.Millisecond

// caFor finds the CA a request names, reloading the CA list (missReload) when the issuer is
// not known yet.
func (s *Service) caFor(ctx context.Context, r *Request) *caState {
	k := hashKey(r.Hash.String(), r.NameHash, r.KeyHash)
	find := func() *caState {
		s.mu.RLock()
		defer s.mu.RUnlock()
		return s.byHash[k]
	}
	if cs := find(); cs != nil || !s.reloadCAs(ctx) {
		return cs
	}
	return find()
}

// caNamed is caByID with the same reload rule.
func (s *Service) caNamed(ctx context.Context, id string) *caState {
	if cs := s.caByID(id); cs != nil || !s.reloadCAs(ctx) {
		return cs
	}
	return s.caByID(id)
}

// reloadCAs reloads the CA list after a miss, and reports whether the list may have changed
// since the miss: it did reload, or another request's reload finished while this one waited
// for it. A request that finds the last reload younger than missReload waits for the next
// one, so that a CA made just after a reload is not answered "unknown" (it waits at most
// missReload plus one read).
func (s *Service) reloadCAs(ctx context.Context) bool {
	s.mu.RLock()
	seen := s.loaded
	s.mu.RUnlock()
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	s.mu.RLock()
	loaded := s.loaded
	s.mu.RUnlock()
	if loaded.After(seen) {
		return true // reloaded while this request waited
	}
	if wait := min(missReload, missReload-s.c.Now().Sub(loaded)); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
	if err := s.loadCAs(ctx); err != nil {
		s.c.Log.Warn("status: loading CAs", "err", err)
		return false
	}
	return true
}

// issuerKeys are the CertID hash keys (RFC 6960 section 4.1.1: hashes of the issuer's DN and
// of its subjectPublicKey) under every hash algorithm the parser accepts.
func issuerKeys(c ca.CA) []string {
	var spki struct {
		Algorithm asn1.RawValue
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.Cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil
	}
	name, key := c.Cert.RawSubject, spki.PublicKey.Bytes
	n1, k1 := sha1.Sum(name), sha1.Sum(key)
	n256, k256 := sha256.Sum256(name), sha256.Sum256(key)
	n384, k384 := sha512.Sum384(name), sha512.Sum384(key)
	n512, k512 := sha512.Sum512(name), sha512.Sum512(key)
	return []string{
		hashKey("SHA-1", n1[:], k1[:]), hashKey("SHA-256", n256[:], k256[:]),
		hashKey("SHA-384", n384[:], k384[:]), hashKey("SHA-512", n512[:], k512[:]),
	}
}

func hashKey(alg string, name, key []byte) string {
	return alg + "/" + string(name) + "/" + string(key)
}

// pollLoop applies the store's change feed every PollInterval.
func (s *Service) pollLoop(ctx context.Context) {
	t := time.NewTicker(s.c.PollInterval)
	defer t.Stop()
	lastPrune := s.c.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.pollC:
		}
		if err := s.Poll(ctx); err != nil && ctx.Err() == nil {
			s.c.Log.Warn("status: reading the change feed", "err", err)
		}
		if now := s.c.Now(); now.Sub(lastPrune) > time.Hour {
			lastPrune = now
			err := s.c.Store.Update(ctx, func(tx store.Tx) error { return tx.Status().PruneChanges(now.Add(-24 * time.Hour)) })
			if err != nil && ctx.Err() == nil {
				s.c.Log.Warn("status: pruning the change feed", "err", err)
			}
		}
	}
}

// Poll applies the changes recorded since the last poll: cached answers are dropped and
// CRLs marked dirty. The background loop calls it; tests may call it to skip the wait.
func (s *Service) Poll(ctx context.Context) error {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	for {
		var changes []store.StatusChange
		err := s.c.Store.View(ctx, func(tx store.Tx) (err error) {
			changes, err = tx.Status().Changes(s.cursor.Load(), 10000)
			return err
		})
		if err != nil || len(changes) == 0 {
			return err
		}
		byCA := map[string][]store.StatusChange{}
		unknown := false
		for _, c := range changes {
			byCA[c.CAID] = append(byCA[c.CAID], c)
			unknown = unknown || s.caByID(c.CAID) == nil
		}
		if unknown { // a CA created since the last load signed a certificate: a new root signs its issuing CA at once
			if err := s.loadCAs(ctx); err != nil {
				return err
			}
		}
		for id, list := range byCA {
			cs := s.caByID(id)
			if cs == nil {
				continue
			}
			hex := make([]string, len(list))
			for i, c := range list {
				hex[i] = c.SerialHex
			}
			s.cache.drop(cs, hex...)
			cs.crl.dirty.Store(true)
			for _, c := range list {
				if c.CRLPartition >= 0 && c.CRLPartition < len(cs.parts) {
					cs.parts[c.CRLPartition].dirty.Store(true)
				}
			}
		}
		s.cursor.Store(changes[len(changes)-1].Seq)
		s.kick()
		if len(changes) < 10000 {
			return nil
		}
	}
}
