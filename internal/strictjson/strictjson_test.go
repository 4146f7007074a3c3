package strictjson

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
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

// fuzzKnown is the key set of FuzzCheckKeys: the test's keys and those of the build-record
// statements in its seeds, so that the seeds pass and a mutation can make a key unknown.
var fuzzKnown = map[string]bool{"a": true, "b": true, "c": true, "é": true, "ſerial": true}

// FuzzCheckKeys holds CheckKeys to walkTokens, the encoding/json token walk it reads invalid
// JSON with and read everything with before: the same answer, error text included, for
// any input. Seeds: TestCheckKeys's documents, keys with escapes and non-ASCII, and the
// build-record statements of internal/buildrecord/testdata.
func FuzzCheckKeys(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":[{"a":2},{"c":{}}],"c":{"a":[]}}`, `{}`, `{"a":1,"d":2}`, `{"A":1}`,
		`{"b":[{"x":1}]}`, `{"a":1,"a":2}`, `{"b":[{"a":1},{"a":2}]}`, `{"a":`, ``, ` `, `"a"`, `[1,"a",{"a":"b"}]`,
		`{"\u0061":1,"a":2}`, `{"\u00e9":1}`, `{"é":1,"\u00e9":2}`, "{\"\xff\":1}", `{"a\"b":1}`, `{"a\\":1}`,
		`{"a":"}","b":"{\"c\":1}"}`, `{"a":[{"b":{"c":[]}}],"b":{"a":{"a":1}}}`, `{} {}`, `{"a":1}x`, `[{"a":1,"a":1}]`,
	} {
		f.Add([]byte(s))
	}
	envs, _ := filepath.Glob("../buildrecord/testdata/envelope-*.json")
	for _, name := range envs {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		var env struct{ Payload string }
		if err := json.Unmarshal(raw, &env); err != nil {
			f.Fatal(err)
		}
		payload, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			f.Fatal(err)
		}
		keys, err := keysOf(payload)
		if err != nil {
			f.Fatal(err)
		}
		maps.Copy(fuzzKnown, keys)
		f.Add(payload)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, want := CheckKeys(data, fuzzKnown), walkTokens(data, fuzzKnown)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("CheckKeys(%q) = %v; the token walk gives %v", data, got, want)
		}
	})
}

// keysOf is the set of every object key of the JSON document data.
func keysOf(data []byte) (map[string]bool, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, x := range t {
				keys[k] = true
				walk(x)
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	walk(v)
	return keys, nil
}

// BenchmarkCheckKeys reads a build-record statement (1 KiB) with CheckKeys and with the
// token walk it replaces for valid JSON.
func BenchmarkCheckKeys(b *testing.B) {
	raw, err := os.ReadFile("../buildrecord/testdata/envelope-ecdsa-p256.json")
	if err != nil {
		b.Fatal(err)
	}
	var env struct{ Payload []byte }
	if err := json.Unmarshal(raw, &env); err != nil {
		b.Fatal(err)
	}
	known, err := keysOf(env.Payload)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		check func([]byte, map[string]bool) error
	}{{"CheckKeys", CheckKeys}, {"walkTokens", walkTokens}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.check(env.Payload, known); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
