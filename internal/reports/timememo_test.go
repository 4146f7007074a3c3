package reports_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/reports"
	"github.com/hallmark-id/hallmark/internal/store"
)

// TestTimedReportsIncremental: a Service that remembers its summary, expiring and rotation
// reports (a snapshot round's caller, ReuseUnchanged) answers, at every step of a fleet's life
// (nothing changing; time passing across certificates' ends, the expiring windows and
// rotation's max_age with no row changing; a renewal, a revocation with quarantine, a new
// device, its onboarding, a custody transfer, an environment's max_age changed), for each of
// four parties, exactly what a new Service computes from the store at the same instant; and it
// does reuse reports, so the comparison covers the reuse.
func TestTimedReportsIncremental(t *testing.T) { onStores(t, testTimedReportsIncremental) }

func testTimedReportsIncremental(t *testing.T, st store.Store) {
	ctx := context.Background()
	// fillFleet: 40 devices in env-0..9 (max_age 24h), current certificates issued 0 to 35 hours
	// before benchNow and ending 24 hours after issue; every 20th quarantined.
	if err := fillFleet(ctx, st, 40); err != nil {
		t.Fatal(err)
	}
	now := benchNow.Add(10 * time.Minute) // the fleet's instants are on whole hours (and 1µs after)
	clock := func() time.Time { return now }
	inc := reports.New(st, clock)
	reuse := reports.ReuseUnchanged(ctx)
	actors := []audit.Actor{{PartyID: "aud", PrincipalID: "x"}, {PartyID: "op1", PrincipalID: "y"}, {PartyID: "op2", PrincipalID: "z"}, {PartyID: "acme", PrincipalID: "w"}}
	trend := reports.TrendOptions{Since: 30 * 24 * time.Hour, Every: 24 * time.Hour}
	// views are every report of svc's under ctx, by party and report, as JSON.
	views := func(svc *reports.Service, ctx context.Context) map[string]string {
		out := map[string]string{}
		put := func(name string, v any, err error) {
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			b, _ := json.Marshal(v)
			out[name] = string(b)
		}
		for _, a := range actors {
			s, err := svc.Summary(ctx, a)
			put(a.PartyID+" summary", s, err)
			for _, w := range []time.Duration{7 * 24 * time.Hour, 30 * 24 * time.Hour} {
				e, err := svc.Expiring(ctx, a, w)
				put(fmt.Sprintf("%s expiring %v", a.PartyID, w), e, err)
			}
			r, err := svc.Rotation(ctx, a, trend)
			put(a.PartyID+" rotation", r, err)
		}
		return out
	}
	// step compares the remembering Service with a new one; reused says whether every report
	// must have been reused (true), computed again (false), or either (nil).
	step := func(name string, reused *bool) {
		t.Helper()
		before := inc.TimedWork()
		got, want := views(inc, reuse), views(reports.New(st, clock), ctx)
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s: %s differs from a full computation:\n got %s\nwant %s", name, k, got[k], w)
			}
		}
		after := inc.TimedWork()
		n := int64(len(actors) * 4)
		switch {
		case reused == nil:
		case *reused && after.Reused-before.Reused != n:
			t.Errorf("%s: %d of %d reports reused, want all", name, after.Reused-before.Reused, n)
		case *reused && after.Timelines-before.Timelines > 1:
			t.Errorf("%s: %d timelines read, want at most one a round", name, after.Timelines-before.Timelines)
		case !*reused && after.Computed-before.Computed != n:
			t.Errorf("%s: %d of %d reports computed, want all", name, after.Computed-before.Computed, n)
		}
	}
	yes, no := true, false
	serial := int64(1) << 40
	change := func(name string, fn func(tx store.Tx) error) {
		t.Helper()
		err := st.Update(ctx, func(tx store.Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			_, err := tx.Audit().Append(audit.Event{At: now, PartyID: "p", PrincipalID: "x", Action: "test." + name})
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// renew gives device id a new operational certificate issued now and ending after life.
	renew := func(id string, life time.Duration) {
		t.Helper()
		change("renew", func(tx store.Tx) error {
			d, err := tx.Devices().GetDevice(id)
			if err != nil {
				return err
			}
			serial++
			s := big.NewInt(serial)
			if err := issue(tx, s, id, "operational", now, now.Add(life), []byte{1}); err != nil {
				return err
			}
			if err := tx.Evidence().CreateEvidence(environment.Evidence{Serial: ca.SerialHex(s), DeviceID: id, EnvironmentID: d.EnvironmentID, Kind: "renew", BasedOn: d.OperationalCert,
				FactorySerial: d.FactoryCert, Protocol: "est", PolicyKind: environment.Renewal, PolicyVersion: 1, PrincipalID: "x", Facts: json.RawMessage(`{}`), CreatedAt: now}); err != nil {
				return err
			}
			next := d
			next.OperationalCert, next.UpdatedAt = ca.SerialHex(s), now
			return tx.Devices().UpdateDevice(next, d)
		})
	}

	step("first round", &no)
	step("unchanged", &yes)
	now = now.Add(time.Minute)
	step("a minute later, nothing ends", &yes)
	now = benchNow.Add(90 * time.Minute) // dev-23's certificate ended at +1h; dev-12's issue plus max_age passed
	step("time alone crossed an end", &no)
	step("unchanged again", &yes)

	// The renewals' instants are on odd minutes, apart from the fleet's (whole hours) and from
	// each other, so each crossing below is of one kind alone.
	renewedAt := now
	renew("dev-0000001", 10*24*time.Hour+7*time.Minute)  // enters the 7-day window after 3 days 7 minutes
	renew("dev-0000002", 40*24*time.Hour+13*time.Minute) // the 30-day window after 10 days 13 minutes
	renew("dev-0000003", 36*time.Hour+17*time.Minute)    // the summary's 24-hour window after 12 hours 17 minutes
	renew("dev-0000006", 5*time.Hour+20*time.Minute)     // released below: still valid for 5 hours 20 minutes
	change("release", func(tx store.Tx) error {
		d, err := tx.Devices().GetDevice("dev-0000006")
		if err != nil {
			return err
		}
		next := d
		next.State, next.UpdatedAt = device.Released, now
		return tx.Devices().UpdateDevice(next, d)
	})
	step("renewed", &no)
	change("revoke", func(tx store.Tx) error { // dev-0000004 revoked and quarantined
		d, err := tx.Devices().GetDevice("dev-0000004")
		if err != nil {
			return err
		}
		n, _ := new(big.Int).SetString(d.OperationalCert, 16)
		if err := tx.Certificates().Revoke(n, 1, now); err != nil {
			return err
		}
		next := d
		next.State, next.UpdatedAt = device.Quarantined, now
		return tx.Devices().UpdateDevice(next, d)
	})
	step("revoked", &no)
	change("register", func(tx store.Tx) error {
		serial++
		d := device.Device{ID: "dev-new", ManufacturerID: "acme", ModelID: "m1", LotID: "l1", Serial: "SN-new", State: device.Registered, CustodianID: "acme",
			FactoryCert: ca.SerialHex(big.NewInt(serial)), CreatedAt: now, UpdatedAt: now}
		if err := tx.Devices().CreateDevice(d); err != nil {
			return err
		}
		return issue(tx, big.NewInt(serial), d.ID, "factory", now, now.Add(365*24*time.Hour), []byte{1})
	})
	step("factory issuance", &no)
	change("onboard", func(tx store.Tx) error {
		d, err := tx.Devices().GetDevice("dev-new")
		if err != nil {
			return err
		}
		serial++
		s := big.NewInt(serial)
		if err := issue(tx, s, d.ID, "operational", now, now.Add(48*time.Hour), []byte{1}); err != nil {
			return err
		}
		if err := tx.Evidence().CreateEvidence(environment.Evidence{Serial: ca.SerialHex(s), DeviceID: d.ID, EnvironmentID: "env-3", Kind: "onboard", BasedOn: d.FactoryCert,
			FactorySerial: d.FactoryCert, Protocol: "est", PolicyKind: environment.Onboarding, PolicyVersion: 1, PrincipalID: "x", Facts: json.RawMessage(`{}`), CreatedAt: now}); err != nil {
			return err
		}
		next := d
		next.State, next.CustodianID, next.EnvironmentID, next.OperationalCert, next.UpdatedAt = device.Active, "op1", "env-3", ca.SerialHex(s), now
		return tx.Devices().UpdateDevice(next, d)
	})
	step("onboarded", &no)
	change("transfer", func(tx store.Tx) error { // dev-0000005 (env-5, op2) passes to op1: out of op2's operational scope
		d, err := tx.Devices().GetDevice("dev-0000005")
		if err != nil {
			return err
		}
		next := d
		next.CustodianID, next.UpdatedAt = "op1", now
		return tx.Devices().UpdateDevice(next, d)
	})
	step("custody transferred", &no)
	change("max-age", func(tx store.Tx) error {
		e, err := tx.Environments().GetEnvironment("env-1")
		if err != nil {
			return err
		}
		e.MaxAge = environment.Duration(48 * time.Hour)
		return tx.Environments().UpdateEnvironment(e)
	})
	step("max_age doubled", &no)
	step("unchanged after changes", &yes)

	// Time alone from here: each instant is crossed by a step of two minutes (well within
	// driftRecheck), the round before it reusing every report.
	for _, c := range []struct {
		name string
		at   time.Time
	}{
		// No remembered report counts still-valid certificates (the store's Summary does, for
		// the standards mapping), so this crossing must change nothing.
		{"a released device's certificate ends", renewedAt.Add(5*time.Hour + 20*time.Minute)},
		{"dev-3 enters the summary's 24-hour window", renewedAt.Add(12*time.Hour + 17*time.Minute)},
		{"the renewals pass max_age", renewedAt.Add(24 * time.Hour)},
		{"dev-1 enters the 7-day window", renewedAt.Add(3*24*time.Hour + 7*time.Minute)},
		{"dev-2 enters the 30-day window", renewedAt.Add(10*24*time.Hour + 13*time.Minute)},
	} {
		now = c.at.Add(-2 * time.Minute)
		step(c.name+": before", nil)
		now = c.at.Add(-time.Minute)
		step(c.name+": just before", &yes)
		now = c.at.Add(time.Minute)
		step(c.name, nil)
	}
	step("unchanged at the end", &yes)

	// A timeline read under one mark serves no report of another: the round above read one
	// whose next instant is weeks ahead; a renewal then brings one within the hour.
	renew("dev-0000007", 7*24*time.Hour+time.Hour+11*time.Minute)
	crossing := now.Add(time.Hour + 11*time.Minute)
	now = now.Add(time.Minute)
	step("renewed late", &no)
	now = crossing.Add(time.Minute)
	step("the late renewal enters the 7-day window", nil)

	// A timeline read after an instant serves no report computed before it: op1's summary,
	// asked alone before dev-13 enters the 24-hour window, then the auditor's, asked twice
	// after it (the second reads a timeline), then op1's again.
	renew("dev-0000013", 24*time.Hour+37*time.Minute)
	crossing = now.Add(37 * time.Minute)
	summary := func(svc *reports.Service, ctx context.Context, party string) string {
		t.Helper()
		v, err := svc.Summary(ctx, audit.Actor{PartyID: party, PrincipalID: "x"})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	now = crossing.Add(-7 * time.Minute)
	summary(inc, reuse, "op1")
	now = crossing.Add(time.Minute)
	summary(inc, reuse, "aud")
	now = crossing.Add(2 * time.Minute)
	summary(inc, reuse, "aud")
	if got, want := summary(inc, reuse, "op1"), summary(reports.New(st, clock), ctx, "op1"); got != want {
		t.Errorf("op1's summary computed before an instant, asked after it:\n got %s\nwant %s", got, want)
	}

	now = now.Add(-time.Hour) // a clock set back
	step("clock set back", &no)
	if w := inc.TimedWork(); w.Reused == 0 || w.Computed == 0 {
		t.Errorf("work = %+v: the test did not exercise both paths", w)
	}
}
