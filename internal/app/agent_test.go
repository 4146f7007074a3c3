package app

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/agent"
)

// TestAgentOverEST runs the device agent against a real dev server: it enrolls with its
// factory identity, does nothing while the certificate is fresh, renews when due, writes its
// files privately, and reports a refusal as such.
func TestAgentOverEST(t *testing.T) {
	requireTool(t, "openssl")
	s := startDev(t, "")
	dir := t.TempDir()
	lotID := demoLot(t, s, "lot-agent")
	deliveredDevice(t, s, dir, lotID, "lot-agent", "SN-AG1")
	held := issueFactory(t, s, dir, lotID, "lot-agent", "SN-AG2") // stays at the factory
	writeFile(t, dir, "SN-AG2.factory.pem", held.CertificatePEM)

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(read(t, filepath.Dir(s.info.TLSCAFile), filepath.Base(s.info.TLSCAFile))))
	newAgent := func(serial string, later time.Duration) *agent.Agent {
		return agent.New(agent.Config{
			ESTURL: s.info.ESTURL, RootCAs: pool,
			Keystore: &agent.Files{FactoryCert: filepath.Join(dir, serial+".factory.pem"), FactoryKey: filepath.Join(dir, serial+".key"), Dir: filepath.Join(dir, serial+"-state")},
			Facts:    agent.Facts{FirmwareDigest: goodFacts["firmware_digest"].(string), HardwareRevision: "B"},
			Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
			Now:      func() time.Time { return time.Now().Add(later) },
		})
	}
	ctx := context.Background()
	a := newAgent("SN-AG1", 0)
	res, err := a.Step(ctx)
	if err != nil || res.Action != agent.Enrolled {
		t.Fatalf("first step = %+v, %v; want enrolled", res, err)
	}
	first := res.Certificate.SerialNumber
	for _, name := range []string{"operational.key", "operational.pem"} {
		fi, err := os.Stat(filepath.Join(dir, "SN-AG1-state", name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", name, err, fi.Mode().Perm())
		}
	}
	cas := filepath.Join(s.dir, "cas")
	if out := run(t, dir, "openssl", "verify", "-CAfile", filepath.Join(cas, "contoso-contoso-ops-root.pem"), "-untrusted", filepath.Join(cas, "contoso-contoso-ops.pem"),
		"SN-AG1-state/operational.pem"); !strings.Contains(out, ": OK") {
		t.Errorf("openssl verify: %s", out)
	}
	if res, err = a.Step(ctx); err != nil || res.Action != agent.Current {
		t.Fatalf("second step = %+v, %v; want current", res, err)
	}
	// 20 hours into a 24-hour certificate, past the default 0.66 of its lifetime.
	if res, err = newAgent("SN-AG1", 20*time.Hour).Step(ctx); err != nil || res.Action != agent.Renewed || res.Certificate.SerialNumber.Cmp(first) == 0 {
		t.Fatalf("step when due = %+v, %v; want renewed", res, err)
	}
	_, err = newAgent("SN-AG2", 0).Step(ctx)
	var refused *agent.RefusedError
	if !errors.As(err, &refused) || refused.Status != 403 || refused.Reason == "" {
		t.Fatalf("a device the operator does not hold: %v, want a 403 refusal with its reason", err)
	}
}
