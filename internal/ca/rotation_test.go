package ca_test

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/failure"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time { v := t0.Add(d); return &v }

// TestStandingCheck: a CA signs until a whole-CA revocation, and after a succession until the
// end of its overlap; its OCSP responder certificates it signs for as long as it lives.
func TestStandingCheck(t *testing.T) {
	for _, tc := range []struct {
		name       string
		s          ca.Standing
		now        time.Time
		statusOnly bool
		ok         bool
	}{
		{"active", ca.Standing{ID: "ca-1"}, t0, false, true},
		{"retired", ca.Standing{ID: "ca-1", RetiredAt: at(-time.Hour)}, t0, false, false},
		{"retired, even its responder", ca.Standing{ID: "ca-1", RetiredAt: at(-time.Hour)}, t0, true, false},
		{"in the overlap", ca.Standing{ID: "ca-1", SuccessorID: "ca-2", IssuesUntil: at(time.Minute)}, t0, false, true},
		{"at the end of the overlap", ca.Standing{ID: "ca-1", SuccessorID: "ca-2", IssuesUntil: at(0)}, t0, false, false},
		{"after the overlap", ca.Standing{ID: "ca-1", SuccessorID: "ca-2", IssuesUntil: at(-time.Second)}, t0, false, false},
		{"after the overlap, its responder", ca.Standing{ID: "ca-1", SuccessorID: "ca-2", IssuesUntil: at(-time.Hour)}, t0, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Check(tc.now, tc.statusOnly)
			if (err == nil) != tc.ok {
				t.Fatalf("Check = %v, want ok %t", err, tc.ok)
			}
			if err != nil && !failure.Is(err, failure.Conflict) {
				t.Fatalf("Check = %v, want a conflict", err)
			}
		})
	}
}

// TestStatusAt names each phase of a CA's life.
func TestStatusAt(t *testing.T) {
	cert := &x509.Certificate{NotAfter: t0.Add(365 * 24 * time.Hour)}
	for _, tc := range []struct {
		name      string
		c         ca.CA
		now       time.Time
		want      ca.Status
		inService bool
	}{
		{"active", ca.CA{Role: ca.Issuing, Cert: cert}, t0, ca.StatusActive, true},
		{"anchor", ca.CA{Role: ca.Anchor, Cert: cert}, t0, ca.StatusAnchor, true},
		{"overlap", ca.CA{Role: ca.Issuing, Cert: cert, SuccessorID: "ca-2", IssuesUntil: at(time.Hour)}, t0, ca.StatusOverlap, false},
		{"succeeded", ca.CA{Role: ca.Issuing, Cert: cert, SuccessorID: "ca-2", IssuesUntil: at(time.Hour)}, t0.Add(time.Hour), ca.StatusSucceeded, false},
		{"retired", ca.CA{Role: ca.Issuing, Cert: cert, RetiredAt: at(0)}, t0, ca.StatusRetired, false},
		{"expired", ca.CA{Role: ca.Issuing, Cert: cert}, cert.NotAfter, ca.StatusExpired, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.StatusAt(tc.now); got != tc.want {
				t.Errorf("StatusAt = %q, want %q", got, tc.want)
			}
			if got := tc.c.InService(tc.now); got != tc.inService {
				t.Errorf("InService = %t, want %t", got, tc.inService)
			}
		})
	}
}

// TestExpiryLevelAt: each threshold applies from exactly its number of days left.
func TestExpiryLevelAt(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		left time.Duration
		want ca.ExpiryLevel
	}{
		{365 * day, ca.LevelNone},
		{90*day + time.Second, ca.LevelNone},
		{90 * day, ca.Level90Days},
		{31 * day, ca.Level90Days},
		{30 * day, ca.Level30Days},
		{7*day + time.Second, ca.Level30Days},
		{7 * day, ca.Level7Days},
		{time.Second, ca.Level7Days},
		{0, ca.LevelExpired},
		{-day, ca.LevelExpired},
	} {
		if got := ca.ExpiryLevelAt(t0.Add(tc.left), t0); got != tc.want {
			t.Errorf("ExpiryLevelAt(%s left) = %q, want %q", tc.left, got, tc.want)
		}
	}
}
