package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hallmark-id/hallmark/internal/config"
	"github.com/hallmark-id/hallmark/internal/keys"
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/keys/pkcs11"
	"github.com/hallmark-id/hallmark/internal/keys/tpm"
)

// openKeys builds the key provider the configuration names (docs/keys.md): encrypted files, a
// PKCS#11 token, a TPM 2.0, or, when keys.kinds puts kinds of keys in different backends, a
// router over each backend used. The closer releases them when the server stops.
func openKeys(cfg *config.Config, log *slog.Logger) (keys.Provider, io.Closer, error) {
	opened := map[string]keys.Provider{}
	var closers closeAll
	for _, b := range []string{"file", "pkcs11", "tpm"} {
		if !cfg.Keys.Uses(b) {
			continue
		}
		p, c, err := openBackend(cfg, b, log)
		if err != nil {
			_ = closers.Close()
			return nil, nil, err
		}
		opened[b], closers = p, append(closers, c)
	}
	if len(opened) == 1 {
		return opened[cfg.Keys.Backend], closers, nil
	}
	byKind := map[keys.Kind]keys.Provider{}
	for _, k := range keys.Kinds() {
		if b := cfg.Keys.BackendFor(string(k)); b != cfg.Keys.Backend {
			byKind[k] = opened[b]
		}
		log.Info("key kind placed", "kind", string(k), "backend", cfg.Keys.BackendFor(string(k)))
	}
	byScheme := map[string]keys.Locator{}
	var stats []namedStats
	if p, ok := opened["pkcs11"].(*pkcs11.Provider); ok {
		byScheme["pkcs11"] = p
		stats = append(stats, namedStats{"pkcs11", p})
	}
	if p, ok := opened["tpm"].(*tpm.Provider); ok {
		byScheme[tpm.Scheme] = p
		stats = append(stats, namedStats{"tpm", p})
	}
	return routedKeys{keys.NewRouter(opened[cfg.Keys.Backend], byKind, byScheme), stats}, closers, nil
}

// openBackend opens one key backend.
func openBackend(cfg *config.Config, backend string, log *slog.Logger) (keys.Provider, io.Closer, error) {
	switch backend {
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
	case "tpm":
		t := cfg.Keys.TPM
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		p, err := tpm.Open(ctx, tpm.Config{Device: t.Device, StorageDir: t.StorageDir})
		if err != nil {
			return nil, nil, fmt.Errorf("keys: opening the TPM: %w", err)
		}
		log.Info("keys in a TPM 2.0", "backend", "tpm", "device", t.Device, "storage_dir", t.StorageDir)
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

// closeAll closes every backend opened.
type closeAll []io.Closer

func (c closeAll) Close() error {
	var errs []error
	for _, x := range c {
		errs = append(errs, x.Close())
	}
	return errors.Join(errs...)
}

// routedKeys is the router over several backends, with the stats of those that count their
// operations (an HSM, a TPM).
type routedKeys struct {
	*keys.Router
	stats []namedStats
}

// hsmStats is what a key backend that counts its operations offers (pkcs11.Provider,
// tpm.Provider).
type hsmStats interface{ Stats() keys.Stats }

// namedStats is one such backend and its name, the metrics' backend label.
type namedStats struct {
	backend string
	p       hsmStats
}

// keyStats returns the backends of p that count their operations.
func keyStats(p keys.Provider) []namedStats {
	switch p := p.(type) {
	case routedKeys:
		return p.stats
	case *pkcs11.Provider:
		return []namedStats{{"pkcs11", p}}
	case *tpm.Provider:
		return []namedStats{{"tpm", p}}
	}
	return nil
}

// keysCollector exports the key backends' counts as Prometheus metrics:
// hallmark_keys_operations_total{backend,operation,result} and hallmark_keys_up{backend}.
type keysCollector []namedStats

var (
	descKeyOps = prometheus.NewDesc("hallmark_keys_operations_total",
		"Operations on the key backend by result: ok, or why they failed (pin, device, session, busy, not_found, other).",
		[]string{"backend", "operation", "result"}, nil)
	descKeysUp = prometheus.NewDesc("hallmark_keys_up",
		"1 while the key backend answers; 0 from a failure of the HSM or TPM, or the link to it, until an operation succeeds again.",
		[]string{"backend"}, nil)
)

func (c keysCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descKeyOps
	ch <- descKeysUp
}

func (c keysCollector) Collect(ch chan<- prometheus.Metric) {
	for _, b := range c {
		st := b.p.Stats()
		for k, n := range st.Ops {
			ch <- prometheus.MustNewConstMetric(descKeyOps, prometheus.CounterValue, float64(n), b.backend, k.Op, k.Result)
		}
		up := 0.0
		if st.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descKeysUp, prometheus.GaugeValue, up, b.backend)
	}
}
