package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hallmark-id/hallmark/internal/maker"
	"github.com/hallmark-id/hallmark/internal/makers"
	"github.com/hallmark-id/hallmark/internal/makerstatus"
	"github.com/hallmark-id/hallmark/internal/metrics"
	"github.com/hallmark-id/hallmark/internal/operational"
)

// MakersConfig tunes the checking of devices of makers that do not run Hallmark
// (docs/external-makers.md); zero fields take makerstatus's defaults.
type MakersConfig struct {
	// WatchInterval is the time within which the leader refreshes every maker's CRLs and
	// checks every onboarded device (default 1h).
	WatchInterval time.Duration
	// Status tunes fetching and caching (timeouts, body limits, skew). Its Now and Observer
	// are set by Build.
	Status makerstatus.Config
}

// makerWatch is the status checker and watchers of makers that do not run Hallmark:
// onboarding asks the checker (operational.MakerStatus), the leader runs the periodic watcher
// every interval (its CRL fetches spread by a jitter), and POST /v1/makers/{id}/check runs a
// round of the on-demand watcher, which does not wait. Both share the checker's caches; a
// revocation found by both is recorded once (RecordRevocation is idempotent).
type makerWatch struct {
	a        *App
	checker  *makerstatus.Checker
	watcher  *makerstatus.Watcher // the leader's, every interval
	onDemand *makerstatus.Watcher // maker check: no jitter
	interval time.Duration

	mu sync.Mutex // guards devices and last
	// devices maps an (issuer ID, serial) a round asked about to its device ID, for
	// OnRevoked. The mapping of a certificate never changes, so rounds only add to it.
	devices map[string]string
	last    makerstatus.Summary
}

// fetchObserver counts fetches in the metrics.
type fetchObserver struct{ m *metrics.Registry }

func (o fetchObserver) Fetched(src makerstatus.Source, out makerstatus.Outcome, _ time.Duration, _ error) {
	o.m.MakerFetched(string(src.Kind), string(out))
}

// buildMakers wires the checker, the watcher and the makers service.
func (a *App) buildMakers(c MakersConfig, now func() time.Time) (*makerWatch, error) {
	c.Status.Now, c.Status.Observer = now, fetchObserver{a.Metrics}
	ck, err := makerstatus.New(c.Status)
	if err != nil {
		return nil, fmt.Errorf("makers: %w", err)
	}
	if c.WatchInterval <= 0 {
		c.WatchInterval = time.Hour
	}
	mw := &makerWatch{a: a, checker: ck, interval: c.WatchInterval, devices: map[string]string{}}
	if mw.watcher, err = makerstatus.NewWatcher(makerstatus.WatcherConfig{Checker: ck, Interval: c.WatchInterval, OnRevoked: mw.revoked}); err != nil {
		return nil, fmt.Errorf("makers: %w", err)
	}
	if mw.onDemand, err = makerstatus.NewWatcher(makerstatus.WatcherConfig{Checker: ck, Interval: c.WatchInterval, Jitter: time.Nanosecond, OnRevoked: mw.revoked, FreshOCSP: true}); err != nil {
		return nil, fmt.Errorf("makers: %w", err)
	}
	if err := a.Metrics.WatchMakerStatus(mw.metrics); err != nil {
		return nil, err
	}
	return mw, nil
}

var (
	_ operational.MakerStatus = (*makerWatch)(nil)
	_ makers.Refresher        = (*makerWatch)(nil)
)

// sources are a maker's explicit sources, which replace those the certificates name.
func sources(crl, ocsp []string) ([]makerstatus.Source, error) {
	var out []makerstatus.Source
	for _, u := range crl {
		s, err := makerstatus.NewSource(makerstatus.KindCRL, u)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	for _, u := range ocsp {
		s, err := makerstatus.NewSource(makerstatus.KindOCSP, u)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Check is operational.MakerStatus over the checker: Result.Decide with the maker's mode. A
// fail-open pass is logged with its warning.
func (mw *makerWatch) Check(ctx context.Context, q operational.StatusQuery) (string, error) {
	srcs, err := sources(q.CRLURLs, q.OCSPURLs)
	if err != nil {
		return "", err
	}
	res, err := mw.checker.Check(ctx, makerstatus.Query{Device: q.Device, Issuer: q.Issuer, Sources: srcs})
	if err != nil {
		return "", err
	}
	mode := makerstatus.FailClosed
	if q.Mode == maker.FailOpen {
		mode = makerstatus.FailOpen
	}
	ok, err := res.Decide(mode)
	if !ok {
		return "", err
	}
	if err != nil {
		mw.a.Log.Warn("makers: onboarding with an unknown revocation status", "serial", fmt.Sprintf("%x", q.Device.SerialNumber), "issuer", q.Issuer.Subject.String(), "warning", err.Error())
		return err.Error(), nil
	}
	return "", nil
}

// issuerID names a maker's issuing CA for the watcher.
func issuerID(makerID string, der []byte) string {
	sum := sha256.Sum256(der)
	return makerID + "/" + hex.EncodeToString(sum[:8])
}

func deviceKey(issuer, serialHex string) string { return issuer + "\x00" + serialHex }

// inputs turns the makers and the devices onboarded of them into the watcher's issuers and
// devices (only makerID's when it is set): a maker's explicit sources replace those its
// certificates name, as at onboarding.
func inputs(ms []maker.Maker, origins []maker.Origin, makerID string) ([]makerstatus.Issuer, []makerstatus.Device, map[string]string) {
	byID := map[string]maker.Maker{}
	for _, m := range ms {
		byID[m.ID] = m
	}
	issuers := map[string]*makerstatus.Issuer{}
	var order []string
	var devices []makerstatus.Device
	index := map[string]string{}
	for _, o := range origins {
		m, ok := byID[o.MakerID]
		if !ok || (makerID != "" && m.ID != makerID) {
			continue
		}
		id := issuerID(m.ID, o.Issuer.Raw)
		is := issuers[id]
		if is == nil {
			is = &makerstatus.Issuer{ID: id, Cert: o.Issuer}
			issuers[id] = is
			order = append(order, id)
		}
		explicit := len(m.CRLURLs)+len(m.OCSPURLs) > 0
		crls, ocsp := m.CRLURLs, m.OCSPURLs
		if !explicit {
			crls, ocsp = o.Factory.CRLDistributionPoints, o.Factory.OCSPServer
		}
		for _, u := range crls {
			if s, err := makerstatus.NewSource(makerstatus.KindCRL, u); err == nil && !slices.Contains(is.CRLs, s) {
				is.CRLs = append(is.CRLs, s)
			}
		}
		d := makerstatus.Device{IssuerID: id, Serial: o.Factory.SerialNumber, CRLURLs: o.Factory.CRLDistributionPoints}
		for _, u := range ocsp {
			if s, err := makerstatus.NewSource(makerstatus.KindOCSP, u); err == nil {
				d.OCSP = append(d.OCSP, s)
			}
		}
		devices = append(devices, d)
		index[deviceKey(id, o.Factory.SerialNumber.Text(16))] = o.DeviceID
	}
	out := make([]makerstatus.Issuer, 0, len(order))
	for _, id := range order {
		out = append(out, *issuers[id])
	}
	return out, devices, index
}

// Refresh runs one round of the on-demand watcher over one maker's devices ("" every
// maker's).
func (mw *makerWatch) Refresh(ctx context.Context, makerID string) (makers.Round, error) {
	return mw.round(ctx, mw.onDemand, makerID)
}

// round runs one round of w.
func (mw *makerWatch) round(ctx context.Context, w *makerstatus.Watcher, makerID string) (makers.Round, error) {
	ms, origins, err := mw.a.Makers.WatchSet(ctx)
	if err != nil {
		return makers.Round{}, fmt.Errorf("makers: loading what to watch: %w", err)
	}
	issuers, devices, index := inputs(ms, origins, makerID)
	mw.mu.Lock()
	maps.Copy(mw.devices, index)
	mw.mu.Unlock()
	s := w.Refresh(ctx, issuers, slices.Values(devices))
	mw.mu.Lock()
	mw.last = s
	mw.mu.Unlock()
	if err := mw.a.Makers.RecordSources(ctx, mw.sourceStates(ms, issuers, devices, makerID)); err != nil && ctx.Err() == nil {
		mw.a.Log.Warn("makers: keeping the state of the makers' sources for the gaps report", "err", err)
	}
	if s.Unknown > 0 || s.CallbackErrors > 0 {
		mw.a.Log.Warn("makers: status round left gaps", "devices", s.Devices, "unknown", s.Unknown, "revoked", s.Revoked, "callback_errors", s.CallbackErrors)
	}
	return mw.roundOf(s, issuers), nil
}

// sourceStates are the states of the sources a round used, by maker: the CRLs of each
// maker's issuers and the OCSP responders of its devices, as the checker last found them.
// Every maker the round covered gets an entry (none: nothing to keep), so a maker whose last
// device left the watch set stops showing gaps.
func (mw *makerWatch) sourceStates(ms []maker.Maker, issuers []makerstatus.Issuer, devices []makerstatus.Device, makerID string) map[string][]maker.SourceState {
	type key struct {
		src    makerstatus.Source
		issuer string // subject
	}
	used := map[key]string{} // -> maker ID
	makerOf := func(issuerID string) string { return issuerID[:strings.LastIndexByte(issuerID, '/')] }
	subject := map[string]string{}
	for _, is := range issuers {
		subject[is.ID] = is.Cert.Subject.String()
		for _, src := range is.CRLs {
			used[key{src, subject[is.ID]}] = makerOf(is.ID)
		}
	}
	for _, d := range devices {
		for _, src := range d.OCSP {
			used[key{src, subject[d.IssuerID]}] = makerOf(d.IssuerID)
		}
	}
	out := map[string][]maker.SourceState{}
	for _, m := range ms {
		if makerID == "" || m.ID == makerID {
			out[m.ID] = []maker.SourceState{}
		}
	}
	for _, st := range mw.checker.Sources() {
		id, ok := used[key{st.Source, st.Issuer}]
		if !ok {
			continue
		}
		out[id] = append(out[id], maker.SourceState{MakerID: id, Kind: string(st.Source.Kind), URL: st.Source.URL, Issuer: st.Issuer, Outcome: string(st.Outcome),
			Err: st.Err, LastAttempt: st.LastAttempt, LastOK: st.LastOK, HeldUntil: st.HeldNext, FailingSince: st.FailingSince})
	}
	return out
}

// roundOf is the service's view of a round and of the sources of its issuers.
func (mw *makerWatch) roundOf(s makerstatus.Summary, issuers []makerstatus.Issuer) makers.Round {
	r := makers.Round{Started: s.Started, Elapsed: s.Elapsed, CRLs: map[string]int{}, OCSP: map[string]int{}, Devices: s.Devices, ByCRL: s.ByCRL, ByOCSP: s.ByOCSP,
		Unknown: s.Unknown, Revoked: s.Revoked, Recorded: s.Reported}
	for o, n := range s.CRLs {
		r.CRLs[string(o)] = n
	}
	for o, n := range s.OCSP {
		r.OCSP[string(o)] = n
	}
	subjects := map[string]bool{}
	for _, is := range issuers {
		subjects[is.Cert.Subject.String()] = true
	}
	now := mw.a.Now()
	for _, st := range mw.checker.Sources() {
		if !subjects[st.Issuer] {
			continue
		}
		r.Sources = append(r.Sources, makers.SourceState{Kind: string(st.Source.Kind), URL: st.Source.URL, Issuer: st.Issuer, Outcome: string(st.Outcome), Err: st.Err,
			LastAttempt: st.LastAttempt, LastOK: st.LastOK, HeldNextUpdate: st.HeldNext, Gap: st.Gap(now)})
	}
	return r
}

// revoked is the watcher's OnRevoked: the device's factory certificate turned up revoked in
// its maker's CRL or OCSP answer, so the manufacturing path runs for it (suspension, cascade
// items, audit naming the evidence), and the status of the suspended certificate is
// refreshed at once.
func (mw *makerWatch) revoked(ctx context.Context, r makerstatus.RevokedDevice) error {
	mw.mu.Lock()
	id, ok := mw.devices[deviceKey(r.IssuerID, r.Serial.Text(16))]
	mw.mu.Unlock()
	if !ok {
		return fmt.Errorf("makers: revoked serial %x of %s is no device seen", r.Serial, r.IssuerID)
	}
	ev := maker.Evidence{Kind: string(r.Evidence.Source.Kind), URL: r.Evidence.Source.URL, ThisUpdate: r.Evidence.ThisUpdate, NextUpdate: r.Evidence.NextUpdate,
		Reason: makerstatus.ReasonName(r.Revocation.Reason), RevokedAt: r.Revocation.Time}
	res, err := mw.a.Makers.RecordRevocation(ctx, makers.Revocation{DeviceID: id, RevokedAt: r.Revocation.Time, Reason: r.Revocation.Reason, Evidence: ev})
	if err != nil {
		mw.a.Log.Error("makers: recording a maker's revocation", "device", id, "err", err)
		return err
	}
	if res.SuspendedCA != "" {
		mw.a.RevocationCommitted(res.SuspendedCA)
	}
	mw.a.Log.Warn("makers: the maker revoked a device's factory certificate", "device", id, "reason", ev.Reason, "evidence", ev.Kind+" "+ev.URL,
		"suspended", res.Suspended, "run", res.RunID, "already", res.Already)
	return nil
}

// run refreshes every maker every interval on the replica that leads, until ctx ends.
func (mw *makerWatch) run(ctx context.Context) {
	t := time.NewTicker(mw.interval)
	defer t.Stop()
	for {
		if _, ok := mw.a.Leader.Current(); ok {
			if _, err := mw.round(ctx, mw.watcher, ""); err != nil && ctx.Err() == nil {
				mw.a.Log.Warn("makers: status round", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// metrics reads the watcher's state for a scrape.
func (mw *makerWatch) metrics() metrics.MakerStatus {
	out := metrics.MakerStatus{Sources: map[[2]string]int{}}
	now := mw.a.Now()
	for _, st := range mw.checker.Sources() {
		state := "ok"
		if st.Gap(now) {
			state = "gap"
		}
		out.Sources[[2]string{string(st.Source.Kind), state}]++
	}
	mw.mu.Lock()
	defer mw.mu.Unlock()
	out.LastRound, out.Devices, out.Unknown, out.Revoked = mw.last.Started, mw.last.Devices, mw.last.Unknown, mw.last.Revoked
	return out
}
