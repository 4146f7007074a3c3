// Package readcache keeps, in each process, the reads that every request repeats: a bearer
// token with its principal, ownership cells, a principal's duty limits, the
// separation-of-duties rules, the catalog rows factory issuance reads (lot, model, party,
// CA, signing key), and the rows EST enrollment and renewal read (environment, its EST label
// and latest policies, active waivers, a build-record key history, the list of CAs). It is
// correct across replicas through the governance epoch (store.GovernanceEpoch), a counter that
// database triggers move in the same transaction as any change to those rows (migrations
// 0027, 0030).
//
// Invariants:
//   - An entry is a read made after the cache observed the epoch it is filed under; when the
//     cache observes another epoch it drops every entry. So an entry is never older than the
//     last observation of the epoch.
//   - The cache re-reads the epoch when its last observation began more than Staleness ago,
//     before it answers; so a change committed by any replica, or by hand in SQL, is seen by
//     every request that starts more than Staleness after the commit (the bound).
//   - A write transaction through this store (Update) reads the epoch before it commits, and
//     a commit that moved it drops the cache before Update returns: this process's own changes
//     are seen by its next request, with no wait. A transaction the store knows made no write
//     an epoch trigger follows (unmovedEpochs) skips the read: its commit moved nothing.
//   - Only reads that found something, or that found no ownership cell or signing key, are
//     kept (an unknown token, lot or EST label is read again every time, so guessing fills
//     nothing); the entries are capped at MaxEntries, all dropped when full. Waivers are kept
//     as one snapshot of every waiver active at a time (see cachedWaivers), counted as one
//     entry per waiver.
//   - Whether a token is still valid (expiry, revocation, overlap) is judged by the caller
//     against now on every request: the cache keeps the row, not the verdict.
//   - ViewCacheFirst answers from the cache alone only when every read its function made was
//     one the cache serves and holds; any other read is refused (errNotCached, never a panic),
//     which drops that answer, and the function runs again in a read transaction. Its answers
//     are ViewCached's, without the transaction.
package readcache

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// DefaultStaleness is how long a replica answers from its cache before it re-reads the epoch:
// the longest a change made through another replica takes to show here.
const DefaultStaleness = 250 * time.Millisecond

// DefaultMaxEntries caps the cached rows of one process.
const DefaultMaxEntries = 10000

// Config tunes a Cache.
type Config struct {
	// Staleness is the bound (DefaultStaleness when zero; negative: nothing is cached).
	Staleness time.Duration
	// MaxEntries caps the entries (DefaultMaxEntries when zero).
	MaxEntries int
}

// Cache is a store.Store whose Update watches the epoch, with cached reads besides
// (CachedToken, ViewCached). Everything else passes through to the wrapped store.
type Cache struct {
	store.Store
	staleness time.Duration
	max       int

	refresh sync.Mutex // one epoch read at a time; the others read through meanwhile

	mu      sync.Mutex
	epoch   int64     // the last epoch observed
	checked time.Time // when the read that observed epoch (or confirmed it) began; zero: never
	gen     uint64    // moves whenever the entries are dropped
	n       int
	tokens  map[[sha256.Size]byte]tokenEntry
	byID    map[string][sha256.Size]byte // token ID → hash, to record a use
	cells   map[ownership.Key]cellEntry
	duties  map[string][]ownership.Pair
	rules   []store.SoDRule
	hasRule bool
	lots    map[string]device.Lot
	models  map[string]device.Model
	parties map[string]party.Party
	cas     map[string]ca.CA
	caLists map[string][]ca.CA // ListCAs, by party ("" for all)
	keys    map[[2]string]keyEntry
	// The EST path's reads (operational.go).
	envs     map[string]environment.Environment // by ID
	labels   map[string]environment.Environment // by EST label
	policies map[policyKey]environment.PolicyVersion
	history  map[[2]string][]ca.SigningKey // KeyHistory().SigningKeys, never empty
	waivers  *waiverSnapshot               // nil: not read under this generation
}

type tokenEntry struct {
	p   party.Principal
	tok party.Token
}

type cellEntry struct {
	owner string
	found bool
}

type keyEntry struct {
	k   ca.SigningKey
	err error // the store's NotFound, or nil
}

// New wraps st.
func New(st store.Store, c Config) *Cache {
	if c.Staleness == 0 {
		c.Staleness = DefaultStaleness
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = DefaultMaxEntries
	}
	x := &Cache{Store: st, staleness: c.Staleness, max: c.MaxEntries}
	x.clear()
	return x
}

// Staleness is the bound this cache keeps (negative: it caches nothing).
func (c *Cache) Staleness() time.Duration { return c.staleness }

// clear drops every entry; c.mu is held (or c is new).
func (c *Cache) clear() {
	c.gen++
	c.n = 0
	c.tokens = map[[sha256.Size]byte]tokenEntry{}
	c.byID = map[string][sha256.Size]byte{}
	c.cells = map[ownership.Key]cellEntry{}
	c.duties = map[string][]ownership.Pair{}
	c.rules, c.hasRule = nil, false
	c.lots = map[string]device.Lot{}
	c.models = map[string]device.Model{}
	c.parties = map[string]party.Party{}
	c.cas = map[string]ca.CA{}
	c.caLists = map[string][]ca.CA{}
	c.keys = map[[2]string]keyEntry{}
	c.envs = map[string]environment.Environment{}
	c.labels = map[string]environment.Environment{}
	c.policies = map[policyKey]environment.PolicyVersion{}
	c.history = map[[2]string][]ca.SigningKey{}
	c.waivers = nil
}

// observe records epoch e, read by a read that began at began (zero: a write transaction's
// own read, which confirms nothing about time); c.mu is held.
func (c *Cache) observe(e int64, began time.Time) {
	if e > c.epoch {
		c.clear()
		c.epoch = e
		c.checked = began
		return
	}
	if e == c.epoch && began.After(c.checked) {
		c.checked = began
	}
}

// fresh makes sure the epoch was observed less than Staleness ago, reading it if not, and
// returns the generation that reads made from now on are filed under. ok is false when
// nothing may be cached (disabled, or the epoch could not be read): read through.
func (c *Cache) fresh(ctx context.Context) (gen uint64, ok bool) {
	if c.staleness < 0 {
		return 0, false
	}
	if gen, ok := c.current(); ok {
		return gen, true
	}
	// One reading at a time; a request that finds one under way reads through rather than
	// queue behind it (a slow database would otherwise line every request up).
	if !c.refresh.TryLock() {
		return 0, false
	}
	defer c.refresh.Unlock()
	began := time.Now()
	var e int64
	err := c.Store.View(ctx, func(tx store.Tx) (err error) { e, err = tx.Epochs().Epoch(store.GovernanceEpoch); return err })
	if err != nil {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.observe(e, began)
	return c.gen, time.Since(c.checked) < c.staleness
}

func (c *Cache) current() (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen, !c.checked.IsZero() && time.Since(c.checked) < c.staleness
}

// put files one entry under gen, unless the entries were dropped since gen; when full, it
// drops everything first.
func (c *Cache) put(gen uint64, add func()) { c.putN(gen, 1, add) }

// putN is put for an entry that counts as n entries (n >= 1); one larger than MaxEntries is
// not kept.
func (c *Cache) putN(gen uint64, n int, add func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || n > c.max {
		return
	}
	if c.n+n > c.max {
		c.clear()
	}
	c.n += n
	add()
}

// Update runs fn in a write transaction and reads the epoch in it before the commit: when the
// commit moved it, the cache is dropped before Update returns. When the store can tell that fn
// made no write an epoch trigger follows (unmovedEpochs), the epoch is not read: the commit
// cannot have moved it, and what another replica moved meanwhile is fresh's to see within
// Staleness, as for every read.
func (c *Cache) Update(ctx context.Context, fn func(store.Tx) error) error {
	var e int64
	var read bool
	err := c.Store.Update(ctx, func(tx store.Tx) error {
		read = false // a retried run starts over
		if err := fn(tx); err != nil {
			return err
		}
		ep := tx.Epochs()
		if u, ok := ep.(unmovedEpochs); ok && u.Unmoved() {
			return nil
		}
		var err error
		if e, err = ep.Epoch(store.GovernanceEpoch); err != nil {
			return fmt.Errorf("reading the governance epoch: %w", err)
		}
		read = true
		return nil
	})
	if err == nil && read {
		c.mu.Lock()
		c.observe(e, time.Time{})
		c.mu.Unlock()
	}
	return err
}

// unmovedEpochs is a write transaction's store.Epochs that can tell that the transaction has
// made no write an epoch trigger follows (sqlstore: what factory issuance, EST enrollment
// and renewal write), so that no epoch moved since it began. It must never report true after such a
// write (storetest's EpochsUnmoved).
type unmovedEpochs interface{ Unmoved() bool }

// CachedToken returns the token whose secret hashes to hash, with its principal, as
// store.PrincipalStore.TokenByHash does; from the cache when it holds it, with no
// transaction. Whether the token is still valid is the caller's to judge.
func (c *Cache) CachedToken(ctx context.Context, hash []byte) (party.Principal, party.Token, error) {
	var k [sha256.Size]byte
	if len(hash) == len(k) {
		copy(k[:], hash)
	}
	gen, ok := c.fresh(ctx)
	if ok && len(hash) == len(k) {
		c.mu.Lock()
		e, hit := c.tokens[k]
		c.mu.Unlock()
		if hit {
			return e.p, e.tok, nil
		}
	}
	var p party.Principal
	var tok party.Token
	err := c.Store.View(ctx, func(tx store.Tx) (err error) { p, tok, err = tx.Parties().TokenByHash(hash); return err })
	if err == nil && ok && len(hash) == len(k) {
		c.put(gen, func() { c.tokens[k] = tokenEntry{p, tok}; c.byID[tok.ID] = k })
	}
	return p, tok, err
}

// TouchToken records a use as the wrapped store does, and in the cached token, so that the
// caller sees the use it recorded.
func (c *Cache) TouchToken(ctx context.Context, principalID, tokenID string, at time.Time) error {
	if err := c.Store.TouchToken(ctx, principalID, tokenID, at); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.byID[tokenID]; ok {
		if e, ok := c.tokens[k]; ok {
			used := at
			e.tok.LastUsedAt, e.p.LastUsedAt = &used, &used
			c.tokens[k] = e
		}
	}
	return nil
}

// ViewCached runs fn in a read transaction in which these reads come from the cache when it
// holds them: Ownership().Owner, Duties().PrincipalDuties and ListSoDRules, Parties().GetParty
// and TokenByHash, Catalog().GetLot and GetModel, CAs().GetCA and SigningKey,
// Environments().GetEnvironment, EnvironmentByLabel and LatestPolicy, KeyHistory().SigningKeys,
// and Waivers().ListWaivers with an ActiveAt. Every other read goes to the transaction. Use it where a read up to Staleness old (as of another replica's
// change) is acceptable, as it is for authorization.
func (c *Cache) ViewCached(ctx context.Context, fn func(store.Tx) error) error {
	gen, ok := c.fresh(ctx)
	if !ok {
		return c.Store.View(ctx, fn)
	}
	return c.Store.View(ctx, func(tx store.Tx) error { return fn(cachedTx{Tx: tx, c: c, gen: gen}) })
}

// ReadOnWriter runs fn, which must only read, in a write transaction (the writer's
// connection), with the reads ViewCached serves from the cache served from it where it holds
// them. It is for read phases that cost less on the writer's warm connection than in the
// reader pool (operational's onboarding and renewal reads, see onboardRead there).
//
// A group-commit transaction may also hold other requests' writes, not yet committed, which
// the cache must never keep. So what the cache lacks is kept only when the transaction's
// governance epoch is the one the cache last observed committed: every write to a cached
// table moves the epoch (its triggers), so then the transaction holds none. Otherwise the
// reads go through the transaction and nothing is kept.
func (c *Cache) ReadOnWriter(ctx context.Context, fn func(store.Tx) error) error {
	gen, ok := c.fresh(ctx)
	if !ok {
		return c.Store.Update(ctx, fn)
	}
	return c.Store.Update(ctx, func(tx store.Tx) error {
		e, err := tx.Epochs().Epoch(store.GovernanceEpoch)
		if err != nil {
			return fmt.Errorf("reading the governance epoch: %w", err)
		}
		fill := noFill
		c.mu.Lock()
		if e == c.epoch && gen == c.gen {
			fill = gen
		}
		c.mu.Unlock()
		return fn(cachedTx{Tx: tx, c: c, gen: fill})
	})
}

// noFill is a generation the cache never reaches (it would take 2^64 drops): a cachedTx with
// it reads from the cache and keeps nothing (putN refuses another generation's entries).
const noFill = ^uint64(0)

// ViewCacheFirst is ViewCached that first runs fn against the cache alone, with no
// transaction: when every read fn makes is one ViewCached serves from the cache and the cache
// holds it, fn's result stands and no transaction is opened (a request whose reads are all
// cached costs no database round trip). Otherwise (a read the cache does not hold, or any
// other read) the cache-only run's reads return errNotCached, that run's result is dropped,
// whatever fn made of the refusal, and fn runs again in ViewCached, which fills the cache. So
// fn may run twice: it must only read and set its own variables. The reads it gets are those
// ViewCached would give, within the same Staleness bound. A panic in fn is fn's own: it is
// not taken for a refusal and propagates from the cache-only run.
func (c *Cache) ViewCacheFirst(ctx context.Context, fn func(store.Tx) error) error {
	if gen, ok := c.fresh(ctx); ok {
		if err, served := c.cacheOnly(gen, fn); served {
			return err
		}
	}
	return c.ViewCached(ctx, fn)
}

// errNotCached is what a read returns in a cache-only run (ViewCacheFirst) when the cache
// does not hold the row, or does not serve that read at all (refusingTx); the run's result is
// then dropped whatever fn made of it.
var errNotCached = errors.New("readcache: not in the cache")

//go:generate go run gen_refuse.go

// refusingTx is the transaction under a cache-only run: every method of every sub-store it
// returns records the refusal in missed and returns errNotCached, with zero values, never
// touching a database (refuse.go, generated from store.Tx, defines them).
type refusingTx struct{ missed *atomic.Bool }

var _ store.Tx = refusingTx{}

func (r refusingTx) refuse() error {
	r.missed.Store(true)
	return errNotCached
}

// zero is T's zero value: what a refused read returns besides errNotCached.
func zero[T any]() (v T) { return v }

// cacheOnly runs fn with a cachedTx over a refusingTx, and reports whether every read fn made
// was served by the cache: any read the cache lacks or does not serve refused (errNotCached)
// and recorded the refusal, so the result stands only when nothing was refused.
func (c *Cache) cacheOnly(gen uint64, fn func(store.Tx) error) (err error, served bool) {
	var missed atomic.Bool
	err = fn(cachedTx{Tx: refusingTx{missed: &missed}, c: c, gen: gen, missed: &missed})
	return err, !missed.Load()
}

// cachedTx serves the cached reads from c and the others from Tx. In a cache-only run
// (missed non-nil), Tx is a refusingTx and a cached read the cache lacks sets *missed.
type cachedTx struct {
	store.Tx
	c      *Cache
	gen    uint64
	missed *atomic.Bool
}

// miss reports whether a read the cache lacks must fail the run, recording it.
func (t cachedTx) miss() bool {
	if t.missed == nil {
		return false
	}
	t.missed.Store(true)
	return true
}

func (t cachedTx) Ownership() store.Ownership { return cachedOwnership{t.Tx.Ownership(), t} }
func (t cachedTx) Duties() store.Duties       { return cachedDuties{t.Tx.Duties(), t} }
func (t cachedTx) Parties() store.Parties     { return cachedParties{t.Tx.Parties(), t} }
func (t cachedTx) Catalog() store.Catalog     { return cachedCatalog{t.Tx.Catalog(), t} }
func (t cachedTx) CAs() store.CAs             { return cachedCAs{t.Tx.CAs(), t} }

// lookup reads m[k] under c.mu.
func lookup[K comparable, V any](c *Cache, m func() map[K]V, k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := m()[k]
	return v, ok
}

type cachedOwnership struct {
	store.Ownership
	t cachedTx
}

func (o cachedOwnership) Owner(k ownership.Key) (string, bool, error) {
	c := o.t.c
	if e, ok := lookup(c, func() map[ownership.Key]cellEntry { return c.cells }, k); ok {
		return e.owner, e.found, nil
	}
	if o.t.miss() {
		return "", false, errNotCached
	}
	owner, found, err := o.Ownership.Owner(k)
	if err == nil {
		c.put(o.t.gen, func() { c.cells[k] = cellEntry{owner, found} })
	}
	return owner, found, err
}

type cachedDuties struct {
	store.Duties
	t cachedTx
}

func (d cachedDuties) PrincipalDuties(principalID string) ([]ownership.Pair, error) {
	c := d.t.c
	if v, ok := lookup(c, func() map[string][]ownership.Pair { return c.duties }, principalID); ok {
		return slices.Clone(v), nil
	}
	if d.t.miss() {
		return nil, errNotCached
	}
	v, err := d.Duties.PrincipalDuties(principalID)
	if err == nil {
		kept := slices.Clone(v)
		c.put(d.t.gen, func() { c.duties[principalID] = kept })
	}
	return v, err
}

func (d cachedDuties) ListSoDRules() ([]store.SoDRule, error) {
	c := d.t.c
	c.mu.Lock()
	rules, ok := c.rules, c.hasRule
	c.mu.Unlock()
	if ok {
		return slices.Clone(rules), nil
	}
	if d.t.miss() {
		return nil, errNotCached
	}
	v, err := d.Duties.ListSoDRules()
	if err == nil {
		kept := slices.Clone(v)
		c.put(d.t.gen, func() { c.rules, c.hasRule = kept, true })
	}
	return v, err
}

type cachedParties struct {
	store.Parties
	t cachedTx
}

func (p cachedParties) GetParty(id string) (party.Party, error) {
	c := p.t.c
	if v, ok := lookup(c, func() map[string]party.Party { return c.parties }, id); ok {
		return v, nil
	}
	if p.t.miss() {
		return party.Party{}, errNotCached
	}
	v, err := p.Parties.GetParty(id)
	if err == nil {
		c.put(p.t.gen, func() { c.parties[id] = v })
	}
	return v, err
}

func (p cachedParties) TokenByHash(hash []byte) (party.Principal, party.Token, error) {
	c := p.t.c
	var k [sha256.Size]byte
	if len(hash) != len(k) {
		return p.Parties.TokenByHash(hash)
	}
	copy(k[:], hash)
	if e, ok := lookup(c, func() map[[sha256.Size]byte]tokenEntry { return c.tokens }, k); ok {
		return e.p, e.tok, nil
	}
	if p.t.miss() {
		return party.Principal{}, party.Token{}, errNotCached
	}
	v, tok, err := p.Parties.TokenByHash(hash)
	if err == nil {
		c.put(p.t.gen, func() { c.tokens[k] = tokenEntry{v, tok}; c.byID[tok.ID] = k })
	}
	return v, tok, err
}

type cachedCatalog struct {
	store.Catalog
	t cachedTx
}

func (g cachedCatalog) GetLot(id string) (device.Lot, error) {
	c := g.t.c
	if v, ok := lookup(c, func() map[string]device.Lot { return c.lots }, id); ok {
		return v, nil
	}
	if g.t.miss() {
		return device.Lot{}, errNotCached
	}
	v, err := g.Catalog.GetLot(id)
	if err == nil {
		c.put(g.t.gen, func() { c.lots[id] = v })
	}
	return v, err
}

func (g cachedCatalog) GetModel(id string) (device.Model, error) {
	c := g.t.c
	if v, ok := lookup(c, func() map[string]device.Model { return c.models }, id); ok {
		return v, nil
	}
	if g.t.miss() {
		return device.Model{}, errNotCached
	}
	v, err := g.Catalog.GetModel(id)
	if err == nil {
		c.put(g.t.gen, func() { c.models[id] = v })
	}
	return v, err
}

type cachedCAs struct {
	store.CAs
	t cachedTx
}

func (a cachedCAs) GetCA(id string) (ca.CA, error) {
	c := a.t.c
	if v, ok := lookup(c, func() map[string]ca.CA { return c.cas }, id); ok {
		return v, nil
	}
	if a.t.miss() {
		return ca.CA{}, errNotCached
	}
	v, err := a.CAs.GetCA(id)
	if err == nil {
		c.put(a.t.gen, func() { c.cas[id] = v })
	}
	return v, err
}

// ListCAs is cached per party as GetCA is per CA: the same table, under the same epoch. EST
// enrollment lists the manufacturing anchors on every request (operational.Service.anchors),
// which read and scanned every CA row on the writer's connection. The list is copied out and
// in, so that no caller's changes reach the cache.
func (a cachedCAs) ListCAs(partyID string) ([]ca.CA, error) {
	c := a.t.c
	if v, ok := lookup(c, func() map[string][]ca.CA { return c.caLists }, partyID); ok {
		return slices.Clone(v), nil
	}
	if a.t.miss() {
		return nil, errNotCached
	}
	v, err := a.CAs.ListCAs(partyID)
	if err == nil {
		kept := slices.Clone(v)
		c.putN(a.t.gen, max(1, len(kept)), func() { c.caLists[partyID] = kept })
	}
	return v, err
}

func (a cachedCAs) SigningKey(partyID, purpose string) (ca.SigningKey, error) {
	c := a.t.c
	k := [2]string{partyID, purpose}
	if e, ok := lookup(c, func() map[[2]string]keyEntry { return c.keys }, k); ok {
		return e.k, e.err
	}
	if a.t.miss() {
		return ca.SigningKey{}, errNotCached
	}
	v, err := a.CAs.SigningKey(partyID, purpose)
	if err == nil || failure.Is(err, failure.NotFound) {
		c.put(a.t.gen, func() { c.keys[k] = keyEntry{v, err} })
	}
	return v, err
}
