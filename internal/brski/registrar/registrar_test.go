package registrar

import (
	"strings"
	"testing"
)

// rfc8995Status is the voucher status telemetry example of RFC 8995 section 5.7, as written
// from memory: the published text was not found here (docs/brski.md). draft42Status is the
// same example as draft-ietf-anima-bootstrapping-keyinfra-42 Figure 15 writes it, with the
// version as a string.
const draft42Status = `{"version":"1","status":false,"reason":"Informative human readable message","reason-context":{"additional":"JSON"}}`

const rfc8995Status = `{
  "version": 1,
  "status": false,
  "reason": "Informative human-readable message",
  "reason-context": { "additional" : "JSON" }
}`

func TestParseStatus(t *testing.T) {
	st, err := ParseStatus([]byte(rfc8995Status))
	if err != nil || st.Version != 1 || st.Status || st.Reason != "Informative human-readable message" || len(st.ReasonContext) == 0 {
		t.Fatalf("the RFC example: %+v, %v", st, err)
	}
	if st, err := ParseStatus([]byte(draft42Status)); err != nil || st.Version != 1 || st.Status || st.Reason != "Informative human readable message" {
		t.Fatalf("draft -42's example: %+v, %v", st, err)
	}
	for name, doc := range map[string]string{
		"no status":          `{"version": 1}`,
		"version 2":          `{"version": 2, "status": true}`,
		"version string 2":   `{"version": "2", "status": true}`,
		"unknown member":     `{"version": 1, "status": true, "colour": "red"}`,
		"duplicate member":   `{"version": 1, "status": true, "status": false}`,
		"context not object": `{"version": 1, "status": true, "reason-context": "x"}`,
		"status not boolean": `{"version": 1, "status": "true"}`,
		"not json":           `status: ok`,
		"reason too long":    `{"version": 1, "status": true, "reason": "` + strings.Repeat("x", 1025) + `"}`,
	} {
		if _, err := ParseStatus([]byte(doc)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestRequestVoucherURL(t *testing.T) {
	for in, want := range map[string]string{
		"masa.example":                           "https://masa.example/.well-known/brski/requestvoucher",
		"https://masa.example:8443":              "https://masa.example:8443/.well-known/brski/requestvoucher",
		"https://masa.example/acme/":             "https://masa.example/acme/.well-known/brski/requestvoucher",
		"https://masa.example/.well-known/brski": "https://masa.example/.well-known/brski/requestvoucher",
	} {
		if got, err := RequestVoucherURL(in); err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := RequestVoucherURL("http://masa.example"); err == nil {
		t.Error("an http MASA URL was accepted")
	}
}

// FuzzParseStatus: the telemetry parser never panics, and what it accepts is version 1.
func FuzzParseStatus(f *testing.F) {
	f.Add([]byte(rfc8995Status))
	f.Add([]byte(`{"version":1,"status":true}`))
	f.Add([]byte(`{"version":1,"status":false,"reason":"voucher expired"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseStatus(b)
		if err == nil && st.Version != 1 {
			t.Fatalf("accepted version %d", st.Version)
		}
	})
}
