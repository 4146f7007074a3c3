package policy

import (
	"os"
	"testing"
	"time"
)

var testNow = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// onboardingInput is a realistic, healthy device arriving at an environment.
func onboardingInput() Input {
	return Input{
		Now: testNow,
		Device: Device{
			ID: "dev-01HZX", Serial: "SN-0001", State: "registered", Manufacturer: "acme",
			Model: "gw-200", Lot: "lot-2026-07", Custodian: "op-northgrid",
		},
		Factory: Factory{
			Serial: "5A1F00C3D2E4B6A7", Issuer: "CN=Acme Manufacturing Issuing CA,O=Acme",
			NotBefore:    time.Date(2025, 11, 2, 0, 0, 0, 0, time.UTC),
			NotAfter:     time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
			SHA256:       "9f2c6a1e0b7d4c3a2f1e0d9c8b7a69584736251403f2e1d0c9b8a79685746352",
			HardwareType: "2.25.311912459201393751683117652386208733751",
		},
		BuildRecord: BuildRecord{
			Manufacturer: "acme", Model: "gw-200", HardwareRevision: "B", Serial: "SN-0001",
			Lot: "lot-2026-07", Line: "line-3",
			FirmwareDigest: "c0ffee00112233445566778899aabbccddeeff00112233445566778899aabbcc",
			Components: []Component{
				{Name: "tpm", Version: "7.2.3", SHA256: "aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11"},
				{Name: "bootloader", Version: "2.1.0", SHA256: "bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22"},
			},
			TestResult: "pass",
			BuiltAt:    time.Date(2025, 11, 2, 13, 4, 0, 0, time.UTC),
		},
		Facts: Facts{
			FirmwareDigest:   "C0FFEE00112233445566778899AABBCCDDEEFF00112233445566778899AABBCC",
			HardwareRevision: "B",
			Extra:            map[string]string{"secure_boot": "on"},
		},
		Environment: Environment{
			ID: "env-plant-a", Name: "plant-a-ot", Site: "plant-a", Zone: "cell-4", Operator: "op-northgrid",
			Services: []string{"mqtt", "opc-ua"}, MaxLifetime: 24 * time.Hour, MaxAge: 72 * time.Hour,
		},
	}
}

// renewalInput is the same device, active, renewing a 20-hour-old operational certificate.
func renewalInput() Input {
	in := onboardingInput()
	in.Device.State = "active"
	in.Operational = &Operational{
		Serial: "7E3B9C01AA", IssuedAt: testNow.Add(-20 * time.Hour), NotAfter: testNow.Add(4 * time.Hour), Renewals: 3,
	}
	return in
}

func mustCompile(t testing.TB, s *Spec, version int) *Program {
	t.Helper()
	p, err := Compile(s, version)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return p
}

func failedNames(d Decision) []string {
	var names []string
	for _, f := range d.Failed {
		names = append(names, f.Rule)
	}
	return names
}

// loadSpec parses a policy of testdata.
func loadSpec(t testing.TB, name string) *Spec {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSpec(data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
