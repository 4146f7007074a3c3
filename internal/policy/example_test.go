package policy_test

import (
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/internal/policy"
)

// A renewal policy is parsed and compiled once, when the operator stores it, and then
// evaluated for every renewal with that day's facts and the time read at the edge.
func Example() {
	spec, err := policy.ParseSpec([]byte(`{
	  "rules": [
	    {"name": "device-active", "expr": "device.state == \"active\""},
	    {"name": "within-max-age", "expr": "operational.age < environment.max_age",
	     "message": "the operational identity is too old; onboard again"},
	    {"name": "firmware-unchanged", "expr": "facts.firmware_digest == build_record.firmware_digest"}
	  ]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	prog, err := policy.Compile(spec, 3)
	if err != nil {
		fmt.Println(err)
		return
	}

	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	in := policy.Input{
		Now:         now,
		Device:      policy.Device{ID: "dev-1", Serial: "SN-0001", State: "active"},
		BuildRecord: policy.BuildRecord{Serial: "SN-0001", FirmwareDigest: "c0ffee", TestResult: "pass"},
		Facts:       policy.Facts{FirmwareDigest: "C0FFEE"},
		Environment: policy.Environment{ID: "env-plant-a", MaxLifetime: 24 * time.Hour, MaxAge: 72 * time.Hour},
		Operational: &policy.Operational{Serial: "7e3b", IssuedAt: now.Add(-20 * time.Hour)},
	}
	d := prog.Evaluate(in)
	fmt.Println(d.Outcome(), "under version", d.Version)

	in.Operational.IssuedAt = now.Add(-80 * time.Hour) // offline for days
	in.Facts.FirmwareDigest = "badbad"
	d = prog.Evaluate(in)
	fmt.Println(d.Outcome(), "under version", d.Version)
	for _, f := range d.Failed {
		fmt.Printf("  %s: %s\n", f.Rule, f.Message)
	}
	fmt.Println(d.Err())
	// Output:
	// allow under version 3
	// deny under version 3
	//   within-max-age: the operational identity is too old; onboard again
	//   firmware-unchanged: facts.firmware_digest == build_record.firmware_digest
	// policy v3 denied: rule within-max-age (the operational identity is too old; onboard again); rule firmware-unchanged (facts.firmware_digest == build_record.firmware_digest)
}
