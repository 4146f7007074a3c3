//go:build tools

// Package tools pins globalsign's estclient, an EST client nobody on this project wrote, for
// the interop tests in internal/app (est_test.go). It lives in a module of its own because
// github.com/globalsign/est v1.0.6 does not compile beside go-tpm v0.9 in the main module.
// The go.mod "tool" directive is what builds it:
//
//	go build -o estclient github.com/globalsign/est/cmd/estclient   # in this directory
//
// This file only records the dependency for tools that predate the tool directive.
package tools

import _ "github.com/globalsign/est/cmd/estclient"
