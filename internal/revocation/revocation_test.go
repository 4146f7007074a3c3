package revocation

import "testing"

func TestPaths(t *testing.T) {
	tests := []struct {
		path Path
		name string
		ok   bool
	}{
		{Runtime, "keyCompromise", true},
		{Runtime, "KEYCOMPROMISE", true},
		{Runtime, "cACompromise", false}, // an operator cannot claim a CA compromise
		{Runtime, "certificateHold", false},
		{Manufacturing, "cACompromise", true},
		{Manufacturing, "privilegeWithdrawn", false},
		{Manufacturing, "certificateHold", false},
		{Manufacturing, "removeFromCRL", false},
		{Runtime, "sunspots", false},
	}
	for _, tc := range tests {
		t.Run(string(tc.path)+"/"+tc.name, func(t *testing.T) {
			_, err := Parse(tc.path, tc.name)
			if (err == nil) != tc.ok {
				t.Fatalf("Parse(%s, %s) = %v, want ok=%v", tc.path, tc.name, err, tc.ok)
			}
		})
	}
}
