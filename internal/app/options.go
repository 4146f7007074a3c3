package app

import "time"

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
	// MakerWatch, with Dev, is the interval of the status watcher of makers that do not run
	// Hallmark (default 1h; tests shorten it).
	MakerWatch time.Duration
}
