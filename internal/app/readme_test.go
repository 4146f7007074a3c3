package app

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadmeWalkthrough runs the README's walkthrough as a new user would paste it: every
// ```sh block under a "Walkthrough" heading, in order, in bash with -euo pipefail, against a
// real `hallmark serve --dev` built from this tree. It keeps the README true.
func TestReadmeWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the whole walkthrough")
	}
	for _, tool := range []string{"openssl", "curl", "bash", "python3"} {
		requireTool(t, tool)
	}
	dir := t.TempDir()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "hallmark"), "./cmd/hallmark")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	srv := exec.CommandContext(ctx, filepath.Join(dir, "hallmark"), "serve", "--dev", "--data", filepath.Join(dir, "hallmark-data"), "--listen", "127.0.0.1:0")
	srv.Dir = dir
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var info DevInfo
		if b, err := os.ReadFile(filepath.Join(dir, "hallmark-data", "dev.json")); err == nil && json.Unmarshal(b, &info) == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the dev server did not start within 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	script := "set -euo pipefail\n" + walkthrough(t, filepath.Join(root, "README.md"))
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = dir
	// hallmark login keeps its session in the user's config folder: a folder of the test's.
	cmd.Env = append(os.Environ(), "HALLMARK_SERVER=", "HALLMARK_TOKEN=", "HALLMARK_CACERT=", "XDG_CONFIG_HOME="+t.TempDir())
	// The walkthrough starts a web server in the background (the other maker's CRL); its
	// process group ends with the test, even when the walkthrough fails before it stops it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	defer func() {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the walkthrough failed: %v\n--- script\n%s\n--- output\n%s", err, script, out)
	}
	for _, want := range []string{
		"factory.pem: OK", "notAfter=Dec 31 23:59:59 9999 GMT", "build record OK", "op.pem: OK", "renewal policy v2 denied: rule firmware-matches",
		"dry run: nothing changed", "operational-suspended", "suspended",
		"Reason: certificateHold", "enrolled: operational certificate", "device-2/operational.pem: OK", "est3.pem: OK",
		"eve.pem: OK", "Allowed:", "is revoked", "refused, exit 8",
		"custody moves only once the holder releases it", "no longer held by operator contoso", "renewal refused, exit 22",
		"external: maker sensors-inc", "Factory state:", "Revoked by the maker:", "keyCompromise at",
		"overlap", "expired at", "needs an administrator of that party", "acme/ci-legacy",
		"by oscar of contoso", "is now in state registered",
		"a dev sign-in", "signed out, exit",
		"serial_number=SN-T1", "external: maker acme", "Revoked by the maker:     keyCompromise",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the walkthrough's output lacks %q:\n%s", want, out)
		}
	}
}

// walkthrough returns the sh blocks under the README's Walkthrough headings, without the
// lines that build or start the server (the test has done both).
func walkthrough(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	in, inBlock := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			in = strings.HasPrefix(line, "## Walkthrough")
		case in && line == "```sh":
			inBlock = true
		case inBlock && line == "```":
			inBlock = false
		case inBlock:
			if strings.HasPrefix(line, "go build ") || strings.HasPrefix(line, "go run ") {
				continue
			}
			b.WriteString(line + "\n")
		}
	}
	if b.Len() == 0 {
		t.Fatal("no walkthrough found in README.md")
	}
	return b.String()
}
