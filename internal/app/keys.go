package app

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hallmark-id/hallmark/internal/config"
	"github.com/hallmark-id/hallmark/internal/keys"
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/keys/pkcs11"
)

// openKeys builds the key provider the configuration names (docs/keys.md): encrypted files, or
// a PKCS#11 token. The closer releases the provider when the server stops.
func openKeys(cfg *config.Config, log *slog.Logger) (keys.Provider, io.Closer, error) {
	switch cfg.Keys.Backend {
	case "pkcs11":
		h := cfg.Keys.PKCS11
		pin, err := cfg.HSMPIN()
		if err != nil {
			return nil, nil, err
		}
		p, err := pkcs11.Open(pkcs11.Config{ModulePath: h.ModulePath, Token: h.Token, Serial: h.Serial, PIN: keys.Secret(pin),
			MaxSessions: h.MaxSessions, SessionWait: h.SessionWait.Duration})
		clear(pin)
		if err != nil {
			return nil, nil, fmt.Errorf("keys: opening the HSM: %w", err)
		}
		log.Info("keys in an HSM", "backend", "pkcs11", "token", h.Token+h.Serial, "module", h.ModulePath, "max_sessions", h.MaxSessions)
		return p, p, nil
	default:
		pass, err := cfg.Passphrase()
		if err != nil {
			return nil, nil, err
		}
		p, err := keyfile.New(cfg.Keys.Dir, keys.Secret(pass))
		if err != nil {
			return nil, nil, err
		}
		return p, io.NopCloser(nil), nil
	}
}

// hsmStats is what a key provider that counts its operations offers (pkcs11.Provider).
type hsmStats interface{ Stats() pkcs11.Stats }

// keysCollector exports an HSM provider's counts as Prometheus metrics:
// hallmark_keys_operations_total{backend,operation,result} and hallmark_keys_up{backend}.
type keysCollector struct{ p hsmStats }

var (
	descKeyOps = prometheus.NewDesc("hallmark_keys_operations_total",
		"Operations on the key backend by result: ok, or why they failed (pin, device, session, busy, not_found, other).",
		[]string{"backend", "operation", "result"}, nil)
	descKeysUp = prometheus.NewDesc("hallmark_keys_up",
		"1 while the key backend answers; 0 from a failure of the HSM or the link to it until an operation succeeds again.",
		[]string{"backend"}, nil)
)

func (c keysCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descKeyOps
	ch <- descKeysUp
}

func (c keysCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.p.Stats()
	for k, n := range st.Ops {
		ch <- prometheus.MustNewConstMetric(descKeyOps, prometheus.CounterValue, float64(n), "pkcs11", k.Op, k.Result)
	}
	up := 0.0
	if st.Up {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(descKeysUp, prometheus.GaugeValue, up, "pkcs11")
}
