package strictjson

import (
	"strings"
	"testing"
)

func TestCheckKeys(t *testing.T) {
	known := map[string]bool{"a": true, "b": true, "c": true}
	tests := []struct {
		name, doc, err string
	}{
		{"ok", `{"a":1,"b":[{"a":2},{"c":{}}],"c":{"a":[]}}`, ""},
		{"empty", `{}`, ""},
		{"unknown", `{"a":1,"d":2}`, `unknown field "d"`},
		{"other case", `{"A":1}`, `unknown field "A"`},
		{"nested unknown", `{"b":[{"x":1}]}`, `unknown field "x"`},
		{"duplicate", `{"a":1,"a":2}`, `duplicate field "a"`},
		{"same key in two objects", `{"b":[{"a":1},{"a":2}]}`, ""},
		{"syntax", `{"a":`, "EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckKeys([]byte(tc.doc), known)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("CheckKeys(%s) = %v, want %q", tc.doc, err, tc.err)
			}
		})
	}
}
