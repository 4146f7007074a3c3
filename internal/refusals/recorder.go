// Package refusals records the refusals of authenticated callers as audit events, so that a
// denial leaves a trace in the Merkle log and not only in a log line (issue 17).
//
// The two edges call Record: the REST API (internal/httpapi) for every refused request of an
// authenticated principal whose error names a rule or is of kind denied, and EST
// (internal/est) for every 4xx answered to a client that presented a TLS certificate.
//
// Invariants:
//   - Refusals are coalesced in memory per (party, principal, subject, reason, rule) and
//     window: the first refusal of a key opens a window of Config.Window (default one minute);
//     when it ends, one audit event (action "refusal") records the count and the first and last
//     times. A flood therefore costs at most one event per key per window.
//   - At most Config.MaxPending keys are held at once; a refusal beyond that is folded into one
//     key per reason and rule with principal and subject "*", so memory stays bounded too.
//   - Counts (Counts, hallmark_refusals_total) are per refusal, at once, not coalesced.
//   - Each replica coalesces its own refusals: N replicas write at most N events per key and
//     window. Events of a window still open when the process stops are written by Close.
//   - Recording never fails the refused request: a write that fails is logged and retried at
//     the next flush, and dropped only if it fails again after Close.
package refusals

import (
	"context"
	"errors"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Action is the audit action of a refusal event.
const Action = store.RefusalAction

// Refusal is one refused request of an authenticated caller.
type Refusal struct {
	At          time.Time
	PartyID     string // the caller's party; for EST, resolved from Label when empty
	PrincipalID string
	Via         string // "api" or "est"
	Reason      string // see Classify
	Rule        string // the rule that failed, "" when the error names none
	// Subject is what was refused: "device:<id>" when known, else "certificate:<serial hex>"
	// (resolved to its device when written), else the operation.
	Subject   string
	Label     string // the EST label, to find the environment's operator
	Operation string // method and route pattern, e.g. "POST /v1/devices/{id}/revoke"
	Message   string // the refusal as the caller was told it, cut to 512 bytes
}

// Detail is the detail of a refusal audit event.
type Detail struct {
	Reason      string    `json:"reason"`
	Rule        string    `json:"rule,omitempty"`
	Count       int64     `json:"count"`
	FirstAt     time.Time `json:"first_at"`
	LastAt      time.Time `json:"last_at"`
	Via         string    `json:"via"`
	Operation   string    `json:"operation,omitempty"`
	Certificate string    `json:"certificate,omitempty"`
	Message     string    `json:"message,omitempty"`
}

// Classify returns the reason and rule of a refusal error: the reason is "not-owner" (an
// ownership cell), "sod" (separation of duties), "policy" (an environment policy),
// "manifest" (a manifest check) when the error names such a rule, and otherwise the failure
// kind's name ("denied", "invalid", "not-found", ...).
func Classify(err error) (reason, rule string) {
	rule = failure.RuleOf(err)
	switch {
	case strings.HasPrefix(rule, "ownership:"):
		return "not-owner", rule
	case strings.HasPrefix(rule, "sod:"):
		return "sod", rule
	case strings.HasPrefix(rule, "policy:"):
		return "policy", rule
	case strings.HasPrefix(rule, "manifest."):
		return "manifest", rule
	}
	return failure.KindOf(err).String(), rule
}

// Config holds a Recorder's collaborators.
type Config struct {
	Store store.Store
	// Window is how long refusals of one key are coalesced; default one minute.
	Window time.Duration
	// MaxPending bounds the keys held at once; default 10000.
	MaxPending int
	Now        func() time.Time // default time.Now
	Log        *slog.Logger     // default slog.Default()
}

type key struct{ party, principal, subject, reason, rule string }

type pending struct {
	r           Refusal // the first refusal of the window
	count       int64
	first, last time.Time
}

// Recorder coalesces refusals and writes them as audit events. It is safe for concurrent use.
type Recorder struct {
	st     store.Store
	window time.Duration
	max    int
	now    func() time.Time
	log    *slog.Logger

	mu      sync.Mutex
	pending map[key]*pending
	counts  map[string]int64
}

// New returns a Recorder; start Run to write events.
func New(c Config) (*Recorder, error) {
	if c.Store == nil {
		return nil, errors.New("refusals: Store is required")
	}
	if c.Window <= 0 {
		c.Window = time.Minute
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 10000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return &Recorder{st: c.Store, window: c.Window, max: c.MaxPending, now: c.Now, log: c.Log,
		pending: map[key]*pending{}, counts: map[string]int64{}}, nil
}

// Record counts r and adds it to its window. It never blocks on the store.
func (rc *Recorder) Record(r Refusal) {
	if r.At.IsZero() {
		r.At = rc.now()
	}
	if len(r.Message) > 512 {
		r.Message = r.Message[:512]
	}
	k := key{r.PartyID, r.PrincipalID, r.Subject, r.Reason, r.Rule}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.counts[r.Reason]++
	p, ok := rc.pending[k]
	if !ok && len(rc.pending) >= rc.max {
		k = key{"", "*", "*", r.Reason, r.Rule}
		r.PartyID, r.PrincipalID, r.Subject, r.Label = "", "*", "*", ""
		p, ok = rc.pending[k]
	}
	if !ok {
		p = &pending{r: r, first: r.At}
		rc.pending[k] = p
	}
	p.count++
	p.last = r.At
}

// Counts returns the refusals recorded by this process since it started, by reason.
func (rc *Recorder) Counts() map[string]int64 {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string]int64, len(rc.counts))
	for k, v := range rc.counts {
		out[k] = v
	}
	return out
}

// Flush writes one event for each window that ended by now (every window when all is set),
// in one transaction. On failure the windows are kept for the next flush.
func (rc *Recorder) Flush(ctx context.Context, all bool) error {
	now := rc.now()
	rc.mu.Lock()
	due := map[key]*pending{}
	for k, p := range rc.pending {
		if all || now.Sub(p.first) >= rc.window {
			due[k] = p
			delete(rc.pending, k)
		}
	}
	rc.mu.Unlock()
	if len(due) == 0 {
		return nil
	}
	err := rc.st.Update(ctx, func(tx store.Tx) error {
		for _, p := range due {
			if _, err := tx.Audit().Append(rc.event(tx, p)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		rc.mu.Lock()
		for k, p := range due {
			if cur, ok := rc.pending[k]; ok {
				cur.count += p.count
				cur.first = p.first
			} else {
				rc.pending[k] = p
			}
		}
		rc.mu.Unlock()
		return err
	}
	return nil
}

// event builds the audit event of a window, naming the device of a presented certificate and
// the operator of an EST label where the store knows them.
func (rc *Recorder) event(tx store.Tx, p *pending) audit.Event {
	r := p.r
	d := Detail{Reason: r.Reason, Rule: r.Rule, Count: p.count, FirstAt: p.first, LastAt: p.last, Via: r.Via, Operation: r.Operation, Message: r.Message}
	if hex, ok := strings.CutPrefix(r.Subject, "certificate:"); ok {
		d.Certificate = hex
		if n, ok := new(big.Int).SetString(hex, 16); ok {
			if c, err := tx.Certificates().GetCert(n); err == nil && c.DeviceID != "" {
				r.Subject = "device:" + c.DeviceID
			}
		}
	}
	scope := ""
	if r.Label != "" {
		if env, err := tx.Environments().EnvironmentByLabel(r.Label); err == nil {
			scope = "environment:" + env.ID
			if r.PartyID == "" {
				r.PartyID = env.OperatorID
			}
		}
	}
	return audit.Event{At: p.last, PartyID: r.PartyID, PrincipalID: r.PrincipalID, Action: Action, Scope: scope, Subject: r.Subject, Detail: audit.Detail(d)}
}

// Run flushes ended windows every tick until ctx ends, then flushes every window (Close).
func (rc *Recorder) Run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			rc.Close()
			return
		case <-t.C:
			if err := rc.Flush(ctx, false); err != nil && ctx.Err() == nil {
				rc.log.Error("refusals: writing audit events", "err", err)
			}
		}
	}
}

// Close writes every open window, within ten seconds.
func (rc *Recorder) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rc.Flush(ctx, true); err != nil {
		rc.log.Error("refusals: writing the last audit events; they are lost", "err", err)
	}
}
