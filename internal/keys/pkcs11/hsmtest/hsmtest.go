// Package hsmtest runs SoftHSM2 tokens for tests of the PKCS#11 key backend: real tokens in a
// throwaway folder, made with softhsm2-util as an operator would make them.
//
// SoftHSM reads its configuration (SOFTHSM2_CONF) when a process first initialises it, so a
// test binary points it at one folder for its whole run: call Main from TestMain. Tokens made
// during the run (Token) appear to modules already initialised.
package hsmtest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Module is the SoftHSM2 PKCS#11 library Debian's softhsm2 package installs.
const Module = "/usr/lib/softhsm/libsofthsm2.so"

// SOPIN is the security officer PIN of every test token.
const SOPIN = "5678"

// dir is this process's token folder; empty until Main ran.
var dir string

// Main points SoftHSM at a fresh token folder, runs the tests and removes the folder.
func Main(m *testing.M) {
	code := func() int {
		d, err := os.MkdirTemp("", "hallmark-softhsm-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "hsmtest:", err)
			return 1
		}
		defer os.RemoveAll(d)
		if err := os.Mkdir(filepath.Join(d, "tokens"), 0o700); err != nil {
			fmt.Fprintln(os.Stderr, "hsmtest:", err)
			return 1
		}
		conf := filepath.Join(d, "softhsm2.conf")
		body := "directories.tokendir = " + filepath.Join(d, "tokens") + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			fmt.Fprintln(os.Stderr, "hsmtest:", err)
			return 1
		}
		os.Setenv("SOFTHSM2_CONF", conf)
		dir = d
		return m.Run()
	}()
	os.Exit(code)
}

// Require skips the test when SoftHSM2 is not installed, or fails it when CI is set: CI
// installs it (.ci/run), so a missing SoftHSM there is a broken CI, not a reason to skip.
func Require(t testing.TB) {
	t.Helper()
	_, errMod := os.Stat(Module)
	_, errUtil := exec.LookPath("softhsm2-util")
	if errMod == nil && errUtil == nil {
		return
	}
	msg := "SoftHSM2 is not installed (apt-get install softhsm2)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI must install it")
	}
	t.Skip(msg)
}

// Token initialises a new token labelled prefix-<random> with a random user PIN and returns
// the label and the PIN.
func Token(t testing.TB, prefix string) (label, pin string) {
	t.Helper()
	Require(t)
	if dir == "" {
		t.Fatal("hsmtest: call hsmtest.Main from TestMain first")
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	label = prefix + "-" + hex.EncodeToString(b[:])
	_, _ = rand.Read(b[:])
	pin = "pin-" + hex.EncodeToString(b[:])
	out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", SOPIN, "--pin", pin).CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v: %s", err, out)
	}
	return label, pin
}

// Dir is the token folder of this run.
func Dir() string { return dir }

// PKCS11Tool runs OpenSC's pkcs11-tool against SoftHSM (an outside client of the same token)
// and returns its output.
func PKCS11Tool(t testing.TB, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("pkcs11-tool"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pkcs11-tool is not installed (apt-get install opensc); CI must install it")
		}
		t.Skip("pkcs11-tool is not installed (apt-get install opensc)")
	}
	out, err := exec.Command("pkcs11-tool", append([]string{"--module", Module}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
