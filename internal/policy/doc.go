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
//   - Evaluation is bounded: one evaluation of all rules spends at most one cost budget
//     (DefaultBudget unless CompileBudget is given another) and stops when the request's
//     context ends; a rule that spends the rest of the budget, that is not run for want of
//     budget or context, or that fails to evaluate for any other reason, denies. An error
//     never allows. CheckBudget refuses, when a policy is set, one whose static worst case
//     exceeds the budget.
//   - Every Decision records the policy version it was made under and, when it denies, the
//     name of every rule that failed with a bounded excerpt (MaxExcerpt) of its message; a
//     denial's text (Summary, Err) is a few KiB at most however large the policy.
//   - A Cache holds at most its size of compiled programs and compiles each key once at a
//     time, without blocking other keys.
package policy
