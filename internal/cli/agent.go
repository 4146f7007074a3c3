package cli

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/internal/agent"
	"github.com/hallmark-id/hallmark/internal/brski/voucher"
	"github.com/hallmark-id/hallmark/internal/failure"
)

func (e *env) agentCommand() *cobra.Command {
	var o agentFlags
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the device side: enroll over EST and keep the operational certificate renewed",
		Long: `Act as a device. With no operational identity in --dir (or a lapsed one), enroll over EST
with the factory certificate and key (simpleenroll, mTLS); once the current certificate has
lived --renew-at of its lifetime (minus up to --jitter of it, drawn at random), renew with it
(simplereenroll). Every new identity gets a new key. The key and certificate are written to
DIR/operational.key and DIR/operational.pem, each through a synced temporary file renamed
into place.

Facts the device reports travel as the headers docs/est.md documents, where environment
policies read them (facts.firmware_digest, facts.hardware_revision, facts.extra).

With --once the agent does what is due and exits: 0 when it holds a current identity, 3 when
the server refused it (the reason is printed), 7 when the server could not be reached. Without
--once it runs until interrupted, backing off exponentially after failures.

With --brski the device joins by BRSKI (RFC 8995, docs/brski.md) before it first enrolls: it
asks the registrar in front of the EST server (trusted only provisionally) for a voucher
with a request signed by the factory key, validates the voucher against --masa-anchor,
pins the domain certificate the voucher names (written to DIR/domain-ca.pem, and used
instead of --cacert from then on), and enrolls over EST trusting only it.`,
		Example: `  hallmark agent --est https://127.0.0.1:8444/.well-known/est --cacert hallmark-data/tls/ca.pem \
    --factory-cert factory.pem --factory-key dev.key --dir ./device --firmware-digest $FW --once
  hallmark agent --est https://hallmark.example:8444/.well-known/est/plant-1 --cacert ca.pem \
    --factory-cert /etc/device/idevid.pem --factory-key /etc/device/idevid.key --dir /var/lib/device
  hallmark agent --brski --masa-anchor /etc/device/masa.pem --est https://registrar.example:8444/.well-known/est \
    --factory-cert /etc/device/idevid.pem --factory-key /etc/device/idevid.key --dir /var/lib/device --once`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return e.runAgent(cmd.Context(), o) },
	}
	o.add(cmd)
	return cmd
}

// agentFlags are the flags of "hallmark agent".
type agentFlags struct {
	estURL, caFile, factCert, factKey, dir string
	firmware, hwRev                        string
	facts                                  []string
	once                                   bool
	renewAt, jitterFrac                    float64
	brski                                  bool
	masaAnchor, voucherFormat              string
}

func (o *agentFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.estURL, "est", "", "EST base URL, e.g. https://HOST:PORT/.well-known/est[/LABEL]")
	f.StringVar(&o.caFile, "cacert", "", "CA certificate(s) the EST server's TLS certificate chains to (default: the system's)")
	f.StringVar(&o.factCert, "factory-cert", "", "factory (IDevID) certificate, PEM, optionally with its chain")
	f.StringVar(&o.factKey, "factory-key", "", "factory private key, PEM")
	f.StringVar(&o.dir, "dir", "", "folder for the operational key and certificate")
	f.StringVar(&o.firmware, "firmware-digest", "", "fact: SHA-256 of the running firmware, hex")
	f.StringVar(&o.hwRev, "hardware-revision", "", "fact: the hardware revision")
	f.StringArrayVar(&o.facts, "fact", nil, "fact key=value (repeatable)")
	f.BoolVar(&o.once, "once", false, "do what is due and exit")
	f.Float64Var(&o.renewAt, "renew-at", 0.66, "renew after this fraction of the certificate's lifetime")
	f.Float64Var(&o.jitterFrac, "jitter", 0.05, "renew up to this fraction of the lifetime earlier, at random")
	f.BoolVar(&o.brski, "brski", false, "join by BRSKI first: get a voucher from the registrar and pin the domain certificate it names")
	f.StringVar(&o.masaAnchor, "masa-anchor", "", "with --brski: the maker's MASA anchor certificate(s), PEM, that vouchers must chain to")
	f.StringVar(&o.voucherFormat, "voucher-format", "jws", "with --brski: jws or cms")
	required(cmd, "est", "factory-cert", "factory-key", "dir")
}

// runAgent runs the agent until ctx ends or, with --once, does what is due and prints the
// identity it holds.
func (e *env) runAgent(ctx context.Context, o agentFlags) error {
	pool, err := rootCAs(o.caFile)
	if err != nil {
		return err
	}
	extra := map[string]string{}
	for _, f := range o.facts {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return usagef("--fact %q: use key=value", f)
		}
		extra[k] = v
	}
	a := agent.New(agent.Config{
		ESTURL: o.estURL, RootCAs: pool,
		Keystore: &agent.Files{FactoryCert: o.factCert, FactoryKey: o.factKey, Dir: o.dir},
		Facts:    agent.Facts{FirmwareDigest: o.firmware, HardwareRevision: o.hwRev, Extra: extra},
		RenewAt:  o.renewAt, Jitter: o.jitterFrac,
		Log: slog.New(slog.NewTextHandler(e.stderr, nil)),
	})
	if o.brski {
		bctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := e.pledge(bctx, a, o)
		cancel()
		if err != nil {
			return err
		}
	}
	if !o.once {
		return a.Run(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res, err := a.Step(ctx)
	if o.brski && (err == nil && res.Action == agent.Enrolled || err != nil) {
		if rerr := a.ReportEnrollment(ctx, err); rerr != nil {
			slog.New(slog.NewTextHandler(e.stderr, nil)).Warn("brski: enrollstatus not delivered", "error", rerr)
		}
	}
	var refused *agent.RefusedError
	switch {
	case errors.As(err, &refused):
		return failure.New(failure.Invalid, "%v", refused)
	case err != nil:
		return failure.Wrap(failure.Unavailable, err, "agent")
	}
	return e.emit(res, []string{serialText(res.Certificate.SerialNumber)}, func(w io.Writer) {
		fmt.Fprintf(w, "%s: operational certificate %s (%s), valid until %s; next renewal due %s\n",
			res.Action, serialText(res.Certificate.SerialNumber), res.Certificate.URIs, res.Certificate.NotAfter.UTC().Format(time.RFC3339),
			res.NextRenewal.UTC().Format(time.RFC3339))
	})
}

// pledge bootstraps by BRSKI unless DIR/domain-ca.pem holds the domain certificate of an
// earlier voucher, which then replaces --cacert.
func (e *env) pledge(ctx context.Context, a *agent.Agent, o agentFlags) error {
	pinned := filepath.Join(o.dir, "domain-ca.pem")
	if pool, err := rootCAs(pinned); err == nil {
		a.TrustEST(pool)
		return nil
	}
	if o.masaAnchor == "" {
		return usagef("--brski needs --masa-anchor")
	}
	anchors, err := rootCAs(o.masaAnchor)
	if err != nil {
		return err
	}
	media := voucher.MediaJWS
	switch o.voucherFormat {
	case "jws":
	case "cms":
		media = voucher.MediaCMS
	default:
		return usagef("--voucher-format %q: use jws or cms", o.voucherFormat)
	}
	v, err := a.Bootstrap(ctx, agent.PledgeConfig{MASAAnchors: anchors, Media: media})
	var refused *agent.RefusedError
	switch {
	case errors.As(err, &refused):
		return failure.New(failure.Invalid, "%v", refused)
	case err != nil:
		return failure.Wrap(failure.Unavailable, err, "agent: brski")
	}
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(pinned, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: v.DomainCert.Raw}), 0o644)
}

// rootCAs reads the CA certificates of --cacert, or takes the system's without it.
func rootCAs(caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return x509.SystemCertPool()
	}
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "--cacert")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, failure.New(failure.Invalid, "--cacert %s holds no PEM certificate", caFile)
	}
	return pool, nil
}
