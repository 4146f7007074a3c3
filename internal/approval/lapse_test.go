package approval

import (
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// TestApprovedRequestLapsesUnused: an approved request whose action has not run lapses as
// long after its approval as it had to be decided in: it is consumed until then, and after
// it is expired (not consumed, not cancelled), keeping the time of its approval; a request
// consumed in time stays executed for good.
func TestApprovedRequestLapsesUnused(t *testing.T) {
	rule := Rule{Kind: Readmit, Approvers: 1, Expiry: 72 * time.Hour}
	approved := func(t *testing.T, at time.Time) Request {
		t.Helper()
		q, err := New(rule, "apr_1", Request{RequesterParty: "op", RequesterPrincipal: "p1", ApproverParty: "op", Scope: "environment:e", Subject: "device:d", Reason: "back from repair"}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Decide(Decision{PartyID: "op", PrincipalID: "p2", Approve: true}, at); err != nil || q.State != Approved {
			t.Fatalf("approving: %v, state %s", err, q.State)
		}
		return q
	}
	decided := t0.Add(70 * time.Hour) // approved just before the request itself would have expired
	q := approved(t, decided)
	by, ok := q.ExecuteBy()
	if !ok || !by.Equal(decided.Add(72*time.Hour)) {
		t.Fatalf("ExecuteBy = %s, %v; want 72 h after the approval, %s", by, ok, decided.Add(72*time.Hour))
	}
	if q.Expire(by.Add(-time.Second)) || q.State != Approved {
		t.Fatalf("a second before ExecuteBy the request is %s", q.State)
	}
	if err := q.Consume(Readmit, "device:d", by.Add(-time.Second)); err != nil || q.State != Executed {
		t.Fatalf("consuming in time: %v, state %s", err, q.State)
	}
	if q.Expire(by.Add(time.Hour)) || q.State != Executed {
		t.Fatalf("an executed request lapsed: %s", q.State)
	}

	q = approved(t, decided)
	err := q.Consume(Readmit, "device:d", by)
	if !failure.Is(err, failure.Conflict) || !strings.Contains(err.Error(), "lapsed unused") || q.State != Expired || q.ExecutedAt != nil {
		t.Fatalf("consuming at ExecuteBy: %v, state %s; want a conflict naming the lapse, expired", err, q.State)
	}
	if q.DecidedAt == nil || !q.DecidedAt.Equal(decided) {
		t.Fatalf("the lapsed request's decision time is %v, want the approval's %s", q.DecidedAt, decided)
	}
	if _, ok := q.ExecuteBy(); ok {
		t.Fatal("a lapsed request still has an ExecuteBy")
	}

	q = approved(t, decided)
	if err := q.Cancel("op", by.Add(time.Minute)); !failure.Is(err, failure.Conflict) || q.State != Expired {
		t.Fatalf("cancelling a lapsed approval: %v, state %s; want a conflict, expired", err, q.State)
	}
	q = approved(t, decided)
	if !q.Expire(by) || q.State != Expired {
		t.Fatalf("Expire at ExecuteBy left the request %s", q.State)
	}
}
