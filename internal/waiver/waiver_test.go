package waiver

import (
	"slices"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/policy"
)

var t0 = time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC)

func TestApply(t *testing.T) {
	fw := Waiver{ID: "w1", DeviceID: "d1", Rule: "firmware", NotAfter: t0.Add(time.Hour)}
	deny := func(fs ...policy.Failure) policy.Decision { return policy.Decision{Version: 2, Failed: fs} }
	tests := []struct {
		name      string
		dec       policy.Decision
		active    []Waiver
		allowed   bool
		waived    []string
		remaining int
	}{
		{"only the waived rule denies", deny(policy.Failure{Rule: "firmware"}), []Waiver{fw}, true, []string{"firmware"}, 0},
		{"another rule denies too", deny(policy.Failure{Rule: "firmware"}, policy.Failure{Rule: "hw"}), []Waiver{fw}, false, []string{"firmware"}, 1},
		{"no waiver", deny(policy.Failure{Rule: "firmware"}), nil, false, nil, 1},
		{"a waiver of another rule", deny(policy.Failure{Rule: "hw"}), []Waiver{fw}, false, nil, 1},
		{"an evaluation error still denies", deny(policy.Failure{Rule: "firmware", Error: "no such key"}), []Waiver{fw}, false, nil, 1},
		{"allowed stays allowed", policy.Decision{Allowed: true}, []Waiver{fw}, true, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, waived := Apply(tt.dec, tt.active)
			if got.Allowed != tt.allowed || !slices.Equal(waived, tt.waived) || len(got.Failed) != tt.remaining {
				t.Fatalf("Apply = %+v waived %v, want allowed %v waived %v with %d failures", got, waived, tt.allowed, tt.waived, tt.remaining)
			}
		})
	}
}

func TestActiveAndValidate(t *testing.T) {
	w := Waiver{NotAfter: t0}
	if !w.Active(t0.Add(-time.Second)) || w.Active(t0) {
		t.Fatal("a waiver holds until, not at, its end")
	}
	ok := Request{DeviceID: "d1", Rule: "firmware", Reason: "swap", For: time.Hour}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Request{
		{Rule: "firmware", Reason: "r", For: time.Hour},
		{DeviceID: "d1", Reason: "r", For: time.Hour},
		{DeviceID: "d1", Rule: "firmware", For: time.Hour},
		{DeviceID: "d1", Rule: "firmware", Reason: "r", For: MaxLife + time.Second},
		{DeviceID: "d1", Rule: "firmware", Reason: "r", For: time.Second},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
