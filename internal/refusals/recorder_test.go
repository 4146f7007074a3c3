package refusals_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/operational"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/refusals"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// clock is a test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func open(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func events(t *testing.T, st store.Store) []refusals.Detail {
	t.Helper()
	var out []refusals.Detail
	r := refusals.NewReader(st, nil)
	// An administrator sees every refusal.
	rep, err := r.Report(context.Background(), governance.Actor(adminPrincipal()), refusals.Query{Since: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range rep.Entries {
		out = append(out, e.Detail)
	}
	return out
}

func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		name         string
		err          error
		reason, rule string
	}{
		{"ownership", fmt.Errorf("step: %w", &ownership.DeniedError{Stage: ownership.Operational, Duty: ownership.Revoke}), "not-owner", "ownership:operational/revoke"},
		{"sod", &governance.SoDConflictError{Rule: "R1"}, "sod", "sod:R1"},
		{"policy", &operational.PolicyDenied{Kind: "onboarding", Rule: "fw"}, "policy", "policy:onboarding/fw"},
		{"plain denied", failure.New(failure.Denied, "no"), "denied", ""},
		{"invalid", failure.New(failure.Invalid, "bad"), "invalid", ""},
		{"unclassified", errors.New("x"), "internal", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if r, ru := refusals.Classify(tt.err); r != tt.reason || ru != tt.rule {
				t.Errorf("Classify = %q %q, want %q %q", r, ru, tt.reason, tt.rule)
			}
		})
	}
}

// TestCoalesce: refusals of one key in one window make one event with their count and
// times; another key makes its own; nothing is written before the window ends.
func TestCoalesce(t *testing.T) {
	st := open(t)
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	rc, err := refusals.New(refusals.Config{Store: st, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 50 {
		rc.Record(refusals.Refusal{PartyID: "p", PrincipalID: "u", Reason: "not-owner", Rule: "ownership:operational/revoke", Subject: "device:d1", Via: "api"})
		c.add(time.Second)
	}
	rc.Record(refusals.Refusal{PartyID: "p", PrincipalID: "u", Reason: "denied", Subject: "device:d1", Via: "api"})
	if err := rc.Flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	if ev := events(t, st); len(ev) != 0 {
		t.Fatalf("events written before the window ended: %+v", ev)
	}
	c.add(11 * time.Second) // the first window (opened 61 s ago) ended; the second did not
	if err := rc.Flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	ev := events(t, st)
	if len(ev) != 1 || ev[0].Count != 50 || ev[0].Reason != "not-owner" || ev[0].LastAt.Sub(ev[0].FirstAt) != 49*time.Second {
		t.Fatalf("after the first window: %+v", ev)
	}
	rc.Close()
	if ev := events(t, st); len(ev) != 2 {
		t.Fatalf("Close did not write the open window: %+v", ev)
	}
	if got := rc.Counts(); got["not-owner"] != 50 || got["denied"] != 1 {
		t.Errorf("Counts = %v", got)
	}
}

// TestBounded: beyond MaxPending keys, refusals fold into one key per reason and rule.
func TestBounded(t *testing.T) {
	st := open(t)
	rc, err := refusals.New(refusals.Config{Store: st, MaxPending: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		rc.Record(refusals.Refusal{PartyID: "p", PrincipalID: fmt.Sprint("u", i), Reason: "denied", Subject: fmt.Sprint("device:d", i), Via: "est"})
	}
	rc.Close()
	ev := events(t, st)
	if len(ev) != 11 {
		t.Fatalf("1000 keys with MaxPending 10 made %d events, want 11", len(ev))
	}
	var total int64
	for _, e := range ev {
		total += e.Count
	}
	if total != 1000 {
		t.Errorf("counts add up to %d, want 1000", total)
	}
}

func adminPrincipal() party.Principal {
	return party.Principal{ID: "admin", PartyID: "hallmark", Admin: true}
}
