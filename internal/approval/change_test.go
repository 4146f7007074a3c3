package approval

import (
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
)

var t0 = time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)

func TestChangeRuleValidate(t *testing.T) {
	groups := map[string]Group{
		"security-leads": {PartyID: "acme", Name: "security-leads", Members: []string{"a", "b", "c"}},
		"ops":            {PartyID: "acme", Name: "ops", Members: []string{"d"}},
	}
	rule := func(q ...Need) ChangeRule {
		return ChangeRule{PartyID: "acme", Kind: PolicyChange, Quorum: q, Expiry: time.Hour}
	}
	tests := []struct {
		name string
		r    ChangeRule
		want string // "" is valid
	}{
		{"2 of leads and 1 of ops", rule(Need{"security-leads", 2}, Need{"ops", 1}), ""},
		{"none", rule(), ""},
		{"any other principal", rule(Need{AnyPrincipal, 1}), ""},
		{"n above m", rule(Need{"security-leads", 4}), "n must not exceed m"},
		{"any above the others", rule(Need{AnyPrincipal, 5}), "n must not exceed m"},
		{"unknown group", rule(Need{"auditors", 1}), "no approver group"},
		{"zero approvals", rule(Need{"ops", 0}), "between 1 and"},
		{"group twice", rule(Need{"ops", 1}, Need{"ops", 1}), "twice"},
		{"bad kind", ChangeRule{PartyID: "acme", Kind: "readmit", Expiry: time.Hour}, "not one of"},
		{"short expiry", ChangeRule{PartyID: "acme", Kind: SoDChange, Expiry: time.Second}, "expiry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Validate(groups, 5)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("valid rule refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !failure.Is(err, failure.Invalid) {
				t.Fatalf("got %v, want an invalid error naming %q", err, tt.want)
			}
		})
	}
}

func newQuorumRequest(t *testing.T, proposer string) Request {
	t.Helper()
	r := ChangeRule{PartyID: "acme", Kind: PolicyChange, Expiry: time.Hour}
	seats := []Seat{{Group: "security-leads", Approvals: 2, Members: []string{"a", "b", "c"}}, {Group: "ops", Approvals: 1, Members: []string{"d"}}}
	q, err := NewChange(r, "apr-1", seats, 4, Request{RequesterParty: "acme", RequesterPrincipal: proposer, Scope: "environment:env-1", Subject: "environment:env-1", Reason: "tighten"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestQuorumTwoOfLeadsAndOneOfOps(t *testing.T) {
	q := newQuorumRequest(t, "a")
	decide := func(who string, approve bool) error {
		return q.Decide(Decision{PartyID: "acme", PrincipalID: who, Approve: approve}, t0.Add(time.Minute))
	}
	if err := decide("a", true); err == nil || !failure.Is(err, failure.Denied) {
		t.Fatalf("the proposer approved its own change: %v", err)
	}
	if err := decide("x", true); err == nil || !strings.Contains(err.Error(), "no approver group") {
		t.Fatalf("a principal outside every group approved: %v", err)
	}
	if err := q.Decide(Decision{PartyID: "globex", PrincipalID: "b", Approve: true}, t0); err == nil {
		t.Fatal("a principal of another party approved")
	}
	for _, who := range []string{"b", "d"} {
		if err := decide(who, true); err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		if q.State != Pending {
			t.Fatalf("after %s the request is %s, want pending", who, q.State)
		}
	}
	if err := decide("d", true); err == nil || !failure.Is(err, failure.Conflict) {
		t.Fatalf("d decided twice: %v", err)
	}
	if err := decide("c", true); err != nil {
		t.Fatal(err)
	}
	if q.State != Approved || len(q.Decisions) != 3 || q.Decisions[1].Group != "ops" {
		t.Fatalf("state %s decisions %+v", q.State, q.Decisions)
	}
}

func TestQuorumDenial(t *testing.T) {
	q := newQuorumRequest(t, "a")
	if err := q.Decide(Decision{PartyID: "acme", PrincipalID: "d", Approve: false}, t0); err != nil {
		t.Fatal(err)
	}
	if q.State != Denied {
		t.Fatalf("state %s, want denied", q.State)
	}
}

func TestNewChangeRefusesSelfApprovalQuorum(t *testing.T) {
	r := ChangeRule{PartyID: "acme", Kind: SoDChange, Expiry: time.Hour}
	seats := []Seat{{Group: "leads", Approvals: 2, Members: []string{"a", "b"}}}
	base := Request{RequesterParty: "acme", Reason: "r", Scope: "party:acme", Subject: "sod-rule:x"}
	base.RequesterPrincipal = "a"
	if _, err := NewChange(r, "apr-2", seats, 3, base, t0); err == nil || !strings.Contains(err.Error(), "never approves its own") {
		t.Fatalf("a quorum only the proposer could complete was accepted: %v", err)
	}
	base.RequesterPrincipal = "z"
	if _, err := NewChange(r, "apr-2", seats, 3, base, t0); err != nil {
		t.Fatalf("a proposer outside the group: %v", err)
	}
	any := []Seat{{Group: AnyPrincipal, Approvals: 1}}
	if _, err := NewChange(r, "apr-3", any, 0, base, t0); err == nil {
		t.Fatal("a party with no other principal accepted a change needing one")
	}
}
