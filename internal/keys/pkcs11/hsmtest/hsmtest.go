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
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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

// Remote serves a SoftHSM token over a Unix socket with p11-kit's server, as a network HSM
// is reached: the client module (ClientModule) talks to the server, and stopping the server
// is an HSM that disappears. The process's P11_KIT_SERVER_ADDRESS points the client at it.
type Remote struct {
	Socket string
	label  string
	cmd    *exec.Cmd
	t      testing.TB
}

// ClientModule returns the path of p11-kit's client module, failing (CI) or skipping the test
// when p11-kit is not installed.
func ClientModule(t testing.TB) string {
	t.Helper()
	m, _ := filepath.Glob("/usr/lib/*/pkcs11/p11-kit-client.so")
	_, err := exec.LookPath("p11-kit")
	if len(m) == 1 && err == nil {
		return m[0]
	}
	msg := "p11-kit's server and client module are not installed (apt-get install p11-kit p11-kit-modules)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI must install them")
	}
	t.Skip(msg)
	return ""
}

// StartRemote serves token label over a socket in a test folder and sets
// P11_KIT_SERVER_ADDRESS for the test. Stop and Start stop and restart the server on the
// same socket; the test's cleanup stops it.
func StartRemote(t *testing.T, label string) *Remote {
	t.Helper()
	ClientModule(t)
	r := &Remote{Socket: filepath.Join(t.TempDir(), "p11.sock"), label: label, t: t}
	t.Setenv("P11_KIT_SERVER_ADDRESS", "unix:path="+r.Socket)
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// Start runs the server and waits (bounded) until its socket exists.
func (r *Remote) Start() {
	r.t.Helper()
	_ = os.Remove(r.Socket)
	r.cmd = exec.Command("p11-kit", "server", "-f", "-n", r.Socket, "--provider", Module, "pkcs11:token="+r.label)
	r.cmd.Stdout, r.cmd.Stderr = io.Discard, os.Stderr
	// The server forks a process per client connection: a group of its own lets Stop end them all.
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("p11-kit server: %v", err)
	}
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(r.Socket); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.t.Fatal("p11-kit server: no socket after 5s")
}

// Stop kills the server and the processes serving its connections, as a power cut would.
func (r *Remote) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	_ = r.cmd.Wait()
	r.cmd = nil
}
