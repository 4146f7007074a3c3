// Package config decodes Hallmark's configuration file strictly: unknown keys are errors,
// durations and URLs are typed, and every problem is reported with the key it concerns and
// what to do about it.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as "720h" or "30m".
type Duration struct{ time.Duration }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"720h\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %v", s, err)
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// Config is the whole file.
type Config struct {
	// Listen is the HTTPS address of the API (HOST:PORT).
	Listen string `json:"listen"`
	// PublicURL is the base URL clients and certificates use to reach this server.
	PublicURL string `json:"public_url"`
	Store     Store  `json:"store"`
	Keys      Keys   `json:"keys"`
	TLS       TLS    `json:"tls"`
	Log       Log    `json:"log"`
	// Audit configures the audit log's checkpoints.
	Audit Audit `json:"audit"`
	// Manufacturing sets lifetimes of new manufacturing CAs.
	Manufacturing Manufacturing `json:"manufacturing"`
	// EST, when present, serves RFC 7030 enrollment on a listener of its own (docs/est.md).
	EST *EST `json:"est,omitempty"`
	// StatusListen, when set, is the HTTPS address (HOST:PORT) of a listener of its own for
	// OCSP and CRLs, with its own handshake gate; they stay on the API listener as well.
	StatusListen string `json:"status_listen,omitempty"`
	// Leader tunes the election of the replica that signs CRLs and checkpoints.
	Leader Leader `json:"leader"`
	// Signin tunes sign-in with OpenID Connect (docs/signin.md).
	Signin Signin `json:"signin"`
	// Limits bound how much work the server takes on at once (load shedding).
	Limits Limits `json:"limits"`
	// Metrics serves Prometheus metrics on a plain-HTTP listener of its own.
	Metrics Metrics `json:"metrics"`
	// Policy bounds what environment policies cost (docs/policies.md, *Limits*).
	Policy Policy `json:"policy"`
	// Status serves OCSP, CRLs and CA certificates on a plain-HTTP listener of its own, and
	// names the URLs certificates carry (docs/revocation-status.md).
	Status Status `json:"status"`
	// Makers tunes the revocation checks of makers that do not run Hallmark
	// (docs/external-makers.md).
	Makers Makers `json:"makers"`
	// Principals bounds the lifetimes of principal tokens (docs/governance.md, *Principals
	// and tokens*).
	Principals Principals `json:"principals"`
	// BRSKI, when present, serves RFC 8995 bootstrapping: a MASA on the API listener, a
	// registrar on the EST listener, or both (docs/brski.md).
	BRSKI *BRSKI `json:"brski,omitempty"`
	// Reports tunes the console's report snapshots (docs/console.md).
	Reports Reports `json:"reports"`
}

// Reports tunes the report snapshots the console's overview and reports pages show.
type Reports struct {
	// SnapshotInterval is the pause between the leader's rounds of report snapshots, one per
	// party (default 1m; 1s to 24h). The API's /v1/reports/* are always computed live.
	SnapshotInterval Duration `json:"snapshot_interval"`
}

// Principals bounds the bearer tokens of principals.
type Principals struct {
	// TokenLifetime is the longest, and the default, lifetime of a token (default 2160h, 90
	// days; 1h to 8784h).
	TokenLifetime Duration `json:"token_lifetime"`
	// MaxOverlap bounds how long a rotated token keeps working beside its successor (default
	// 168h; 1m to 720h). A rotation may always ask for no overlap.
	MaxOverlap Duration `json:"max_overlap"`
	// UpgradeTokenLifetime is how long a token made before tokens expired (before migration
	// 0020) keeps working after the first start of this version (default 720h; 1h to 8784h).
	UpgradeTokenLifetime Duration `json:"upgrade_token_lifetime"`
}

// Status configures revocation status for relying parties (docs/revocation-status.md).
type Status struct {
	// HTTPListen is the plain-HTTP address serving /ocsp, /crl/ and /ca/ (HOST:PORT); empty
	// serves them only over HTTPS.
	HTTPListen string `json:"http_listen"`
	// BaseURL is the http:// URL relying parties reach that listener at (a public name, a
	// load balancer or CDN in front of it): the AIA, caIssuers and CRL distribution point URLs
	// of certificates issued from now on are built from it. Default "http://" + HTTPListen
	// when HTTPListen names a host; required when it binds every address. Without HTTPListen
	// or BaseURL, certificates carry public_url (https) as before.
	BaseURL string `json:"base_url"`
	// RootCRLInterval is how often a root's CRL is rebuilt when nothing changed (default
	// 24h, 1m to 30 days); RootCRLLifetime its nextUpdate − thisUpdate (default 168h, at
	// least the interval, at most 365 days).
	RootCRLInterval Duration `json:"root_crl_interval"`
	RootCRLLifetime Duration `json:"root_crl_lifetime"`
}

// Makers tunes how the CRLs and OCSP answers of makers that do not run Hallmark are fetched.
type Makers struct {
	// WatchInterval is the time within which the leader refreshes every registered maker's
	// CRLs and checks every device onboarded of them (default 1h; 1s to 24h: below a minute
	// is for tests and small fleets, each round fetches every CRL once).
	WatchInterval Duration `json:"watch_interval"`
	// CRLTimeout and OCSPTimeout bound one fetch, body included (defaults 30s and 5s; 1s to
	// 5m).
	CRLTimeout  Duration `json:"crl_timeout"`
	OCSPTimeout Duration `json:"ocsp_timeout"`
	// MaxCRLBytes bounds one CRL; a larger one is dropped while it is read (default 10 MiB;
	// 64 KiB to 1 GiB).
	MaxCRLBytes int64 `json:"max_crl_bytes"`
}

// Policy bounds environment policies (internal/policy).
type Policy struct {
	// CostBudget is the CEL cost one evaluation of a policy may spend across all its rules
	// (default 100000; 1000 to 1000000); a policy whose worst case exceeds it is refused
	// when it is set.
	CostBudget uint64 `json:"cost_budget"`
	// CacheEntries is how many compiled policy versions are kept in memory (default 256;
	// 1 to 65536).
	CacheEntries int `json:"cache_entries"`
}

// Metrics configures the Prometheus listener (docs/operations.md, *Metrics*).
type Metrics struct {
	// Listen is the plain-HTTP address serving /metrics (HOST:PORT); empty turns it off.
	// Bind it to loopback or a management network: it needs no authentication.
	Listen string `json:"listen"`
	// Pprof also serves Go's profiles (net/http/pprof) under /debug/pprof/ on that listener:
	// heap, goroutines, CPU. They show code paths, not data; keep the listener private.
	// It needs Listen on a loopback address unless PprofRemote is set.
	Pprof bool `json:"pprof"`
	// PprofRemote allows Pprof on a listener that is not loopback-only (a management
	// network): the profiles have no authentication, and a CPU profile or trace costs CPU.
	PprofRemote bool `json:"pprof_remote"`
}

// Limits size the admission of write requests (API writes and EST enrollments): at most
// Slots run at once, Queue more wait up to QueueWait, the rest get 503 with Retry-After
// (from RetryAfter, growing with the backlog up to MaxRetryAfter).
// TLSHandshakes bounds the TLS handshakes in flight on each listener; connections beyond it
// wait in the kernel's accept queue.
type Limits struct {
	// Hostile load (docs/operations.md, *Hostile load*). Every listener has its own handshake
	// gate (TLSHandshakes applies to each) and every surface (API writes, EST enrollments,
	// OCSP and CRLs) its own limiter sized by the fields below.

	// TLSHelloTimeout is how long a new connection has to send its whole ClientHello; until
	// then it holds no handshake slot, and then it is closed (default 5s).
	TLSHelloTimeout Duration `json:"tls_hello_timeout"`
	// PerSourceConnections bounds the connections of one IPv4 address or IPv6 /64 at once on
	// one listener; beyond it a connection is closed at once (default 128).
	PerSourceConnections int `json:"per_source_connections"`
	// PerSourceExempt are sources (CIDR prefixes) that PerSourceConnections does not count:
	// a load balancer in front, a site's NAT gateway. Loopback is not exempt unless listed.
	PerSourceExempt []string `json:"per_source_exempt,omitempty"`
	// BodyTimeout bounds the reading of one request body before admission (default 5s).
	BodyTimeout Duration `json:"body_timeout"`
	// BodyMemory bounds the bytes of request bodies read and held at once, per surface
	// (default 64 MiB).
	BodyMemory int64 `json:"body_memory"`

	Slots         int      `json:"slots"`           // default 64
	Queue         int      `json:"queue"`           // default 4 × slots
	QueueWait     Duration `json:"queue_wait"`      // default 1s
	RetryAfter    Duration `json:"retry_after"`     // default 5s; the least Retry-After
	MaxRetryAfter Duration `json:"max_retry_after"` // default 10m; Retry-After grows with the backlog up to it
	TLSHandshakes int      `json:"tls_handshakes"`  // default 256 × CPUs (0)
	// Challenges caps the challenges (for proofs of key possession over the API) one
	// principal holds that have not expired, used or not: at most that many per five minutes.
	Challenges int `json:"challenges"` // default 256
	// OCSPCacheBytes bounds the memory of cached OCSP answers, all CAs together (default
	// 64 MiB); answers about unknown serials get an eighth of it.
	OCSPCacheBytes int64 `json:"ocsp_cache_bytes"`
	// FullCRLMinInterval is the least time between two rebuilds, for changes, of the full
	// CRL of a partitioned CA while it is fetched (default 1m); fetches never rebuild it.
	FullCRLMinInterval Duration `json:"full_crl_min_interval"`
	// MemoryLimit is the Go runtime's soft memory limit in bytes (runtime/debug
	// SetMemoryLimit): the collector works harder as the process nears it. Default 128 MiB
	// plus OCSPCacheBytes (192 MiB with the default cache); at least 64 MiB and
	// OCSPCacheBytes + 32 MiB. GOMEMLIMIT in the environment overrides it.
	MemoryLimit int64 `json:"memory_limit"`
	// GCPercent is the collector's heap growth target (GOGC) below MemoryLimit: a collection
	// starts when the heap has grown by this percentage of what the last one left live.
	// Default DefaultGCPercent; 10 to 10000, or -1 for collections at MemoryLimit only. GOGC
	// in the environment overrides it.
	GCPercent int `json:"gc_percent"`
}

// DefaultGCPercent is limits.gc_percent's default: with a live heap of tens of MiB it
// collects a third as often as Go's 100 and stays well under the default memory limit
// (BENCHMARKS.md, *Memory through a million issuances*).
const DefaultGCPercent = 300

// DefaultOCSPCacheBytes is limits.ocsp_cache_bytes's default, 64 MiB.
const DefaultOCSPCacheBytes = 64 << 20

// DefaultMemoryLimit is limits.memory_limit's default for an OCSP cache of ocspCacheBytes.
func DefaultMemoryLimit(ocspCacheBytes int64) int64 { return 128<<20 + ocspCacheBytes }

// Signin tunes sign-in with OpenID Connect (docs/signin.md).
type Signin struct {
	// SessionTTL is how long a session lasts (default 8h; 5m to 24h).
	SessionTTL Duration `json:"session_ttl"`
}

// Leader tunes leadership among replicas (docs/operations.md).
type Leader struct {
	// LeaseTTL is how long the signing lease lasts without renewal (default 15s; the leader
	// renews every third of it): the longest CRLs and checkpoints wait after a leader dies.
	LeaseTTL Duration `json:"lease_ttl"`
}

// EST configures the EST listener. It uses the certificate and key of TLS.
type EST struct {
	// Listen is the HTTPS address of the EST server (HOST:PORT).
	Listen string `json:"listen"`
	// DefaultLabel is the environment (name or ID) that the bare /.well-known/est serves;
	// empty leaves only /.well-known/est/<label>/ in service.
	DefaultLabel string `json:"default_label"`
}

// Store selects the database.
type Store struct {
	Driver string `json:"driver"` // "sqlite" or "postgres"
	Path   string `json:"path"`   // sqlite: the database file
	// DSNEnv names the environment variable holding the PostgreSQL connection URL
	// (postgres://user:password@host:5432/db?sslmode=verify-full), so that a password never
	// sits in the configuration file.
	DSNEnv string `json:"dsn_env"`
	// CacheStaleness bounds how long a replica may answer authentication and authorization
	// reads (tokens, principals, ownership cells, duties, SoD rules, and the lot, model,
	// party, CA and key factory issuance reads) from its cache after another replica, or SQL
	// run by hand, changed them: default 250ms, at most 10s; negative turns the cache off
	// (every request reads the database). Changes made through a replica show on that
	// replica's next request whatever this is (internal/readcache, docs/operations.md).
	CacheStaleness Duration `json:"cache_staleness"`
}

// DSN reads the PostgreSQL connection URL from the environment variable DSNEnv names.
func (s Store) DSN() (string, error) {
	v := os.Getenv(s.DSNEnv)
	if strings.TrimSpace(v) == "" {
		return "", fmt.Errorf("store: the environment variable %s holding the PostgreSQL URL is not set", s.DSNEnv)
	}
	return v, nil
}

// Keys says where CA keys live (docs/keys.md): encrypted PEM files in Dir (backend "file",
// the default), or an HSM reached over PKCS#11 (backend "pkcs11", which needs a hallmark
// built with cgo and -tags pkcs11).
type Keys struct {
	// Backend is "file" (default), "pkcs11" or "tpm": where every kind of key lives that
	// Kinds does not place elsewhere.
	Backend string `json:"backend"`
	// PKCS11 configures the HSM when Backend is "pkcs11".
	PKCS11 *PKCS11 `json:"pkcs11,omitempty"`
	// TPM configures the TPM 2.0 when a kind of key lives in backend "tpm" (keys.go).
	TPM *TPM `json:"tpm,omitempty"`
	// Kinds puts a kind of key in another backend than Backend (keys.go).
	Kinds KeyKinds `json:"kinds"`
	// Dir is the folder of the encrypted key files (backend "file").
	Dir string `json:"dir"`
	// PassphraseEnv names the environment variable holding the passphrase (default
	// HALLMARK_KEY_PASSPHRASE); PassphraseFile reads it from a file instead. A passphrase is
	// never written in the configuration itself.
	PassphraseEnv  string `json:"passphrase_env"`
	PassphraseFile string `json:"passphrase_file"`
}

// PKCS11 names the token that holds the server's keys and how to log in to it. The PIN is
// read from the environment variable PINEnv (default HALLMARK_HSM_PIN) or the file PINFile,
// never from the configuration itself.
type PKCS11 struct {
	// ModulePath is the PKCS#11 library, e.g. "/usr/lib/softhsm/libsofthsm2.so".
	ModulePath string `json:"module_path"`
	// Token is the token's label; Serial its serial number (one is required).
	Token  string `json:"token"`
	Serial string `json:"serial"`
	// PINEnv and PINFile: where the user PIN is (set one; default PINEnv HALLMARK_HSM_PIN).
	PINEnv  string `json:"pin_env"`
	PINFile string `json:"pin_file"`
	// MaxSessions bounds the sessions open at once (default 16, at most 1024).
	MaxSessions int `json:"max_sessions"`
	// SessionWait is the longest a signature waits for a free session (default 10s).
	SessionWait Duration `json:"session_wait"`
}

// TLS names the API's certificate and key.
type TLS struct {
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
}

// Log configures logging.
type Log struct {
	Level  string `json:"level"`  // debug, info, warn, error
	Format string `json:"format"` // json or text
	// AuditLevel is the level of the record copied to the log from each committed audit event
	// (auditlog.LogCommittedAt): debug (the default: one line per certificate is too many for
	// a fleet's log at info) or info (for a SIEM that takes the audit events from the log).
	AuditLevel string `json:"audit_level"`
}

// Audit configures signed checkpoints of the audit log.
type Audit struct {
	// Origin names the log in its checkpoints (default: public_url's host + "/audit").
	Origin string `json:"origin"`
	// CheckpointInterval is how often a checkpoint is signed (default 10m).
	CheckpointInterval Duration `json:"checkpoint_interval"`
}

// Manufacturing holds manufacturing-stage settings.
type Manufacturing struct {
	RootLifetime    Duration `json:"root_lifetime"`
	IssuingLifetime Duration `json:"issuing_lifetime"`
}

// estLabel is the label syntax of internal/est (config does not import adapters).
var estLabel = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Load reads and validates a configuration file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes and validates configuration bytes.
func Parse(data []byte) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	c := &Config{}
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("not valid: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("not valid: data after the JSON object")
	}
	c.defaults()
	return c, c.Validate()
}

func (c *Config) defaults() {
	if c.Store.Driver == "" {
		c.Store.Driver = "sqlite"
	}
	if c.Keys.Backend == "" {
		c.Keys.Backend = "file"
	}
	if c.Keys.Uses("file") && c.Keys.PassphraseEnv == "" && c.Keys.PassphraseFile == "" {
		c.Keys.PassphraseEnv = "HALLMARK_KEY_PASSPHRASE"
	}
	if t := c.Keys.TPM; t != nil && t.Device == "" {
		t.Device = "/dev/tpmrm0"
	}
	if h := c.Keys.PKCS11; h != nil {
		if h.PINEnv == "" && h.PINFile == "" {
			h.PINEnv = "HALLMARK_HSM_PIN"
		}
		if h.MaxSessions == 0 {
			h.MaxSessions = 16
		}
		if h.SessionWait.Duration == 0 {
			h.SessionWait.Duration = 10 * time.Second
		}
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
	if c.Log.AuditLevel == "" {
		c.Log.AuditLevel = "debug"
	}
	if c.Audit.CheckpointInterval.Duration == 0 {
		c.Audit.CheckpointInterval.Duration = 10 * time.Minute
	}
	if c.Audit.Origin == "" {
		if u, err := url.Parse(c.PublicURL); err == nil && u.Host != "" {
			c.Audit.Origin = u.Host + "/audit"
		}
	}
	if c.Limits.Slots == 0 {
		c.Limits.Slots = 64
	}
	if c.Limits.Queue == 0 {
		c.Limits.Queue = 4 * c.Limits.Slots
	}
	if c.Limits.QueueWait.Duration == 0 {
		c.Limits.QueueWait.Duration = time.Second
	}
	if c.Limits.RetryAfter.Duration == 0 {
		c.Limits.RetryAfter.Duration = 5 * time.Second
	}
	if c.Limits.MaxRetryAfter.Duration == 0 {
		c.Limits.MaxRetryAfter.Duration = max(10*time.Minute, c.Limits.RetryAfter.Duration)
	}
	if c.Limits.TLSHelloTimeout.Duration == 0 {
		c.Limits.TLSHelloTimeout.Duration = 5 * time.Second
	}
	if c.Limits.PerSourceConnections == 0 {
		c.Limits.PerSourceConnections = 128
	}
	if c.Limits.BodyTimeout.Duration == 0 {
		c.Limits.BodyTimeout.Duration = 5 * time.Second
	}
	if c.Limits.BodyMemory == 0 {
		c.Limits.BodyMemory = 64 << 20
	}
	if c.Reports.SnapshotInterval.Duration == 0 {
		c.Reports.SnapshotInterval.Duration = time.Minute
	}
	if c.Leader.LeaseTTL.Duration == 0 {
		c.Leader.LeaseTTL.Duration = 15 * time.Second
	}
	if c.Signin.SessionTTL.Duration == 0 {
		c.Signin.SessionTTL.Duration = 8 * time.Hour
	}
	if c.Limits.OCSPCacheBytes == 0 {
		c.Limits.OCSPCacheBytes = DefaultOCSPCacheBytes
	}
	if c.Limits.FullCRLMinInterval.Duration == 0 {
		c.Limits.FullCRLMinInterval.Duration = time.Minute
	}
	if c.Limits.MemoryLimit == 0 {
		c.Limits.MemoryLimit = DefaultMemoryLimit(c.Limits.OCSPCacheBytes)
	}
	if c.Limits.GCPercent == 0 {
		c.Limits.GCPercent = DefaultGCPercent
	}
	if c.Manufacturing.RootLifetime.Duration == 0 {
		c.Manufacturing.RootLifetime.Duration = 30 * 365 * 24 * time.Hour
	}
	if c.Manufacturing.IssuingLifetime.Duration == 0 {
		c.Manufacturing.IssuingLifetime.Duration = 20 * 365 * 24 * time.Hour
	}
	if c.Policy.CostBudget == 0 {
		c.Policy.CostBudget = 100_000
	}
	if c.Policy.CacheEntries == 0 {
		c.Policy.CacheEntries = 256
	}
	if c.Status.BaseURL == "" && c.Status.HTTPListen != "" {
		if host, _, err := net.SplitHostPort(c.Status.HTTPListen); err == nil && !unspecifiedHost(host) {
			c.Status.BaseURL = "http://" + c.Status.HTTPListen
		}
	}
	if c.Status.RootCRLInterval.Duration == 0 {
		c.Status.RootCRLInterval.Duration = 24 * time.Hour
	}
	if c.Status.RootCRLLifetime.Duration == 0 {
		c.Status.RootCRLLifetime.Duration = max(7*24*time.Hour, c.Status.RootCRLInterval.Duration)
	}
	if c.Makers.WatchInterval.Duration == 0 {
		c.Makers.WatchInterval.Duration = time.Hour
	}
	if c.Makers.CRLTimeout.Duration == 0 {
		c.Makers.CRLTimeout.Duration = 30 * time.Second
	}
	if c.Makers.OCSPTimeout.Duration == 0 {
		c.Makers.OCSPTimeout.Duration = 5 * time.Second
	}
	if c.Makers.MaxCRLBytes == 0 {
		c.Makers.MaxCRLBytes = 10 << 20
	}
	if c.Principals.TokenLifetime.Duration == 0 {
		c.Principals.TokenLifetime.Duration = 90 * 24 * time.Hour
	}
	if c.Principals.MaxOverlap.Duration == 0 {
		c.Principals.MaxOverlap.Duration = 7 * 24 * time.Hour
	}
	if c.Principals.UpgradeTokenLifetime.Duration == 0 {
		c.Principals.UpgradeTokenLifetime.Duration = 30 * 24 * time.Hour
	}
}

// unspecifiedHost reports whether a listen host binds every address: "", 0.0.0.0 or ::.
func unspecifiedHost(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "must be HOST:PORT, e.g. \"0.0.0.0:8443\" (%v)", err)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || u.Scheme != "https" || u.Host == "" {
		bad("public_url", "must be an https:// URL that clients reach this server at, got %q", c.PublicURL)
	}
	switch c.Store.Driver {
	case "sqlite":
		if c.Store.Path == "" {
			bad("store.path", "the SQLite database file is required")
		}
		if c.Store.DSNEnv != "" {
			bad("store.dsn_env", "is for the postgres driver")
		}
	case "postgres":
		if c.Store.DSNEnv == "" {
			bad("store.dsn_env", "name the environment variable that holds the PostgreSQL URL, e.g. \"HALLMARK_DATABASE_URL\"")
		}
		if c.Store.Path != "" {
			bad("store.path", "is for the sqlite driver")
		}
	default:
		bad("store.driver", "%q is not supported (use \"sqlite\" or \"postgres\")", c.Store.Driver)
	}
	if d := c.Store.CacheStaleness.Duration; d > 10*time.Second {
		bad("store.cache_staleness", "must be at most 10s (negative: no cache), got %s", d)
	}
	c.validateKeys(bad) // keys.go
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") || c.TLS.CertFile == "" {
		bad("tls", "cert_file and key_file are both required")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		bad("log.format", "%q is not json or text", c.Log.Format)
	}
	if c.Log.AuditLevel != "debug" && c.Log.AuditLevel != "info" {
		bad("log.audit_level", "%q is not debug or info", c.Log.AuditLevel)
	}
	if c.EST != nil {
		if _, _, err := net.SplitHostPort(c.EST.Listen); err != nil {
			bad("est.listen", "must be HOST:PORT, e.g. \"0.0.0.0:8444\" (%v)", err)
		} else if c.EST.Listen == c.Listen {
			bad("est.listen", "must differ from listen: EST has a listener of its own")
		}
		if l := c.EST.DefaultLabel; l != "" && !estLabel.MatchString(l) {
			bad("est.default_label", "%q is not an environment name or ID (letters, digits, '.', '_', '-')", l)
		}
	}
	if l := c.Metrics.Listen; l != "" {
		if _, port, err := net.SplitHostPort(l); err != nil {
			bad("metrics.listen", "must be HOST:PORT, e.g. \"127.0.0.1:9464\", or empty for no metrics (%v)", err)
		} else if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
			bad("metrics.listen", "the port %q must be a number between 1 and 65535", port)
		} else if l == c.Listen || c.EST != nil && l == c.EST.Listen {
			bad("metrics.listen", "must differ from listen and est.listen: metrics have a listener of their own")
		}
	}
	if strings.ContainsAny(c.Audit.Origin, " +\n") {
		bad("audit.origin", "%q may not contain spaces or '+'", c.Audit.Origin)
	}
	if c.Audit.CheckpointInterval.Duration < time.Second {
		bad("audit.checkpoint_interval", "must be at least 1s")
	}
	if c.Limits.Slots < 1 || c.Limits.Slots > 4096 {
		bad("limits.slots", "must be between 1 and 4096, got %d", c.Limits.Slots)
	}
	if c.Limits.Queue < 0 || c.Limits.Queue > 65536 {
		bad("limits.queue", "must be between 0 and 65536, got %d", c.Limits.Queue)
	}
	if c.Limits.Challenges < 0 || c.Limits.Challenges > 100000 {
		bad("limits.challenges", "must be between 0 (256) and 100000, got %d", c.Limits.Challenges)
	}
	if c.Limits.TLSHandshakes < 0 || c.Limits.TLSHandshakes > 65536 {
		bad("limits.tls_handshakes", "must be between 0 (256 per CPU) and 65536, got %d", c.Limits.TLSHandshakes)
	}
	if d := c.Limits.TLSHelloTimeout.Duration; d < 100*time.Millisecond || d > time.Minute {
		bad("limits.tls_hello_timeout", "must be between 100ms and 1m, got %s", d)
	}
	if n := c.Limits.PerSourceConnections; n < 1 || n > 1<<20 {
		bad("limits.per_source_connections", "must be between 1 and 1048576, got %d (list a load balancer's address in limits.per_source_exempt instead)", n)
	}
	for _, p := range c.Limits.PerSourceExempt {
		if _, err := netip.ParsePrefix(p); err != nil {
			bad("limits.per_source_exempt", "%q is not a CIDR prefix such as \"10.0.0.0/8\" or \"127.0.0.1/32\"", p)
		}
	}
	if d := c.Limits.BodyTimeout.Duration; d < 100*time.Millisecond || d > time.Minute {
		bad("limits.body_timeout", "must be between 100ms and 1m, got %s", d)
	}
	if n := c.Limits.BodyMemory; n < 1<<20 || n > 1<<40 {
		bad("limits.body_memory", "must be between 1048576 (1 MiB) and 2^40 bytes, got %d", n)
	}
	if l := c.StatusListen; l != "" {
		if _, _, err := net.SplitHostPort(l); err != nil {
			bad("status_listen", "must be HOST:PORT, e.g. \"0.0.0.0:8445\", or empty to serve OCSP and CRLs on the API listener only (%v)", err)
		} else if l == c.Listen || c.EST != nil && l == c.EST.Listen || l == c.Metrics.Listen || l == c.Status.HTTPListen {
			bad("status_listen", "must differ from listen, est.listen, metrics.listen and status.http_listen")
		}
	}
	if d := c.Limits.QueueWait.Duration; d < 0 || d > time.Minute {
		bad("limits.queue_wait", "must be between 0s and 1m, got %s", d)
	}
	if d := c.Limits.RetryAfter.Duration; d < time.Second || d > time.Hour {
		bad("limits.retry_after", "must be between 1s and 1h, got %s", d)
	}
	if d := c.Limits.MaxRetryAfter.Duration; d < c.Limits.RetryAfter.Duration || d > 24*time.Hour {
		bad("limits.max_retry_after", "must be between limits.retry_after (%s) and 24h, got %s", c.Limits.RetryAfter.Duration, d)
	}
	if d := c.Signin.SessionTTL.Duration; d < 5*time.Minute || d > 24*time.Hour {
		bad("signin.session_ttl", "must be between 5m and 24h, got %s", d)
	}
	if n := c.Limits.OCSPCacheBytes; n < 1<<20 || n > 64<<30 {
		bad("limits.ocsp_cache_bytes", "must be between 1048576 (1 MiB) and 68719476736 (64 GiB), got %d", n)
	}
	if d := c.Limits.FullCRLMinInterval.Duration; d < time.Second || d > time.Hour {
		bad("limits.full_crl_min_interval", "must be between 1s and 1h (the CRL interval), got %s", d)
	}
	if n, least := c.Limits.MemoryLimit, max(64<<20, c.Limits.OCSPCacheBytes+32<<20); n < least || n > 1<<40 {
		bad("limits.memory_limit", "must be between %d bytes (64 MiB, and limits.ocsp_cache_bytes + 32 MiB) and 2^40, got %d", least, n)
	}
	if p := c.Limits.GCPercent; p != -1 && (p < 10 || p > 10000) {
		bad("limits.gc_percent", "must be between 10 and 10000, or -1 to collect only at limits.memory_limit, got %d", p)
	}
	if d := c.Reports.SnapshotInterval.Duration; d < time.Second || d > 24*time.Hour {
		bad("reports.snapshot_interval", "must be between 1s and 24h, got %s", d)
	}
	if d := c.Leader.LeaseTTL.Duration; d < time.Second || d > 10*time.Minute {
		bad("leader.lease_ttl", "must be between 1s and 10m, got %s", d)
	}
	if c.Manufacturing.IssuingLifetime.Duration > c.Manufacturing.RootLifetime.Duration {
		bad("manufacturing.issuing_lifetime", "is longer than root_lifetime")
	}
	if m := c.Metrics; m.Pprof && !m.PprofRemote && m.Listen != "" && !loopbackOnly(m.Listen) {
		bad("metrics.pprof", "serves Go's profiles without authentication, and metrics.listen %q is not a loopback address: bind metrics.listen to 127.0.0.1 or [::1], turn pprof off, or set metrics.pprof_remote to true to serve them there anyway", m.Listen)
	}
	if b := c.Policy.CostBudget; b < 1_000 || b > 1_000_000 {
		bad("policy.cost_budget", "must be between 1000 and 1000000 CEL cost units, got %d", b)
	}
	if n := c.Policy.CacheEntries; n < 1 || n > 65536 {
		bad("policy.cache_entries", "must be between 1 and 65536, got %d", n)
	}
	c.validateStatus(bad)
	c.validateBRSKI(bad)
	if d := c.Makers.WatchInterval.Duration; d < time.Second || d > 24*time.Hour {
		bad("makers.watch_interval", "must be between 1s and 24h, got %s", d)
	}
	for key, d := range map[string]time.Duration{"makers.crl_timeout": c.Makers.CRLTimeout.Duration, "makers.ocsp_timeout": c.Makers.OCSPTimeout.Duration} {
		if d < time.Second || d > 5*time.Minute {
			bad(key, "must be between 1s and 5m, got %s", d)
		}
	}
	if n := c.Makers.MaxCRLBytes; n < 64<<10 || n > 1<<30 {
		bad("makers.max_crl_bytes", "must be between 65536 (64 KiB) and 1073741824 (1 GiB), got %d", n)
	}
	if d := c.Principals.TokenLifetime.Duration; d < time.Hour || d > 366*24*time.Hour {
		bad("principals.token_lifetime", "must be between 1h and 8784h (366 days), got %s", d)
	}
	if d := c.Principals.MaxOverlap.Duration; d < time.Minute || d > 30*24*time.Hour {
		bad("principals.max_overlap", "must be between 1m and 720h (30 days), got %s", d)
	}
	if d := c.Principals.UpgradeTokenLifetime.Duration; d < time.Hour || d > 366*24*time.Hour {
		bad("principals.upgrade_token_lifetime", "must be between 1h and 8784h (366 days), got %s", d)
	}
	return errors.Join(errs...)
}

// validateStatus checks the status section.
func (c *Config) validateStatus(bad func(key, format string, args ...any)) {
	st := c.Status
	if l := st.HTTPListen; l != "" {
		if host, port, err := net.SplitHostPort(l); err != nil {
			bad("status.http_listen", "must be HOST:PORT, e.g. \"0.0.0.0:8080\", or empty to serve status on the HTTPS listener only (%v)", err)
		} else if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
			bad("status.http_listen", "the port %q must be a number between 1 and 65535", port)
		} else if l == c.Listen || c.EST != nil && l == c.EST.Listen || l == c.Metrics.Listen || l == c.StatusListen {
			bad("status.http_listen", "must differ from listen, est.listen, metrics.listen and status_listen: plain-HTTP status has a listener of its own")
		} else if st.BaseURL == "" && unspecifiedHost(host) {
			bad("status.base_url", "is required when status.http_listen %q binds every address: give the http:// URL relying parties reach it at, e.g. \"http://status.example.com\"", l)
		}
	}
	if b := st.BaseURL; b != "" {
		u, err := url.Parse(b)
		switch {
		case err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
			bad("status.base_url", "must be http://host[:port][/path], got %q", b)
		case u.Scheme != "http":
			bad("status.base_url", "must be a plain http:// URL, got %q: relying parties fetch OCSP and CRLs without TLS (RFC 5280 section 4.2.1.13, RFC 6960 appendix A.1), and GnuTLS's ocsptool cannot fetch https", b)
		}
	}
	if d := st.RootCRLInterval.Duration; d < time.Minute || d > 30*24*time.Hour {
		bad("status.root_crl_interval", "must be between 1m and 720h (30 days), got %s", d)
	}
	if d := st.RootCRLLifetime.Duration; d < st.RootCRLInterval.Duration || d > 365*24*time.Hour {
		bad("status.root_crl_lifetime", "must be between status.root_crl_interval (%s) and 8760h (365 days), got %s", st.RootCRLInterval.Duration, d)
	}
}

// loopbackOnly reports whether a HOST:PORT listens on loopback only: "localhost" or a
// loopback IP. An empty host, which listens everywhere, and other names are not.
func loopbackOnly(hostPort string) bool {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Passphrase reads the key passphrase from the environment or file the config names.
func (c *Config) Passphrase() ([]byte, error) {
	if c.Keys.PassphraseFile != "" {
		b, err := os.ReadFile(c.Keys.PassphraseFile)
		if err != nil {
			return nil, fmt.Errorf("keys.passphrase_file: %w", err)
		}
		p := bytes.TrimRight(b, "\r\n")
		if len(p) == 0 {
			return nil, fmt.Errorf("keys.passphrase_file %s is empty", c.Keys.PassphraseFile)
		}
		return p, nil
	}
	p := os.Getenv(c.Keys.PassphraseEnv)
	if strings.TrimSpace(p) == "" {
		return nil, fmt.Errorf("keys: the environment variable %s holding the CA key passphrase is not set", c.Keys.PassphraseEnv)
	}
	return []byte(p), nil
}

// ExemptPrefixes parses Limits.PerSourceExempt (Validate has checked it), masked.
func (l Limits) ExemptPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range l.PerSourceExempt {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// HSMPIN reads the HSM user PIN from the environment or file keys.pkcs11 names.
func (c *Config) HSMPIN() ([]byte, error) {
	h := c.Keys.PKCS11
	if h == nil {
		return nil, errors.New("keys.pkcs11 is not configured")
	}
	if h.PINFile != "" {
		b, err := os.ReadFile(h.PINFile)
		if err != nil {
			return nil, fmt.Errorf("keys.pkcs11.pin_file: %w", err)
		}
		p := bytes.TrimRight(b, "\r\n")
		if len(p) == 0 {
			return nil, fmt.Errorf("keys.pkcs11.pin_file %s is empty", h.PINFile)
		}
		return p, nil
	}
	p := os.Getenv(h.PINEnv)
	if p == "" {
		return nil, fmt.Errorf("keys.pkcs11: the environment variable %s holding the HSM PIN is not set", h.PINEnv)
	}
	return []byte(p), nil
}
