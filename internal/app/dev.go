package app

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/admission"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/config"
	"github.com/hallmark-id/hallmark/internal/est"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/keys"
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/operational"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
	"github.com/hallmark-id/hallmark/internal/support"
)

// DevInfo is DIR/dev.json: what a script needs to talk to a dev server.
type DevInfo struct {
	APIURL    string `json:"api_url"`
	OpenAPI   string `json:"openapi_url"`
	TLSCAFile string `json:"tls_ca_file"`
	TokenFile string `json:"token_file"`
	Database  string `json:"database"`
	// ESTURL is the EST server (https://HOST:PORT/.well-known/est); its bare path serves the
	// environment ESTDefaultLabel.
	ESTURL          string            `json:"est_url"`
	ESTDefaultLabel string            `json:"est_default_label"`
	CAFiles         map[string]string `json:"ca_files"`
	Parties         map[string]string `json:"parties"`
	PID             int               `json:"pid"`
	// MetricsURL is the plain-HTTP Prometheus endpoint (http://127.0.0.1:PORT/metrics).
	MetricsURL string `json:"metrics_url"`
	// StatusURL is the plain-HTTP status listener (http://127.0.0.1:PORT), the base of the
	// OCSP (/ocsp/<ca-id>), CRL (/crl/<ca-id>.crl) and CA certificate (/ca/<ca-id>.cer) URLs
	// that certificates issued by this server carry.
	StatusURL string `json:"status_url"`
}

// devParty is one demo party and its principals. Every party also gets an administrator
// named "admin", made by the deployment administrator (tokens.json: "admin"), who makes the
// party's other principals.
type devParty struct {
	id, name   string
	kind       party.Kind
	principals []devPrincipal
}

type devPrincipal struct {
	name  string
	kind  party.PrincipalKind
	admin bool
}

var devParties = []devParty{
	{"contoso", "Contoso Utilities", party.Operator, []devPrincipal{{"oscar", party.Person, false}, {"olivia", party.Person, false}}},
	{"acme", "Acme Devices", party.Manufacturer, []devPrincipal{{"alice", party.Person, false}, {"bob", party.Person, false}, {"carol", party.Person, false}}},
	{"fabrikam", "Fabrikam Assembly", party.ContractManufacturer, []devPrincipal{{"station-1", party.Service, false}}},
	{"northwind", "Northwind Logistics", party.Distributor, []devPrincipal{{"dana", party.Person, false}}},
	{"auditco", "Audit & Co", party.Auditor, []devPrincipal{{"audrey", party.Person, false}}},
	{"globex", "Globex Field Support", party.SupportVendor, []devPrincipal{{"eve", party.Person, false}}},
}

// serveDev runs the local demo: embedded store in DataDir, demo parties with tokens, a
// manufacturing CA for the demo manufacturer, HTTPS with a dev CA, and DIR/dev.json.
func serveDev(ctx context.Context, opts Options, stdout, stderr io.Writer) error {
	dir := opts.DataDir
	if dir == "" {
		dir = "hallmark-data"
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("dev: creating %s: %w", dir, err)
	}
	log := newLogger(stderr, "info", "text")
	if opts.TuneGC {
		limit, percent := devMemory(opts.Limits)
		tuneGC(log, limit, percent)
	}
	var kp keys.Provider = opts.DevKeys
	if kp == nil {
		pass, err := devPassphrase(dir)
		if err != nil {
			return err
		}
		if kp, err = keyfile.New(filepath.Join(dir, "keys"), keys.Secret(pass)); err != nil {
			return err
		}
	}
	dbPath := filepath.Join(dir, "hallmark.db")
	var st *sqlstore.Store
	if opts.DevPostgresEnv != "" {
		dbPath = "postgres ($" + opts.DevPostgresEnv + ")" // never the URL: it may hold a password
		st, err = openStore(ctx, config.Store{Driver: "postgres", DSNEnv: opts.DevPostgresEnv})
	} else {
		st, err = sqlite.Open(ctx, dbPath)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	w := Wiring{Store: st, Keys: kp, Log: log, Now: opts.Now, AuditOrigin: "hallmark-dev/audit", DevSignin: true,
		Makers: MakersConfig{WatchInterval: opts.MakerWatch}, AuditEventLevel: slog.LevelDebug}
	if l := opts.Limits; l != nil {
		w.Listeners = listenerLimits(*l)
		w.Admission = admission.Config{Slots: l.Slots, Queue: l.Queue, Wait: l.QueueWait.Duration, RetryAfter: l.RetryAfter.Duration, MaxRetryAfter: l.MaxRetryAfter.Duration}
	}
	a, err := Build(w)
	if err != nil {
		return err
	}
	a.SnapshotInterval = opts.SnapshotInterval
	listen := opts.Listen
	if listen == "" {
		listen = "127.0.0.1:8443"
	}
	// Status on loopback, plain HTTP, before the seed: the demo CAs' certificates name it.
	ss, err := a.ServeStatus(net.JoinHostPort("127.0.0.1", devPort(listen, devStatusPort)))
	if err != nil {
		return fmt.Errorf("dev: status listen: %w", err)
	}
	defer ss.Close()
	if err := a.StatusURLs.SetBase(ss.URL); err != nil {
		return err
	}
	tokenFile := filepath.Join(dir, "tokens.json")
	a.consoleDevTokens = tokenFile
	if err := a.devSeed(ctx, tokenFile); err != nil {
		return fmt.Errorf("dev: seeding demo data: %w", err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("dev: listen: %w", err)
	}
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	tc, tlsCA, err := a.devTLS(ctx, filepath.Join(dir, "tls"), host)
	if err != nil {
		ln.Close()
		return err
	}
	if err := a.devBRSKI(ctx, dir, opts.BRSKI, "https://"+ln.Addr().String(), tc.Certificates[0]); err != nil {
		ln.Close()
		return err
	}
	// EST listens on the API's host: on a free port when the API took one, else on 8444.
	estSrv, err := a.newESTServer(net.JoinHostPort(host, devPort(listen, devESTPort)), tc.Certificates, devESTLabel)
	if err != nil {
		ln.Close()
		return fmt.Errorf("dev: est listen: %w", err)
	}
	closeAll := func() { ln.Close(); estSrv.ln.Close() }
	// Metrics and Go's profiles on loopback only, on a free port: dev.json names it.
	ms, err := a.ServeMetrics("127.0.0.1:0", true)
	if err != nil {
		closeAll()
		return fmt.Errorf("dev: metrics listen: %w", err)
	}
	defer ms.Close()
	info := DevInfo{
		APIURL: "https://" + ln.Addr().String(), TLSCAFile: tlsCA, TokenFile: tokenFile, Database: dbPath,
		ESTURL: "https://" + estSrv.ln.Addr().String() + est.PathPrefix, ESTDefaultLabel: devESTLabel, MetricsURL: ms.URL, StatusURL: ss.URL,
		CAFiles: map[string]string{}, Parties: map[string]string{}, PID: os.Getpid(),
	}
	info.OpenAPI = info.APIURL + "/v1/openapi.json"
	if err := a.devCAFiles(ctx, dir, &info); err != nil {
		closeAll()
		return err
	}
	if err := writeJSONFile(filepath.Join(dir, "dev.json"), info); err != nil {
		closeAll()
		return err
	}
	fmt.Fprintf(stdout, "hallmark dev server\n  api:      %s/v1\n  est:      %s (bare path: environment %q)\n  status:   %s (OCSP, CRLs)\n  metrics:  %s\n  tls ca:   %s\n  tokens:   %s\n  dev.json: %s\n  use it:   eval \"$(hallmark dev env --data %s --as acme/alice)\"\n  sign in:  hallmark login --dev --party acme --person alice (DEV ONLY: no identity provider, loopback clients only)\n",
		info.APIURL, info.ESTURL, devESTLabel, info.StatusURL, info.MetricsURL, tlsCA, tokenFile, filepath.Join(dir, "dev.json"), dir)
	fmt.Fprintf(stdout, "  console:  %s/ui/ (sign in as a demo person; the browser must trust the tls ca above)\n", info.APIURL)
	if err := a.StartStatus(ctx, info.StatusURL); err != nil {
		return fmt.Errorf("dev: revocation status: %w", err)
	}
	go a.AuditLog.Run(ctx, devCheckpointInterval) //nolint:errcheck // returns nil when ctx ends
	defer a.runRefusals(ctx)()
	defer a.StopLeading()
	rctx, stopReady := context.WithCancel(ctx)
	announced := make(chan struct{})
	defer func() { stopReady(); <-announced }() // it writes stdout: done before Serve returns
	go func() {
		defer close(announced)
		announceDevReady(rctx, stdout, stderr, info, ln.Addr().String(), estSrv.ln.Addr().String(), tlsCA)
	}()
	return a.run(ctx, served{"api", ln, tc, a.Handler()}, served{"est", estSrv.ln, estSrv.tc, estSrv.h})
}

// devDeploymentAdmin is the deployment administrator's name and its key in tokens.json.
const devDeploymentAdmin = "admin"

// devCheckpointInterval is how often the dev server signs an audit checkpoint.
const devCheckpointInterval = time.Minute

// The dev EST listener's fixed port (used when the API has a fixed port) and the demo
// environment its bare path serves. The README walkthrough makes its own "plant-1".
const (
	devESTPort  = "8444"
	devESTLabel = "demo"
)

// devStatusPort is the dev status listener's fixed port, used when the API has a fixed port.
const devStatusPort = "8480"

// devPort is fixed, or "0" (a free port) when the API's listen address asks for a free port.
func devPort(apiListen, fixed string) string {
	if _, p, _ := net.SplitHostPort(apiListen); p == "0" {
		return "0"
	}
	return fixed
}

// devPassphrase keeps the dev key passphrase in the data folder. Only --dev does this; a real
// deployment takes it from the environment or a file the config names.
func devPassphrase(dir string) ([]byte, error) {
	p := filepath.Join(dir, "dev-key-passphrase")
	b, err := os.ReadFile(p)
	if err == nil {
		return []byte(strings.TrimSpace(string(b))), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	pass := rand.Text()
	if err := os.WriteFile(p, []byte(pass+"\n"), 0o600); err != nil {
		return nil, err
	}
	return []byte(pass), nil
}

// devSeed creates the demo parties, principals and the demo manufacturer's CA and model on a
// fresh database; on a database that has them it does nothing.
func (a *App) devSeed(ctx context.Context, tokenFile string) error {
	var existing []party.Party
	if err := a.Store.View(ctx, func(tx store.Tx) (err error) { existing, err = tx.Parties().ListParties(); return err }); err != nil {
		return err
	}
	if len(existing) > 0 {
		if _, err := os.Stat(tokenFile); err != nil {
			return fmt.Errorf("the database has parties but %s is missing: start with an empty --data folder", tokenFile)
		}
		return nil
	}
	tokens := map[string]string{}
	first := devParties[0]
	deployP, deployToken, err := bootstrapAdmin(ctx, a.Store, a.Now(), party.Party{ID: first.id, Name: first.name, Kind: first.kind}, devDeploymentAdmin, "dev", 0)
	if err != nil {
		return err
	}
	tokens[devDeploymentAdmin] = deployToken
	deploy := governance.Actor(deployP)
	for i, dp := range devParties {
		if i > 0 {
			if _, err := a.Governance.CreateParty(ctx, deploy, governance.CreatePartyRequest{ID: dp.id, Name: dp.name, Kind: dp.kind}); err != nil {
				return err
			}
		}
		// The deployment administrator makes the party's first administrator, who makes the rest.
		padm, tok, err := a.Governance.CreatePrincipal(ctx, deploy, governance.CreatePrincipalRequest{PartyID: dp.id, Name: "admin", Admin: true})
		if err != nil {
			return err
		}
		// It completes the hand-over at once, as a party should: its own rotation ends the
		// short-lived token the deployment administrator was shown. It acts as its dev sign-in
		// would, not with that token (its actor has no TokenID), so the new token, and the
		// tokens of the principals it makes below, are not hand-over tokens.
		if tok, err = a.Governance.RotateToken(ctx, governance.Actor(padm), padm.ID, governance.RotateRequest{}); err != nil {
			return fmt.Errorf("the hand-over of %s/admin: %w", dp.id, err)
		}
		tokens[dp.id+"/admin"] = tok.Secret
		for _, pr := range dp.principals {
			p, tok, err := a.Governance.CreatePrincipal(ctx, governance.Actor(padm), governance.CreatePrincipalRequest{PartyID: dp.id, Name: pr.name, Kind: pr.kind, Admin: pr.admin})
			if err != nil {
				return err
			}
			tokens[dp.id+"/"+p.Name] = tok.Secret
		}
	}
	if err := a.devCredentialMix(ctx); err != nil {
		return fmt.Errorf("the demo credentials: %w", err)
	}
	if err := writeJSONFile(tokenFile, tokens); err != nil {
		return err
	}
	// The demo manufacturer's CA and model, and the demo operator's operational CA, each made
	// by the party's own principal.
	acme, contoso := a.devActor(ctx, "acme", "alice"), a.devActor(ctx, "contoso", "oscar")
	if _, _, err := a.Manufacturing.CreateHierarchy(ctx, acme, manufacturing.CreateHierarchyRequest{ManufacturerID: "acme", Name: "acme-mfg"}); err != nil {
		return err
	}
	if _, err := a.Manufacturing.CreateModel(ctx, acme, manufacturing.CreateModelRequest{ManufacturerID: "acme", Name: "sensor-x"}); err != nil {
		return err
	}
	_, issuing, err := a.Operational.CreateHierarchy(ctx, contoso, operational.CreateHierarchyRequest{OperatorID: "contoso", Name: "contoso-ops"})
	if err != nil {
		return err
	}
	// The operator's support CA, from which approved support grants are issued.
	if _, _, err := a.Support.CreateHierarchy(ctx, contoso, support.CreateHierarchyRequest{OperatorID: "contoso", Name: "contoso-support"}); err != nil {
		return err
	}
	// The environment the dev EST server's bare path serves, with the default policies.
	_, err = a.Operational.CreateEnvironment(ctx, contoso, operational.CreateEnvironmentRequest{OperatorID: "contoso", Name: devESTLabel,
		Site: "Demo", IssuingCAID: issuing.ID, TrustDomain: "contoso.example", Lifetime: "24h", MaxAge: "72h"})
	return err
}

// devActor finds a demo principal by party and name.
func (a *App) devActor(ctx context.Context, partyID, name string) audit.Actor {
	var out audit.Actor
	_ = a.Store.View(ctx, func(tx store.Tx) error {
		out = audit.Actor{} // a read may run again
		ps, err := tx.Parties().ListPrincipals(partyID)
		for _, p := range ps {
			if p.Name == name {
				out = governance.Actor(p)
			}
		}
		return err
	})
	return out
}

// devCAFiles writes every CA certificate to DIR/cas/<party>-<name>.pem and names them in info.
func (a *App) devCAFiles(ctx context.Context, dir string, info *DevInfo) error {
	var cas []ca.CA
	if err := a.Store.View(ctx, func(tx store.Tx) (err error) { cas, err = tx.CAs().ListCAs(""); return err }); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "cas"), 0o755); err != nil {
		return err
	}
	for _, c := range cas {
		name := c.PartyID + "-" + c.Name
		p := filepath.Join(dir, "cas", name+".pem")
		if err := os.WriteFile(p, pemCert(c.CertDER), 0o644); err != nil {
			return err
		}
		info.CAFiles[name] = p
		info.CAFiles[c.ID] = p
	}
	parties, err := a.Governance.ListParties(ctx)
	if err != nil {
		return err
	}
	for _, p := range parties {
		info.Parties[p.ID] = string(p.Kind)
	}
	return nil
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
