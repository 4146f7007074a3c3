package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/strictjson"
)

// Limits on a policy document.
const (
	MaxSpecBytes = 64 << 10 // the JSON document
	MaxRules     = 64
	MaxExprBytes = 4 << 10 // one rule's expression, and RequireApproval
	MaxMessage   = 1 << 10 // one rule's message
)

var ruleName = regexp.MustCompile(`^[a-z0-9-]{1,63}$`)

// Rule is one named CEL expression of type bool. The policy allows only when every rule is
// true. Message, when set, is what a denial reports for the rule; otherwise the expression is.
type Rule struct {
	Name    string `json:"name"`
	Expr    string `json:"expr"`
	Message string `json:"message,omitempty"`
}

// Spec is a policy document: rules that must all hold and, optionally, a CEL bool expression
// that, when every rule holds and it is true, turns the decision into "approval required".
type Spec struct {
	Rules           []Rule `json:"rules"`
	RequireApproval string `json:"require_approval,omitempty"`
}

// ParseSpec decodes a policy document strictly: unknown fields, trailing data, a document over
// MaxSpecBytes and a spec that breaks the limits of Validate are refused (failure.Invalid, or
// failure.TooLarge for the size). It does not compile the rules; Compile does.
func ParseSpec(data []byte) (*Spec, error) {
	if len(data) > MaxSpecBytes {
		return nil, failure.New(failure.TooLarge, "policy: document is %d bytes; the limit is %d", len(data), MaxSpecBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "policy: not a valid policy document")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, failure.New(failure.Invalid, "policy: unexpected data after the policy document")
	}
	if err := checkKeys(data); err != nil {
		return nil, failure.New(failure.Invalid, "policy: %v", err)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Validate checks the limits of a spec without compiling it: 1 to MaxRules rules, unique names
// matching [a-z0-9-]{1,63}, non-empty expressions of at most MaxExprBytes, messages of at most
// MaxMessage bytes. Errors are failure.Invalid and name the rule.
func (s *Spec) Validate() error {
	if s == nil {
		return failure.New(failure.Invalid, "policy: no policy")
	}
	if len(s.Rules) == 0 {
		return failure.New(failure.Invalid, "policy: a policy needs at least one rule")
	}
	if len(s.Rules) > MaxRules {
		return failure.New(failure.Invalid, "policy: %d rules; the limit is %d", len(s.Rules), MaxRules)
	}
	seen := make(map[string]bool, len(s.Rules))
	for i, r := range s.Rules {
		if !ruleName.MatchString(r.Name) {
			return failure.New(failure.Invalid, "policy: rule %d: name %q must match [a-z0-9-]{1,63}", i+1, r.Name)
		}
		if seen[r.Name] {
			return failure.New(failure.Invalid, "policy: rule %q: the name is used twice", r.Name)
		}
		seen[r.Name] = true
		if err := checkExpr(r.Expr); err != nil {
			return failure.New(failure.Invalid, "policy: rule %q: %v", r.Name, err)
		}
		if len(r.Message) > MaxMessage {
			return failure.New(failure.Invalid, "policy: rule %q: message is %d bytes; the limit is %d", r.Name, len(r.Message), MaxMessage)
		}
	}
	if s.RequireApproval != "" {
		if err := checkExpr(s.RequireApproval); err != nil {
			return failure.New(failure.Invalid, "policy: require_approval: %v", err)
		}
	}
	return nil
}

// knownKeys are the field names of Spec and Rule, spelled exactly.
var knownKeys = map[string]bool{"rules": true, "require_approval": true, "name": true, "expr": true, "message": true}

// checkKeys refuses what encoding/json lets through: a field name in another case ("Expr") and
// a field given twice in one object (internal/strictjson).
func checkKeys(data []byte) error { return strictjson.CheckKeys(data, knownKeys) }

func checkExpr(e string) error {
	switch {
	case e == "":
		return errors.New("expression is empty")
	case len(e) > MaxExprBytes:
		return fmt.Errorf("expression is %d bytes; the limit is %d", len(e), MaxExprBytes)
	}
	return nil
}

// DefaultOnboarding is the onboarding policy an environment gets when its operator sets none:
// the factory identity is current and not revoked, the build record passed its test and names
// the device, what the device reports (when it reports it) matches the build record, and the
// device is registered or released. A device of a maker that does not run Hallmark has no
// build record: the build-record rules pass it, and its maker's policy (internal/maker)
// decides what its certificate must show.
func DefaultOnboarding() *Spec {
	return &Spec{Rules: []Rule{
		{Name: "factory-not-revoked", Expr: `!factory.revoked`,
			Message: "the factory identity is revoked"},
		{Name: "factory-current", Expr: `factory.not_before <= now && now < factory.not_after`,
			Message: "the factory certificate is not valid now"},
		{Name: "build-test-passed", Expr: `device.origin == "external" || build_record.test_result == "pass"`,
			Message: "the build record does not record a passed test"},
		{Name: "build-record-names-device", Expr: `device.origin == "external" || build_record.serial == device.serial`,
			Message: "the build record names another serial"},
		{Name: "firmware-matches-build", Expr: `device.origin == "external" || facts.firmware_digest == "" || facts.firmware_digest == build_record.firmware_digest`,
			Message: "the reported firmware differs from the build record's"},
		{Name: "hardware-matches-build", Expr: `device.origin == "external" || facts.hardware_revision == "" || facts.hardware_revision == build_record.hardware_revision`,
			Message: "the reported hardware revision differs from the build record's"},
		{Name: "device-onboardable", Expr: `device.state in ["registered", "released"] || (device.state == "active" && has(operational.serial) && operational.not_after <= now)`,
			Message: "the device is not registered or released, nor active with a lapsed operational certificate"},
	}}
}

// DefaultRenewal is the renewal policy an environment gets when its operator sets none: the
// device is active, its operational identity is younger than the environment's maximum age,
// and its factory identity is not revoked.
func DefaultRenewal() *Spec {
	return &Spec{Rules: []Rule{
		{Name: "device-active", Expr: `device.state == "active"`,
			Message: "the device is not active"},
		{Name: "within-max-age", Expr: `has(operational.serial) && operational.age < environment.max_age`,
			Message: "the operational identity is older than the environment's maximum age; onboard again"},
		{Name: "factory-not-revoked", Expr: `!factory.revoked`,
			Message: "the factory identity is revoked"},
	}}
}
