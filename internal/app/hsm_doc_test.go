//go:build pkcs11 && cgo

package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHSMCeremonyDoc runs docs/ceremony.md as an operator would paste it: every ```sh block,
// in order, in one bash with -euo pipefail, with a hallmark built with -tags pkcs11 on the
// PATH, against SoftHSM2 tokens the script makes itself. It keeps the document runnable.
func TestHSMCeremonyDoc(t *testing.T) {
	for _, tool := range []string{"openssl", "curl", "bash", "softhsm2-util"} {
		requireTool(t, tool)
	}
	dir := t.TempDir()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bctx, bcancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer bcancel()
	build := exec.CommandContext(bctx, "go", "build", "-tags", "pkcs11", "-o", filepath.Join(dir, "hallmark"), "./cmd/hallmark")
	build.Dir, build.Env, build.WaitDelay = root, append(os.Environ(), "CGO_ENABLED=1"), 10*time.Second
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags pkcs11: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	script := "set -euo pipefail\n" + shBlocks(t, filepath.Join(root, "docs", "ceremony.md"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "TMPDIR="+dir, fmt.Sprintf("PORT=%d", port),
		"HALLMARK_SERVER=", "HALLMARK_TOKEN=", "HALLMARK_CACERT=", "HALLMARK_HSM_PIN=")
	// The script starts a server in the background: a process group lets the test end it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// When the script fails, bash exits but the server it started in the background still
	// holds the output pipe: wait at most 5 s for the output after bash has exited (or the
	// deadline passed), then close the pipe, so that a failing document fails the test at once
	// instead of at the go test timeout.
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if errors.Is(err, exec.ErrWaitDelay) { // bash succeeded; something it left held the pipe
		t.Logf("the script's output pipe stayed open after it exited: %v", err)
		err = nil
	}
	if err != nil {
		t.Fatalf("docs/ceremony.md failed: %v\n--- script\n%s\n--- output\n%s", err, script, out)
	}
	t.Logf("docs/ceremony.md output:\n%s", out)
	for _, want := range []string{"root key: pkcs11:token=acme-root;id=", "issuing key: pkcs11:token=hallmark;id=", "issuing.pem: OK",
		`"step":"sign"`, "acme-issuing-2026", "dev.pem: OK"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the ceremony's output lacks %q:\n%s", want, out)
		}
	}
}

// shBlocks returns every ```sh block of a Markdown file, in order.
func shBlocks(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		switch line := sc.Text(); {
		case line == "```sh":
			in = true
		case in && line == "```":
			in = false
		case in:
			b.WriteString(line + "\n")
		}
	}
	if b.Len() == 0 {
		t.Fatalf("no sh block in %s", path)
	}
	return b.String()
}
