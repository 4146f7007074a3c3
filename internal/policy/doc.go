// Package policy compiles and evaluates an environment's onboarding and renewal policies,
// written as named CEL (cel.dev/cel-go) rules over documented inputs (docs/policies.md).
//
// The package is pure: it does no I/O and never reads the clock; the time of a decision is
// Input.Now.
//
// Invariants:
//
//   - A policy is compiled once (Compile) and its Program evaluated many times, concurrently;
//     a Program is immutable after Compile.
//   - Compile type-checks every rule against the declared input variables and their fields:
//     an unknown variable or field, a syntax error or a rule whose type is not bool is refused
//     with a failure.Invalid error naming the rule.
//   - Evaluation is bounded: every rule runs under a cost limit (RuleCostLimit); a rule that
//     exceeds it, or that fails to evaluate for any other reason, denies. An error never allows.
//   - Every Decision records the policy version it was made under and, when it denies, the
//     name of every rule that failed with its message.
package policy
