package refusals_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
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
	// auditco owns the deployment's operational audit cell: its principals see every refusal.
	err = st.Update(context.Background(), func(tx store.Tx) error {
		if err := tx.Parties().CreateParty(party.Party{ID: "auditco", Name: "Audit Co", Kind: party.Auditor, CreatedAt: time.Unix(0, 0)}); err != nil {
			return err
		}
		if err := tx.Ownership().SetCell(ownership.Cell{Stage: ownership.Operational, Duty: ownership.Audit, Scope: ownership.DeploymentScope, PartyID: "auditco"}, "boot", time.Unix(0, 0)); err != nil {
			return err
		}
		_, err := tx.Audit().Append(governance.Event(governance.Actor(deployAdmin()), time.Unix(0, 0), "ownership.set", ownership.Operational, "deployment:*", "party:auditco", nil))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func events(t *testing.T, st store.Store) []refusals.Detail {
	t.Helper()
	var out []refusals.Detail
	r := refusals.NewReader(st, nil)
	// An auditor sees every refusal.
	rep, err := r.Report(context.Background(), governance.Actor(auditorPrincipal()), refusals.Query{Since: time.Unix(0, 0)})
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

func auditorPrincipal() party.Principal {
	return party.Principal{ID: "audrey", PartyID: "auditco"}
}

func deployAdmin() party.Principal {
	return party.Principal{ID: "root", PartyID: party.Deployment, Admin: true}
}

// TestReportScope: an auditor sees every refusal; a party, its own principals'; the deployment
// administrator, which reads no party's devices (refusals name them), only its own.
func TestReportScope(t *testing.T) {
	st := open(t)
	rc, err := refusals.New(refusals.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	rc.Record(refusals.Refusal{PartyID: "p", PrincipalID: "u", Reason: "not-owner", Subject: "device:d1", Via: "api"})
	rc.Record(refusals.Refusal{PartyID: party.Deployment, PrincipalID: "root", Reason: "denied", Subject: "party:p", Via: "api"})
	rc.Close()
	r := refusals.NewReader(st, nil)
	for _, tc := range []struct {
		who  party.Principal
		want []string // subjects
	}{
		{auditorPrincipal(), []string{"device:d1", "party:p"}},
		{party.Principal{ID: "u2", PartyID: "p"}, []string{"device:d1"}},
		{party.Principal{ID: "padm", PartyID: "p", Admin: true}, []string{"device:d1"}},
		{deployAdmin(), []string{"party:p"}},
	} {
		rep, err := r.Report(context.Background(), governance.Actor(tc.who), refusals.Query{Since: time.Unix(0, 0)})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range rep.Entries {
			got = append(got, e.Subject)
		}
		if fmt.Sprint(sortedCopy(got)) != fmt.Sprint(tc.want) {
			t.Errorf("%s/%s sees refusals about %v, want %v", tc.who.PartyID, tc.who.ID, got, tc.want)
		}
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	slices.Sort(out)
	return out
}
