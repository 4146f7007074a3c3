package app_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/app"
	"github.com/hallmark-id/hallmark/internal/cli"
)

// TestSimulateProgressIntoAFile: `hallmark simulate` against a real dev server with stderr
// redirected to a file writes plain progress lines there, with no bar and no carriage return,
// and its summary on stdout.
func TestSimulateProgressIntoAFile(t *testing.T) {
	s := app.StartDevHarness(t)
	for _, v := range []string{cli.EnvServer, cli.EnvToken, cli.EnvCACert} {
		t.Setenv(v, "")
	}
	errFile, err := os.Create(filepath.Join(t.TempDir(), "progress.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	code := cli.Run(ctx, []string{"simulate", "--data", s.Dir, "--devices", "4", "--concurrency", "2", "--renewals", "1", "--deadline", "90s"}, &out, errFile)
	progress, _ := os.ReadFile(errFile.Name())
	if code != cli.ExitOK {
		t.Fatalf("simulate exited %d\n%s\n%s", code, out.String(), progress)
	}
	p := string(progress)
	if strings.ContainsAny(p, "\r[#") {
		t.Errorf("a progress bar was drawn into a file:\n%q", p)
	}
	for _, want := range []string{"onboarding (EST simpleenroll): 4/4", "renewal 1 (EST simplereenroll): 4/4", "done in"} {
		if !strings.Contains(p, want) {
			t.Errorf("the progress lines lack %q:\n%s", want, p)
		}
	}
	if !strings.Contains(out.String(), "4 devices in") {
		t.Errorf("no summary on stdout:\n%s", out.String())
	}
}
