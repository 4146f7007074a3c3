package buildrecord

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/strictjson"
)

// Record is what the factory asserts about one device: the in-toto predicate of a build record.
type Record struct {
	Manufacturer     string      `json:"manufacturer"`     // manufacturer party name
	Model            string      `json:"model"`            // model name
	HardwareRevision string      `json:"hardwareRevision"` // optional
	Serial           string      `json:"serial"`           // device serial, as in the certificate subject serialNumber
	Lot              string      `json:"lot"`              // lot name
	Line             string      `json:"line"`             // production line; optional
	Components       []Component `json:"components"`       // at most MaxComponents, unique names
	FirmwareDigest   Digest      `json:"firmwareDigest"`   // the firmware image installed at the factory
	TestResult       string      `json:"testResult"`       // TestPass or TestFail
	BuiltAt          time.Time   `json:"builtAt"`          // RFC 3339
}

// Component is one part of the device, identified by name and content digest.
type Component struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Digest  Digest `json:"digest"`
}

// Digest is an in-toto digest set restricted to one algorithm: {"sha256": "<64 lowercase hex>"}.
type Digest struct {
	SHA256 string `json:"sha256"`
}

// Test results.
const (
	TestPass = "pass"
	TestFail = "fail"
)

// Field limits, in bytes. They keep any valid record's statement under MaxPayloadSize.
const (
	maxTextLen      = 128 // manufacturer, model
	maxShortTextLen = 64  // hardware revision, component name and version
)

// idPattern is the charset of serials, lots and lines: safe in file names, URLs, certificate
// subjects and log lines without quoting.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// ParseRecord decodes a build record strictly (unknown, duplicate or case-folded keys and
// trailing data are refused) and validates it. Inputs over MaxRecordSize are failure.TooLarge;
// every other problem is failure.Invalid.
func ParseRecord(data []byte) (*Record, error) {
	if len(data) > MaxRecordSize {
		return nil, failure.New(failure.TooLarge, "build record: %d bytes is over the limit of %d", len(data), MaxRecordSize)
	}
	var r Record
	if err := decodeStrict(data, &r, recordKeys); err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "build record: malformed JSON")
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Validate checks the record's rules and returns a failure.Invalid error naming the first field
// that breaks one.
func (r *Record) Validate() error {
	checks := []error{
		text("manufacturer", r.Manufacturer, maxTextLen, true),
		text("model", r.Model, maxTextLen, true),
		text("hardwareRevision", r.HardwareRevision, maxShortTextLen, false),
		ident("serial", r.Serial, true),
		ident("lot", r.Lot, true),
		ident("line", r.Line, false),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	if len(r.Components) > MaxComponents {
		return invalid("components", "%d components; at most %d are allowed", len(r.Components), MaxComponents)
	}
	seen := make(map[string]int, len(r.Components))
	for i, c := range r.Components {
		at := fmt.Sprintf("components[%d]", i)
		if err := text(at+".name", c.Name, maxShortTextLen, true); err != nil {
			return err
		}
		if j, dup := seen[c.Name]; dup {
			return invalid(at+".name", "%q is also the name of components[%d]", c.Name, j)
		}
		seen[c.Name] = i
		if err := text(at+".version", c.Version, maxShortTextLen, false); err != nil {
			return err
		}
		if err := c.Digest.validate(at + ".digest"); err != nil {
			return err
		}
	}
	if err := r.FirmwareDigest.validate("firmwareDigest"); err != nil {
		return err
	}
	if r.TestResult != TestPass && r.TestResult != TestFail {
		return invalid("testResult", "%q is not %q or %q", r.TestResult, TestPass, TestFail)
	}
	if r.BuiltAt.IsZero() {
		return invalid("builtAt", "missing")
	}
	if y := r.BuiltAt.Year(); y < 1 || y > 9999 {
		return invalid("builtAt", "year %d is outside 0001-9999", y)
	}
	return nil
}

func (d Digest) validate(field string) error {
	if !isHex64(d.SHA256) {
		return invalid(field+".sha256", "not 64 lowercase hex characters")
	}
	return nil
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func invalid(field, format string, args ...any) error {
	return failure.New(failure.Invalid, "build record: %s: %s", field, fmt.Sprintf(format, args...))
}

// text checks a free-text field: valid UTF-8, no control characters, no surrounding space.
func text(field, s string, maxLen int, required bool) error {
	switch {
	case s == "" && required:
		return invalid(field, "missing")
	case s == "":
		return nil
	case len(s) > maxLen:
		return invalid(field, "%d bytes; at most %d are allowed", len(s), maxLen)
	case !utf8.ValidString(s):
		return invalid(field, "not valid UTF-8")
	case strings.TrimSpace(s) != s:
		return invalid(field, "leading or trailing white space")
	}
	for _, c := range s {
		if unicode.IsControl(c) || c == '\u2028' || c == '\u2029' {
			return invalid(field, "contains the control character %U", c)
		}
	}
	return nil
}

// ident checks a serial, lot or line against idPattern.
func ident(field, s string, required bool) error {
	switch {
	case s == "" && required:
		return invalid(field, "missing")
	case s == "":
		return nil
	case !idPattern.MatchString(s):
		return invalid(field, "%q must be 1-64 letters, digits or . _ : -", s)
	}
	return nil
}

// Object keys of the JSON documents this package decodes, exactly as spelled.
var (
	recordKeys = keySet("manufacturer", "model", "hardwareRevision", "serial", "lot", "line",
		"components", "name", "version", "digest", "sha256", "firmwareDigest", "testResult", "builtAt")
	statementKeys = keySet(append([]string{"_type", "subject", "predicateType", "predicate"}, keysOf(recordKeys)...)...)
)

func keySet(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

func keysOf(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// decodeStrict decodes one JSON value into v, refusing unknown fields, trailing data, and any
// object key that is not spelled exactly as one of known or that repeats within its object.
// encoding/json matches keys case-insensitively and keeps the last of duplicates; other readers
// do not, so for signed data those are refused rather than interpreted.
func decodeStrict(data []byte, v any, known map[string]bool) error {
	if err := checkKeys(data, known); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// checkKeys refuses keys not spelled exactly as known, and duplicates (internal/strictjson).
func checkKeys(data []byte, known map[string]bool) error { return strictjson.CheckKeys(data, known) }
