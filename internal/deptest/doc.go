// Package deptest holds the test of Hallmark's dependency directions (deps_test.go), in the
// manner of tailscale's tstest/deptest: one table classifies every package of the module into
// a layer, and one table of rules says which layer or package may not depend on what, and why.
// The test reads `go list -deps -json ./...` and checks each package's whole dependency closure,
// not only its direct imports, so a rule cannot be broken one import away.
//
// A package that is not classified fails the test until it is added to the table; so does a
// table entry naming a package that no longer exists. The package has no code of its own.
package deptest
