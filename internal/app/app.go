// Package app is the composition root: it turns configuration into a store, a key provider,
// the services and the HTTP servers, and runs them. Nothing else wires collaborators together.
package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"github.com/hallmark-id/hallmark/internal/admission"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/auditlog"
	"github.com/hallmark-id/hallmark/internal/authority"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/custody"
	"github.com/hallmark-id/hallmark/internal/custodyvouchers"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/httpapi"
	"github.com/hallmark-id/hallmark/internal/inventory"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/leader"
	"github.com/hallmark-id/hallmark/internal/makers"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/metrics"
	"github.com/hallmark-id/hallmark/internal/operational"
	"github.com/hallmark-id/hallmark/internal/policy"
	"github.com/hallmark-id/hallmark/internal/readcache"
	"github.com/hallmark-id/hallmark/internal/refusals"
	"github.com/hallmark-id/hallmark/internal/reports"
	"github.com/hallmark-id/hallmark/internal/rotation"
	"github.com/hallmark-id/hallmark/internal/signin"
	"github.com/hallmark-id/hallmark/internal/status"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/support"
)

// App holds the wired services.
type App struct {
	Store         store.Store
	Keys          keys.Provider
	Authority     *authority.Authority
	Governance    *governance.Service
	Manufacturing *manufacturing.Service
	Custody       *custody.Service
	Inventory     *inventory.Service
	Operational   *operational.Service
	Support       *support.Service
	API           *httpapi.Server
	Status        *status.Service          // OCSP and CRLs (status.go)
	AuditLog      *auditlog.Service        // the Merkle tree of audit events and its checkpoints
	Reports       *reports.Service         // security reports
	Signin        *signin.Service          // OpenID Connect sign-in and sessions
	Makers        *makers.Service          // makers that do not run Hallmark (makers.go watches their revocation status)
	Vouchers      *custodyvouchers.Service // custody vouchers between deployments
	makerWatch    *makerWatch
	Metrics       *metrics.Registry // requests, audit events, state read at scrape time (metrics.go serves it)
	StatusURLs    *status.URLs
	Leader        *leader.Elector // who signs CRLs and interval checkpoints among replicas
	// Refusals coalesces the refusals of authenticated callers into audit events, and
	// RefusalReader reads them back (refusals.go).
	Refusals      *refusals.Recorder
	RefusalReader *refusals.Reader
	// Admission sheds requests beyond what the server takes on at once, with one limiter per
	// surface so that a flood of one does not shed the others (listeners.go).
	Admission Limiters
	// Listeners bounds what clients hold of each listener (listeners.go, handshake.go).
	Listeners ListenerLimits
	// gates are the handshake gates of the listeners served, by name (run makes them).
	gates   map[string]*handshakeGate
	gatesMu sync.Mutex
	Log     *slog.Logger
	Now     func() time.Time

	Rotation *rotation.Service // CA rotation and rollover (docs/rotation.md)
	// consoleDevTokens is the dev token file the console's sign-in offers (--dev only).
	consoleDevTokens string
	// SnapshotInterval is the pause between rounds of the console's report snapshots
	// (snapshots.go; config reports.snapshot_interval; zero is DefaultSnapshotInterval).
	SnapshotInterval time.Duration
	// estIssuers is the EST listener's issuer set (issuers.go), nil until it listens.
	estIssuers atomic.Pointer[issuerCache]
	// brskiMASA and brskiRegistrar serve BRSKI (brski.go) when configured; masaURL is the
	// id-pe-masa-url factory certificates carry ("" or nil: none).
	brskiMASA, brskiRegistrar http.Handler
	masaURL                   atomic.Pointer[string]
}

// Wiring is what Build needs.
type Wiring struct {
	Store                 store.Store
	Keys                  keys.Provider
	Log                   *slog.Logger
	Now                   func() time.Time
	RootLife, IssuingLife time.Duration
	// Status tunes the OCSP responder and CRLs; the zero value takes the defaults.
	Status StatusConfig
	// AuditOrigin names the audit log in its checkpoints (e.g. "hallmark.example.com/audit").
	AuditOrigin string
	// LeaseTTL is how long the signing lease lasts without renewal (leader.Config.TTL;
	// default 15s): the longest CRLs and checkpoints wait for a new leader after one dies.
	LeaseTTL time.Duration
	// Listeners bounds what one client holds of each listener, and the reading of request
	// bodies before admission; zero fields take the defaults (Handshakes below, if set, is
	// the bound on handshakes).
	Listeners ListenerLimits
	// Admission sizes load shedding of each surface's limiter; zero takes the defaults.
	Admission admission.Config
	// Handshakes bounds the TLS handshakes in flight; zero takes DefaultHandshakes.
	Handshakes int
	// PolicyBudget is the CEL cost one policy evaluation may spend and PolicyCacheEntries
	// how many compiled policies are kept; zero takes policy's defaults.
	PolicyBudget       uint64
	PolicyCacheEntries int
	// Challenges caps the live challenges of one principal (limits.challenges); zero takes
	// operational.DefaultMaxLiveChallenges.
	Challenges int
	// SigninSessionTTL is how long a sign-in session lasts (signin.session_ttl; zero: 8 h);
	// DevSignin enables the dev sign-in of serve --dev.
	SigninSessionTTL time.Duration
	DevSignin        bool
	// Makers tunes the status checks of makers that do not run Hallmark; zero takes the
	// defaults.
	Makers MakersConfig
	// Principals bounds principal tokens (config principals); zero fields take the defaults.
	Principals PrincipalLimits
	// AuditEventLevel is the level of the log record copied from each committed audit
	// event; zero is INFO. serve --config takes it from log.audit_level (default DEBUG);
	// serve --dev uses DEBUG, which its console does not show.
	AuditEventLevel slog.Level
	// CacheStaleness bounds the per-replica cache of authentication and authorization reads
	// (store.cache_staleness; zero: readcache.DefaultStaleness; negative: no cache).
	CacheStaleness time.Duration
}

// PrincipalLimits are config principals: the longest token lifetime, the longest overlap of a
// rotation, and how long tokens from before tokens expired keep working after this start.
type PrincipalLimits struct {
	TokenLifetime, MaxOverlap, UpgradeTokenLifetime time.Duration
}

// defaultUpgradeTokenLifetime is principals.upgrade_token_lifetime's default.
const defaultUpgradeTokenLifetime = 30 * 24 * time.Hour

// DefaultHandshakes is the default bound on TLS handshakes in flight: enough to keep every
// core busy while handshakes wait on slow networks, few enough that each finishes in well
// under its timeout when all compete for the CPU.
func DefaultHandshakes() int { return 256 * runtime.GOMAXPROCS(0) }

// handshakeTimeout bounds one TLS handshake (net/http's default for it would be the 10 s
// header timeout the servers set).
const handshakeTimeout = 10 * time.Second

// Build wires the services over a store and key provider.
func Build(w Wiring) (*App, error) {
	if w.Now == nil {
		w.Now = func() time.Time { return time.Now().UTC() }
	}
	if w.Log == nil {
		w.Log = slog.Default()
	}
	linter, err := issuance.NewLinter()
	if err != nil {
		return nil, err
	}
	// Every committed audit event is also written as a structured log record for SIEMs, and
	// counted.
	m := metrics.New(w.Log)
	w.Store = auditlog.ObserveCommitted(auditlog.LogCommittedAt(w.Store, w.Log, w.AuditEventLevel), m.AuditCommitted)
	// Outermost, so that every write of every service passes its Update (which drops the
	// cache when the write moved the governance epoch) and governance.CachedReads finds it.
	w.Store = readcache.New(w.Store, readcache.Config{Staleness: w.CacheStaleness})
	a := &App{Store: w.Store, Keys: w.Keys, Log: w.Log, Now: w.Now, Metrics: m}
	if w.AuditOrigin == "" {
		w.AuditOrigin = "hallmark/audit"
	}
	key, err := auditlog.LoadOrCreateKey(context.Background(), w.Keys, auditlog.DefaultKeyID)
	if err != nil {
		return nil, err
	}
	// One replica signs CRLs and interval checkpoints; StartStatus runs the election.
	a.Listeners = w.Listeners
	if a.Listeners.Handshakes <= 0 {
		a.Listeners.Handshakes = w.Handshakes
	}
	a.Admission = newLimiters(w.Admission, a.Listeners)
	a.gates = map[string]*handshakeGate{}
	a.Leader = leader.New(leader.Config{Store: w.Store, TTL: w.LeaseTTL, Log: w.Log})
	if a.AuditLog, err = auditlog.New(auditlog.Config{Store: w.Store, Signer: key, Origin: w.AuditOrigin, Now: w.Now, Log: w.Log, Leader: a.Leader, KeyID: auditlog.DefaultKeyID, Keys: w.Keys}); err != nil {
		return nil, err
	}
	if err := a.Metrics.Watch(metrics.State{Leader: a.Leader, AuditSize: a.AuditLog.Size}); err != nil {
		return nil, err
	}
	if err := a.Admission.watch(a.Metrics); err != nil {
		return nil, err
	}
	if st := keyStats(w.Keys); len(st) > 0 { // an HSM or TPM reports its operations and whether it answers (keys.go)
		if err := a.Metrics.Register(keysCollector(st)); err != nil {
			return nil, err
		}
	}
	if err := a.Metrics.WatchCAs(metrics.CAState{List: a.listCAs, Now: w.Now}); err != nil {
		return nil, err
	}
	a.Authority = authority.New(authority.Config{Store: w.Store, Keys: w.Keys, Linter: linter, Now: w.Now, Rand: rand.Reader})
	a.buildStatus(w.Status)
	a.Governance = governance.New(governance.Config{Store: w.Store, Now: w.Now, TokenLifetime: w.Principals.TokenLifetime, MaxOverlap: w.Principals.MaxOverlap})
	// Tokens from before migration 0020 have no expiry and do not authenticate until they
	// get one: here, before anything is served.
	upgrade := w.Principals.UpgradeTokenLifetime
	if upgrade == 0 {
		upgrade = defaultUpgradeTokenLifetime
	}
	if n, err := a.Governance.UpgradeTokens(context.Background(), upgrade); err != nil {
		return nil, fmt.Errorf("giving tokens from before the upgrade an expiry: %w", err)
	} else if n > 0 {
		w.Log.Warn("tokens from before this version now expire", "tokens", n, "expire_in", upgrade.String())
	}
	a.Manufacturing = manufacturing.New(manufacturing.Config{Store: w.Store, Authority: a.Authority, Keys: w.Keys, RootLife: w.RootLife, IssuingLife: w.IssuingLife, StatusURLs: a.StatusURLs.For,
		MASAURL: func() string {
			if u := a.masaURL.Load(); u != nil {
				return *u
			}
			return ""
		}})
	a.Custody = custody.New(w.Store, w.Now)
	a.Inventory = inventory.New(w.Store)
	policies, err := policy.NewCache(w.PolicyBudget, w.PolicyCacheEntries)
	if err != nil {
		return nil, err
	}
	if a.makerWatch, err = a.buildMakers(w.Makers, w.Now); err != nil {
		return nil, err
	}
	a.Makers = makers.New(makers.Config{Store: w.Store, Now: w.Now, Refresher: a.makerWatch, Changed: a.makersChanged})
	a.Operational = operational.New(operational.Config{Store: w.Store, Authority: a.Authority, StatusURLs: a.StatusURLs.For, Policies: policies, MaxLiveChallenges: w.Challenges,
		MakerStatus: a.makerWatch})
	if err := a.Metrics.WatchPossession(a.Operational); err != nil {
		return nil, err
	}
	a.Vouchers = custodyvouchers.New(custodyvouchers.Config{Store: w.Store, Keys: w.Keys, MakerStatus: a.makerWatch, Now: w.Now})
	a.Support = support.New(support.Config{Store: w.Store, Authority: a.Authority, RootLife: w.RootLife, IssuingLife: w.IssuingLife, StatusURLs: a.StatusURLs.For})
	a.wireApprovals()
	a.Reports = reports.New(w.Store, w.Now)
	a.Reports.SetTokenLifetime(w.Principals.TokenLifetime)
	a.Rotation = rotation.New(rotation.Config{Store: w.Store, Authority: a.Authority})
	a.Signin = signin.New(signin.Config{Store: w.Store, Now: w.Now, SessionTTL: w.SigninSessionTTL, Dev: w.DevSignin, Getenv: os.Getenv, Log: w.Log})
	if err := a.buildRefusals(); err != nil {
		return nil, err
	}
	a.API = httpapi.New(httpapi.Config{Signin: a.Signin, Support: a.Support, Reports: a.Reports, Governance: a.Governance, Manufacturing: a.Manufacturing, Custody: a.Custody, Inventory: a.Inventory, Operational: a.Operational, AuditLog: a.AuditLog, Log: w.Log,
		Rotation: a.Rotation, Refusals: a.Refusals, RefusalReader: a.RefusalReader, Makers: a.Makers, Vouchers: a.Vouchers})
	return a, nil
}

// listCAs reads every CA, for the CA expiry gauges.
func (a *App) listCAs(ctx context.Context) ([]ca.CA, error) {
	var out []ca.CA
	err := a.Store.View(ctx, func(tx store.Tx) (err error) { out, err = tx.CAs().ListCAs(""); return err })
	return out, err
}

// wireApprovals registers what each kind of approved request does. Onboarding has no
// executor: the device enrolls again and its enrollment consumes the approval.
func (a *App) wireApprovals() {
	a.Governance.OnApproved(approval.Readmit, func(ctx context.Context, as audit.Actor, q approval.Request) error {
		_, err := a.Operational.ReadmitApproved(ctx, as, q)
		return err
	})
	a.Governance.OnApproved(approval.RevokeCA, func(ctx context.Context, as audit.Actor, q approval.Request) error {
		_, err := a.Manufacturing.RevokeApproved(ctx, as, q)
		return err
	})
	a.Governance.OnApproved(approval.Repair, func(ctx context.Context, as audit.Actor, q approval.Request) error {
		_, err := a.Manufacturing.RepairApproved(ctx, as, q)
		return err
	})
	a.Governance.OnApproved(approval.Reorigin, func(ctx context.Context, as audit.Actor, q approval.Request) error {
		_, err := a.Operational.ReoriginApproved(ctx, as, q)
		return err
	})
	a.Governance.OnApproved(approval.Manifest, a.Makers.ManifestApproved)
	a.Governance.OnDenied(approval.Manifest, a.Makers.ManifestDenied)
	a.Governance.OnApproved(approval.SupportGrant, a.Support.IssueApproved)
	a.Governance.OnDenied(approval.SupportGrant, a.Support.Denied)
	// Governed operational changes (issue 17); the governance service applies its own.
	a.Governance.OnApproved(approval.PolicyChange, a.Operational.PolicyApproved)
	a.Governance.OnApproved(approval.EnvironmentChange, a.Operational.EnvironmentApproved)
	a.Governance.OnApproved(approval.Waiver, a.Operational.WaiverApproved)
}

// isWrite selects the requests admission limits: every write of the API. Reads are cheap and
// never shed, so operators can still see what is happening during a storm.
func isWrite(r *http.Request) bool { return r.Method != http.MethodGet && r.Method != http.MethodHead }

// Handler is the whole HTTP surface of the API listener, counted by a.Metrics as "api".
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	v1 := a.Admission.API.Wrap(a.API, isWrite, refuseAPI)
	mux.Handle("/v1/", v1)
	a.mountConsole(mux, v1)
	// Revocation status is public and signed; RFC 5280/6960 clients fetch it without tokens.
	h := a.mountStatus(mux)
	a.mountMASA(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		// Which replica signs is visible to load balancers and operators (docs/operations.md).
		role := "follower"
		if _, ok := a.Leader.Current(); ok {
			role = "leader"
		}
		w.Header().Set("Hallmark-Role", role)
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.Store.View(ctx, func(store.Tx) error { return nil }); err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return a.Metrics.Instrument("api", h, nil)
}
