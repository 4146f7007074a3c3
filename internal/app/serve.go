package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/hallmark-id/hallmark/internal/admission"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hallmark-id/hallmark/internal/config"
	"github.com/hallmark-id/hallmark/internal/makerstatus"
)

// Serve runs `hallmark serve` until ctx ends.
func Serve(ctx context.Context, opts Options, stdout, stderr io.Writer) error {
	if opts.Dev {
		if opts.ConfigFile != "" {
			return errors.New("serve: --dev and --config exclude each other")
		}
		return serveDev(ctx, opts, stdout, stderr)
	}
	if opts.ConfigFile == "" {
		return errors.New("serve: give --config FILE for real use, or --dev for a local demo")
	}
	cfg, err := config.Load(opts.ConfigFile)
	if err != nil {
		return err
	}
	if opts.Listen != "" {
		cfg.Listen = opts.Listen
	}
	log := newLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	if opts.TuneGC {
		tuneGC(log, cfg.Limits.MemoryLimit, cfg.Limits.GCPercent)
	}
	kp, keysCloser, err := openKeys(cfg, log)
	if err != nil {
		return err
	}
	defer keysCloser.Close()
	st, err := openStore(ctx, cfg.Store)
	if err != nil {
		return err
	}
	defer st.Close()
	startedAt := time.Now()
	if opts.Now != nil {
		startedAt = opts.Now()
	}
	if err := checkCAKeys(ctx, st, kp, startedAt, keyPlace(cfg.Keys)); err != nil {
		return err
	}
	a, err := Build(Wiring{Listeners: listenerLimits(cfg.Limits), Store: st, Keys: kp, Log: log, RootLife: cfg.Manufacturing.RootLifetime.Duration, IssuingLife: cfg.Manufacturing.IssuingLifetime.Duration,
		AuditOrigin: cfg.Audit.Origin, LeaseTTL: cfg.Leader.LeaseTTL.Duration,
		Status: StatusConfig{OCSPCacheBytes: cfg.Limits.OCSPCacheBytes, FullCRLMinGap: cfg.Limits.FullCRLMinInterval.Duration,
			RootCRLInterval: cfg.Status.RootCRLInterval.Duration, RootCRLLifetime: cfg.Status.RootCRLLifetime.Duration},
		Admission: admission.Config{Slots: cfg.Limits.Slots, Queue: cfg.Limits.Queue, Wait: cfg.Limits.QueueWait.Duration, RetryAfter: cfg.Limits.RetryAfter.Duration,
			MaxRetryAfter: cfg.Limits.MaxRetryAfter.Duration},
		Handshakes:   cfg.Limits.TLSHandshakes,
		PolicyBudget: cfg.Policy.CostBudget, PolicyCacheEntries: cfg.Policy.CacheEntries, Challenges: cfg.Limits.Challenges, SigninSessionTTL: cfg.Signin.SessionTTL.Duration,
		Makers: MakersConfig{WatchInterval: cfg.Makers.WatchInterval.Duration, Status: makerstatus.Config{CRLTimeout: cfg.Makers.CRLTimeout.Duration,
			OCSPTimeout: cfg.Makers.OCSPTimeout.Duration, MaxCRLBytes: cfg.Makers.MaxCRLBytes}},
		Principals: PrincipalLimits{TokenLifetime: cfg.Principals.TokenLifetime.Duration, MaxOverlap: cfg.Principals.MaxOverlap.Duration,
			UpgradeTokenLifetime: cfg.Principals.UpgradeTokenLifetime.Duration}, CacheStaleness: cfg.Store.CacheStaleness.Duration,
		AuditEventLevel: auditEventLevel(cfg.Log.AuditLevel)})
	if err != nil {
		return err
	}
	a.SnapshotInterval = cfg.Reports.SnapshotInterval.Duration
	if cfg.Metrics.Listen != "" {
		ms, err := a.ServeMetrics(cfg.Metrics.Listen, cfg.Metrics.Pprof)
		if err != nil {
			return fmt.Errorf("metrics: listen: %w", err)
		}
		defer ms.Close()
		log.Info("serving", "metrics", ms.URL)
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	if b := cfg.BRSKI; b != nil {
		if b.MASA != nil {
			if err := a.setupMASA(ctx, b.MASA); err != nil {
				return err
			}
		}
		if b.Registrar != nil {
			if err := a.setupRegistrar(b.Registrar, cert); err != nil {
				return err
			}
		}
	}
	var estSrv *estServer
	if cfg.EST != nil {
		if estSrv, err = a.newESTServer(cfg.EST.Listen, []tls.Certificate{cert}, cfg.EST.DefaultLabel); err != nil {
			return fmt.Errorf("est: listen: %w", err)
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		if estSrv != nil {
			estSrv.ln.Close()
		}
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("serving", "api", "https://"+ln.Addr().String()+"/v1", "public_url", cfg.PublicURL)
	apiTLS := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	servers := []served{{"api", ln, apiTLS, a.Handler()}}
	if estSrv != nil {
		log.Info("serving", "est", "https://"+estSrv.ln.Addr().String()+"/.well-known/est", "default_label", cfg.EST.DefaultLabel)
		servers = append(servers, served{"est", estSrv.ln, estSrv.tc, estSrv.h})
	}
	if cfg.StatusListen != "" {
		sln, err := net.Listen("tcp", cfg.StatusListen)
		if err != nil {
			for _, s := range servers {
				s.ln.Close()
			}
			return fmt.Errorf("status_listen: %w", err)
		}
		log.Info("serving", "status", "https://"+sln.Addr().String()+"/ocsp")
		servers = append(servers, served{"status", sln, apiTLS, a.StatusOnlyHandler()})
	}
	ss, statusBase, err := a.serveConfiguredStatus(cfg)
	if err != nil {
		return err
	}
	if ss != nil {
		defer ss.Close()
	}
	if err := a.StartStatus(ctx, statusBase); err != nil {
		return fmt.Errorf("revocation status: %w", err)
	}
	go a.AuditLog.Run(ctx, cfg.Audit.CheckpointInterval.Duration) //nolint:errcheck // returns nil when ctx ends
	defer a.runRefusals(ctx)()
	defer a.StopLeading()
	return a.run(ctx, servers...)
}

// served is one HTTPS listener and what it serves; name is "api", "est" or "status".
type served struct {
	name string
	ln   net.Listener
	tc   *tls.Config
	h    http.Handler
}

// run serves HTTPS on every listener until ctx ends or one of them fails, then shuts all
// down gracefully.
func (a *App) run(ctx context.Context, servers ...served) error {
	errc := make(chan error, len(servers))
	var srvs []*http.Server
	for _, s := range servers {
		srv := &http.Server{
			Handler:           s.h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
		}
		srvs = append(srvs, srv)
		g := a.gate(s.name)
		go func() { errc <- srv.Serve(g.listener(s.ln, s.tc)) }()
	}
	var first error
	select {
	case first = <-errc:
	case <-ctx.Done():
	}
	a.Log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, srv := range srvs {
		if err := srv.Shutdown(sctx); err != nil && first == nil {
			first = err
		}
	}
	for _, s := range servers {
		g := a.gate(s.name)
		attrs := []any{"listener", s.name, "tls_handshakes_failed", g.Failed()}
		for r, n := range g.Failures() {
			attrs = append(attrs, r, n)
		}
		a.Log.Info("stopped", attrs...)
	}
	return first
}

// auditEventLevel is the level of the log record copied from each committed audit event
// (log.audit_level, which config validates: "info", else debug).
func auditEventLevel(name string) slog.Level {
	if name == "info" {
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	o := &slog.HandlerOptions{Level: l}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, o))
	}
	return slog.New(slog.NewJSONHandler(w, o))
}
