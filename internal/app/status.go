package app

import (
	"context"
	"net/http"
	"time"

	"github.com/hallmark-id/hallmark/internal/metrics"
	"github.com/hallmark-id/hallmark/internal/status"
)

// StatusConfig tunes revocation status; zero values take the defaults of status.Config.
type StatusConfig struct {
	// BaseURL is the public base URL that certificates' AIA OCSP and CRL distribution points
	// are built from; it can also be given (or changed) by StartStatus.
	BaseURL string
	// CRLInterval is how often every CRL is rebuilt (default 1h); a CA's CRL is also rebuilt
	// within a second of a change of one of its certificates.
	CRLInterval time.Duration
	// CRLLifetime is a CRL's nextUpdate − thisUpdate (default 4 × CRLInterval).
	CRLLifetime time.Duration
	// OCSPLifetime is an OCSP answer's nextUpdate − thisUpdate (default 1h).
	OCSPLifetime time.Duration
	// PollInterval is how often the change feed is polled (default 500ms, at most 1s).
	PollInterval time.Duration
	// ResponderLife is the validity of delegated OCSP responder certificates (default 30d).
	ResponderLife time.Duration
	// OCSPCacheBytes bounds the memory of cached OCSP answers, all CAs together (default
	// 64 MiB; limits.ocsp_cache_bytes).
	OCSPCacheBytes int64
	// FullCRLMinGap is the least time between two rebuilds, for changes, of a partitioned
	// CA's full CRL while it is fetched (default 1m; limits.full_crl_min_interval).
	FullCRLMinGap time.Duration
	// RootCRLInterval and RootCRLLifetime are CRLInterval and CRLLifetime for roots' CRLs
	// (default 24h and 7 days; status.root_crl_interval and status.root_crl_lifetime).
	RootCRLInterval time.Duration
	RootCRLLifetime time.Duration
}

// buildStatus wires the status service; Build calls it before the services that issue
// certificates, which take their OCSP and CRL URLs from a.StatusURLs.
func (a *App) buildStatus(c StatusConfig) {
	a.StatusURLs = &status.URLs{}
	// New issuing CAs carry their root's status URLs.
	a.Authority.UseCAStatusURLs(a.StatusURLs.ForCA)
	if c.BaseURL != "" {
		if err := a.StatusURLs.SetBase(c.BaseURL); err != nil {
			a.Log.Warn("status: ignoring the base URL", "err", err)
		}
	}
	a.Status = status.New(status.Config{
		Store: a.Store, Authority: a.Authority, Keys: a.Keys, Log: a.Log, Now: a.Now, URLs: a.StatusURLs,
		CRLInterval: c.CRLInterval, CRLLifetime: c.CRLLifetime, OCSPLifetime: c.OCSPLifetime,
		PollInterval: c.PollInterval, ResponderLife: c.ResponderLife, Leader: a.Leader,
		CacheBytes: c.OCSPCacheBytes, FullCRLMinGap: c.FullCRLMinGap, RootCRLInterval: c.RootCRLInterval, RootCRLLifetime: c.RootCRLLifetime,
		Disputes: a.AuditLog.Disputes(),
	})
	if err := a.Metrics.WatchStatus(func() metrics.StatusStats { return statusStats(a.Status.Stats()) }); err != nil {
		a.Log.Error("metrics: status collector", "err", err)
	}
}

// statusStats turns the status service's figures into the metrics' terms.
func statusStats(s status.Stats) metrics.StatusStats {
	m := metrics.StatusStats{
		OCSPAnswers: map[string]int64{"cache": s.OCSPCached, "signed": s.OCSPSigned, "disputed": s.OCSPDisputed},
		Disputed:    s.Disputed,
		CRLBuilds:   map[string]int64{"full": s.FullCRLBuilds, "partition": s.PartitionCRLBuilds},
		CRLRequests: map[string]int64{"memory": s.CRLServedMemory, "build": s.CRLServedBuild, "store": s.CRLServedStore},
	}
	for _, t := range s.OCSPCache {
		m.OCSPCache = append(m.OCSPCache, metrics.OCSPCacheTier{Tier: t.Tier, Bytes: t.Bytes, Limit: t.Limit, Entries: t.Entries, Evictions: t.Evictions})
	}
	return m
}

// StatusHandler serves OCSP (/ocsp, /ocsp/<ca-id>[/<base64>]), CRLs (/crl/<ca-id>.crl,
// and /crl/<ca-id>-<p>.crl for the partitions of a partitioned CA) and CA certificates
// (/ca/<ca-id>.cer). Mount it at "/ocsp", "/ocsp/", "/crl/" and "/ca/". It needs no
// authentication. ServeStatus serves it on a plain-HTTP listener of its own.
func (a *App) StatusHandler() http.Handler { return a.Status.Handler() }

// StartStatus sets the public base URL (when baseURL is not empty) that certificates issued
// from now on point at, and runs the signing-lease election (a first attempt before it
// returns, so a lone server leads at once), the change poller and the CRL builder until ctx
// ends. StopLeading releases the lease.
func (a *App) StartStatus(ctx context.Context, baseURL string) error {
	if baseURL != "" {
		if err := a.StatusURLs.SetBase(baseURL); err != nil {
			return err
		}
	}
	if _, err := a.Leader.Try(ctx); err != nil {
		a.Log.Warn("leader: first attempt", "err", err)
	}
	go a.Leader.Run(ctx)
	// The leader also purges expired challenges (challenges.go); it rides on the election
	// started here.
	go a.runChallengePurge(ctx, challengePurgeEvery)
	go a.makerWatch.run(ctx)                         // makers.go: the status of makers that do not run Hallmark
	go a.runReportSnapshots(ctx, a.SnapshotInterval) // snapshots.go: the console's reports
	a.reconcileAtStart(ctx)                          // reconcile.go: before OCSP answers anything
	return a.Status.Start(ctx)
}

// StopLeading ends this replica's part in the election and releases the signing lease, so
// that another replica takes over at once rather than after the lease's TTL.
func (a *App) StopLeading() {
	if err := a.Leader.Stop(2 * time.Second); err != nil {
		a.Log.Warn("leader: releasing the lease", "err", err)
	}
}

// RevocationCommitted tells the status service that certificates of caID changed (the
// manufacturing revocation path calls it after each committed chunk): their cached OCSP
// answers are dropped and the CA's CRL is rebuilt at once. Without the call the change feed
// gets there within the poll interval.
func (a *App) RevocationCommitted(caID string) { a.Status.Invalidate(caID) }
