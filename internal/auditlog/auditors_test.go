package auditlog_test

import (
	"errors"
	"testing"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/auditlog"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

func TestAuditorReads(t *testing.T) { eachStore(t, testAuditorReads) }

// testAuditorReads checks that every read for an actor lets in a deployment administrator and
// the party holding a deployment audit cell, refuses everyone else with Denied, and signs
// nothing for a refused actor.
func testAuditorReads(t *testing.T, st store.Store) {
	err := st.Update(ctx, func(tx store.Tx) error {
		for _, p := range []party.Party{
			{ID: "audits", Name: "Audits", Kind: party.Auditor, CreatedAt: t0},
			{ID: "acme", Name: "Acme", Kind: party.Manufacturer, CreatedAt: t0},
		} {
			if err := tx.Parties().CreateParty(p); err != nil {
				return err
			}
		}
		if err := tx.Ownership().SetCell(ownership.Cell{Stage: ownership.Operational, Duty: ownership.Audit, Scope: ownership.DeploymentScope, PartyID: "audits"}, "prn_admin", t0); err != nil {
			return err
		}
		_, err := tx.Audit().Append(audit.Event{At: t0, PartyID: "ops", PrincipalID: "prn_admin", Action: "ownership.set", Stage: "operational", Scope: "deployment:*", Subject: "party:audits"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	appendEvents(t, st, 5)
	svc := newService(t, st, newKey(t))

	// The deployment administrator reads no party's devices, which the log names: it is
	// refused like a manufacturer, and so is a party's administrator without an audit cell.
	admin := audit.Actor{PartyID: party.Deployment, PrincipalID: "prn_admin", Admin: true}
	acmeAdmin := audit.Actor{PartyID: "acme", PrincipalID: "prn_acme_admin", Admin: true}
	auditor := audit.Actor{PartyID: "audits", PrincipalID: "prn_aud"}
	maker := audit.Actor{PartyID: "acme", PrincipalID: "prn_acme"}

	reader := func(a audit.Actor) (auditlog.Reader, error) { return svc.ReaderFor(ctx, a) }
	reads := map[string]func(a audit.Actor) error{
		"events": func(a audit.Actor) error { _, err := svc.Events(ctx, a, 0, 0); return err },
		"reader": func(a audit.Actor) error { _, err := reader(a); return err },
	}
	// What a Reader reads: each must work for a reader handed out, and fail for the zero one.
	readerReads := map[string]func(r auditlog.Reader) error{
		"latest checkpoint": func(r auditlog.Reader) error { _, err := r.Checkpoint(ctx, false); return err },
		"fresh checkpoint":  func(r auditlog.Reader) error { _, err := r.Checkpoint(ctx, true); return err },
		"inclusion":         func(r auditlog.Reader) error { _, err := r.InclusionProof(ctx, 1, 0); return err },
		"consistency":       func(r auditlog.Reader) error { _, err := r.ConsistencyProof(ctx, 2, 0); return err },
		"leaves":            func(r auditlog.Reader) error { _, err := r.LeafHashes(ctx, 0, 5); return err },
	}
	for name, read := range readerReads {
		if err := read(auditlog.Reader{}); failure.KindOf(err) != failure.Denied {
			t.Errorf("%s through the zero Reader: got %v, want Denied", name, err)
		}
	}
	for who, a := range map[string]audit.Actor{"a manufacturer with no audit cell": maker, "the deployment administrator": admin, "the manufacturer's administrator": acmeAdmin} {
		for name, read := range reads {
			if err := read(a); failure.KindOf(err) != failure.Denied {
				t.Errorf("%s by %s: got %v, want Denied", name, who, err)
			}
		}
	}
	// Nothing was signed for the refused actor, nor through the zero Reader (both checkpoint
	// reads sign when none exists).
	err = st.View(ctx, func(tx store.Tx) error {
		_, err := tx.AuditTree().LatestCheckpoint()
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after refused reads, the latest checkpoint: %v, want none", err)
	}
	for who, a := range map[string]audit.Actor{"auditor": auditor} {
		for name, read := range reads {
			if err := read(a); err != nil {
				t.Errorf("%s by the %s: %v", name, who, err)
			}
		}
		r, err := reader(a)
		if err != nil {
			continue
		}
		for name, read := range readerReads {
			if err := read(r); err != nil {
				t.Errorf("%s by the %s: %v", name, who, err)
			}
		}
	}
}

func TestAuditorEventsPages(t *testing.T) { eachStore(t, testAuditorEventsPages) }

// testAuditorEventsPages checks Events' after and limit, and that a limit out of range means
// MaxEvents.
func testAuditorEventsPages(t *testing.T, st store.Store) {
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Parties().CreateParty(party.Party{ID: "audits", Name: "Audits", Kind: party.Auditor, CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.Ownership().SetCell(ownership.Cell{Stage: ownership.Operational, Duty: ownership.Audit, Scope: ownership.DeploymentScope, PartyID: "audits"}, "prn_admin", t0); err != nil {
			return err
		}
		_, err := tx.Audit().Append(audit.Event{At: t0, PartyID: party.Deployment, PrincipalID: "prn_admin", Action: "ownership.set", Stage: "operational", Scope: "deployment:*", Subject: "party:audits"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	appendEvents(t, st, 6) // 7 events with the cell's
	svc := newService(t, st, newKey(t))
	admin := audit.Actor{PartyID: "audits", PrincipalID: "prn_aud"} // an auditor

	all, err := svc.Events(ctx, admin, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 7 {
		t.Fatalf("all events: got %d, want 7", len(all))
	}
	page, err := svc.Events(ctx, admin, all[2].Seq, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 3 || page[0].Seq != all[3].Seq || page[2].Seq != all[5].Seq {
		t.Errorf("3 events after #%d: got %d events starting %+v", all[2].Seq, len(page), page)
	}
	over, err := svc.Events(ctx, admin, 0, auditlog.MaxEvents+1)
	if err != nil || len(over) != 7 {
		t.Errorf("limit MaxEvents+1: got %d events, %v; want all 7", len(over), err)
	}
}
