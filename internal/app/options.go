package app

import (
	"time"

	"github.com/hallmark-id/hallmark/internal/config"
	"github.com/hallmark-id/hallmark/internal/keys"
)

// Options select how `hallmark serve` runs.
type Options struct {
	// Dev starts on an embedded database in DataDir with demo parties, CAs and tokens.
	Dev bool
	// DataDir is the dev data folder (default ./hallmark-data).
	DataDir string
	// DevPostgresEnv, with Dev, names an environment variable holding a PostgreSQL URL: the
	// demo then keeps its data there instead of in the embedded store (keys, tokens and TLS
	// files stay in DataDir). It is how the load generator measures the PostgreSQL store
	// over HTTPS.
	DevPostgresEnv string
	// Listen overrides the API listen address (HOST:PORT; port 0 picks a free port).
	Listen string
	// ConfigFile is the strict JSON configuration for real use.
	ConfigFile string
	// Now, when set, is the server's clock (tests move it to expire certificates); the CLI
	// never sets it.
	Now func() time.Time
	// Limits, with Dev, replaces the default limits (zero fields keep theirs): the attack
	// tests and benchmarks size the dev server with it. The CLI never sets it; --config
	// takes them from the file.
	Limits *config.Limits
	// DevKeys, with Dev, is the key provider to use instead of encrypted files in DataDir
	// (tests run the demo with its keys in an HSM); the CLI never sets it.
	DevKeys keys.Provider
	// MakerWatch, with Dev, is the interval of the status watcher of makers that do not run
	// Hallmark (default 1h; tests shorten it).
	MakerWatch time.Duration
	// BRSKI, with Dev, serves a MASA and/or a registrar (docs/brski.md). A MASA without
	// certificate_file gets a self-signed dev MASA certificate in DIR/brski/masa.pem, and a
	// MASA without url names the API's own URL; the registrar signs with the dev EST
	// certificate. The CLI never sets it; --config takes it from the file.
	BRSKI *config.BRSKI
	// SnapshotInterval, with Dev, is the pause between rounds of the console's report
	// snapshots (default DefaultSnapshotInterval; tests shorten it, benchmarks lengthen it).
	// The CLI never sets it; --config takes reports.snapshot_interval from the file.
	SnapshotInterval time.Duration
	// TuneGC sets the process's memory limit and GC percent from limits.memory_limit and
	// limits.gc_percent (with Dev, their defaults or those of Limits), unless GOMEMLIMIT or
	// GOGC is in the environment. The CLI sets it; tests that run a server inside their own
	// process leave it off so as not to change their collector.
	TuneGC bool
}
