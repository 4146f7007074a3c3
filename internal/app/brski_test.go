package app

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/agent"
	"github.com/hallmark-id/hallmark/internal/brski/voucher"
	"github.com/hallmark-id/hallmark/internal/config"
	"github.com/hallmark-id/hallmark/internal/issuance"
)

// brskiPair is a maker's deployment with a MASA and an operator's with a registrar, on
// loopback, each with its own database, and the maker registered at the operator.
type brskiPair struct {
	maker, op *devServer
	opDir     string
	dir       string
	lotID     string
	anchor    *x509.CertPool // the maker's MASA certificate: what its pledges trust
}

func startBRSKIPair(t *testing.T) brskiPair { return startBRSKIPairURL(t, "") }

// startBRSKIPairURL is startBRSKIPair with the MASA URL the maker puts in its factory
// certificates ("": its API's URL).
func startBRSKIPairURL(t *testing.T, masaURL string) brskiPair {
	t.Helper()
	makerDir, opDir := t.TempDir(), t.TempDir()
	// The operator first: the MASA pins the operator's domain CA, which the dev server makes.
	// The registrar reads the MASA's TLS CA at each request, once the maker has made it.
	op := startDevOpts(t, Options{DataDir: opDir, BRSKI: &config.BRSKI{Registrar: &config.Registrar{Party: "contoso", MASACAFile: filepath.Join(makerDir, "tls", "ca.pem")}}})
	maker := startDevOpts(t, Options{DataDir: makerDir, BRSKI: &config.BRSKI{MASA: &config.MASA{URL: masaURL,
		NoncelessLifetime: config.Duration{Duration: time.Hour},
		Registrars:        []config.MASARegistrar{{Party: "contoso", DomainCAFile: op.info.TLSCAFile}}}}})
	p := brskiPair{maker: maker, op: op, opDir: opDir, dir: t.TempDir()}
	p.lotID = demoLot(t, maker, "lot-brski")
	p.anchor = certPool(t, filepath.Join(makerDir, "brski", "masa.pem"))

	// The operator registers the maker with the maker deployment's manufacturing CAs.
	var anchors, inters string
	var all []struct {
		ID      string `json:"id"`
		Role    string `json:"role"`
		PartyID string `json:"party_id"`
	}
	maker.must(t, 200, alice, "GET", "/v1/cas", nil).json(t, &struct {
		Items any `json:"items"`
	}{&all})
	for _, c := range all {
		if c.PartyID != "acme" {
			continue
		}
		b, err := os.ReadFile(maker.info.CAFiles[c.ID])
		if err != nil {
			t.Fatal(err)
		}
		if c.Role == "root" {
			anchors += string(b)
		} else {
			inters += string(b)
		}
	}
	if anchors == "" || inters == "" {
		t.Fatalf("the maker's CAs: %+v", all)
	}
	op.must(t, 201, oscar, "POST", "/v1/makers", map[string]any{"name": "acme-by-brski", "anchors_pem": anchors, "intermediates_pem": inters})
	return p
}

// pledge is the device agent of serial, with no trust in the operator's EST server yet.
func (p brskiPair) pledge(serial string, now func() time.Time) *agent.Agent {
	return agent.New(agent.Config{
		ESTURL:   p.op.info.ESTURL,
		Keystore: &agent.Files{FactoryCert: filepath.Join(p.dir, serial+".factory.pem"), FactoryKey: filepath.Join(p.dir, serial+".key"), Dir: filepath.Join(p.dir, serial+"-state")},
		Facts:    agent.Facts{FirmwareDigest: goodFacts["firmware_digest"].(string), HardwareRevision: "B"},
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:      now,
	})
}

// auditActions lists the actions of every audit event of s, read by the auditor.
func auditActions(t *testing.T, s *devServer) []string {
	t.Helper()
	var out []string
	after := int64(0)
	for range 100 {
		var evs struct {
			Items []struct {
				Seq    int64  `json:"seq"`
				Action string `json:"action"`
			} `json:"items"`
		}
		s.must(t, 200, audrey, "GET", "/v1/audit/events?after="+strconv.FormatInt(after, 10), nil).json(t, &evs)
		if len(evs.Items) == 0 {
			return out
		}
		for _, e := range evs.Items {
			out = append(out, e.Action)
			after = e.Seq
		}
	}
	return out
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// TestBRSKI: a device made at the maker's deployment and sold to contoso there joins
// contoso's environment at the operator's deployment by BRSKI with the agent: the
// registrar forwards its voucher request to the MASA its IDevID names, the MASA vouches for
// it because contoso holds it, the pledge pins the operator's domain CA and enrolls over EST.
// Both deployments audit the request and the answer.
func TestBRSKI(t *testing.T) {
	requireTool(t, "openssl")
	p := startBRSKIPair(t)
	ctx := context.Background()

	for _, tc := range []struct{ serial, media string }{{"SN-BR1", voucher.MediaJWS}, {"SN-BR2", voucher.MediaCMS}} {
		fi := deliveredDevice(t, p.maker, p.dir, p.lotID, "lot-brski", tc.serial)
		idevid := parsePEMCert(t, fi.CertificatePEM)
		if u, err := issuance.ParseMASAURL(idevid); err != nil || u != p.maker.info.APIURL {
			t.Fatalf("the factory certificate's MASA URL = %q, %v; want %s", u, err, p.maker.info.APIURL)
		}
		a := p.pledge(tc.serial, time.Now)
		v, err := a.Bootstrap(ctx, agent.PledgeConfig{MASAAnchors: p.anchor, Media: tc.media})
		if err != nil {
			t.Fatalf("%s: bootstrap: %v", tc.media, err)
		}
		domain := parsePEMCert(t, read(t, filepath.Dir(p.op.info.TLSCAFile), filepath.Base(p.op.info.TLSCAFile)))
		if !v.DomainCert.Equal(domain) || len(v.Voucher.Nonce) != 16 || !v.Voucher.ExpiresOn.IsZero() || v.Voucher.SerialNumber != tc.serial {
			t.Fatalf("%s: voucher %+v pins %s; want the operator's domain CA, a nonce and no expiry", tc.media, v.Voucher, v.DomainCert.Subject)
		}
		res, err := a.Step(ctx)
		if err != nil || res.Action != agent.Enrolled {
			t.Fatalf("%s: enrolling after the voucher = %+v, %v", tc.media, res, err)
		}
		if err := a.ReportEnrollment(ctx, nil); err != nil {
			t.Fatalf("%s: enrollstatus: %v", tc.media, err)
		}
	}
	if n := count(auditActions(t, p.maker), "brski.masa.voucher"); n != 2 {
		t.Errorf("the maker audited %d vouchers, want 2", n)
	}
	if n := count(auditActions(t, p.op), "brski.registrar.voucher"); n != 2 {
		t.Errorf("the operator audited %d voucher requests, want 2", n)
	}
	opActions := auditActions(t, p.op)
	for _, action := range []string{"brski.registrar.voucher_status", "brski.registrar.enrollstatus"} {
		if n := count(opActions, action); n != 2 {
			t.Errorf("the operator audited %d %s, want 2", n, action)
		}
	}

	// A nonceless voucher for an air-gapped site carries an expiry; checked after it, the
	// pledge refuses it and trusts nothing new.
	deliveredDevice(t, p.maker, p.dir, p.lotID, "lot-brski", "SN-BR3")
	v, err := p.pledge("SN-BR3", time.Now).Bootstrap(ctx, agent.PledgeConfig{MASAAnchors: p.anchor, Nonceless: true})
	if err != nil || len(v.Voucher.Nonce) != 0 || v.Voucher.ExpiresOn.IsZero() || v.Voucher.ExpiresOn.After(time.Now().Add(61*time.Minute)) {
		t.Fatalf("nonceless: %+v, %v; want a voucher expiring within the hour", v.Voucher, err)
	}
	late := p.pledge("SN-BR3", func() time.Time { return time.Now().Add(2 * time.Hour) })
	if _, err := late.Bootstrap(ctx, agent.PledgeConfig{MASAAnchors: p.anchor, Nonceless: true}); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("an expired nonceless voucher: %v, want refused as expired", err)
	}
	if _, err := late.Step(ctx); err == nil {
		t.Fatal("the pledge enrolled after refusing the voucher")
	}
}

// TestBRSKIRefusals: the MASA refuses a registrar whose party does not hold the device and a
// registrar it does not know; the registrar refuses a tampered voucher request; the pledge
// refuses a voucher that the maker's MASA did not sign. Each is audited where it is refused,
// and a legitimate pledge still joins afterwards.
func TestBRSKIRefusals(t *testing.T) {
	requireTool(t, "openssl")
	p := startBRSKIPair(t)
	ctx := context.Background()

	// No custody: the device stays with the factory at the maker.
	fi := issueFactory(t, p.maker, p.dir, p.lotID, "lot-brski", "SN-RF1")
	writeFile(t, p.dir, "SN-RF1.factory.pem", fi.CertificatePEM)
	_, err := p.pledge("SN-RF1", time.Now).Bootstrap(ctx, agent.PledgeConfig{MASAAnchors: p.anchor})
	var refused *agent.RefusedError
	if !errors.As(err, &refused) || refused.Status != http.StatusForbidden ||
		!strings.HasPrefix(refused.Reason, "voucher request: refused by the MASA (HTTP 403): party contoso does not hold device dev_") {
		t.Fatalf("a registrar without custody: %v, want 403 passing on the MASA's reason", err)
	}
	if n := count(auditActions(t, p.maker), "brski.masa.refuse"); n != 1 {
		t.Errorf("the maker audited %d refusals, want 1", n)
	}

	// The wrong MASA: a pledge whose anchor is another's refuses the voucher.
	deliveredDevice(t, p.maker, p.dir, p.lotID, "lot-brski", "SN-RF2")
	other := certPool(t, p.op.info.TLSCAFile)
	a := p.pledge("SN-RF2", time.Now)
	if _, err := a.Bootstrap(ctx, agent.PledgeConfig{MASAAnchors: other}); err == nil || !strings.Contains(err.Error(), "not signed by the maker's MASA") {
		t.Fatalf("a voucher of another MASA: %v, want refused", err)
	}
	if _, err := a.Step(ctx); err == nil {
		t.Fatal("the pledge enrolled with no trusted voucher")
	}

	// A tampered pledge voucher request: signed with the IDevID, then changed.
	idevid, err := tls.LoadX509KeyPair(filepath.Join(p.dir, "SN-RF2.factory.pem"), filepath.Join(p.dir, "SN-RF2.key"))
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: certPool(t, p.op.info.TLSCAFile), Certificates: []tls.Certificate{idevid}}}}
	srv := registrarCert(t, p.op)
	req := voucher.Request{CreatedOn: time.Now(), Assertion: voucher.Proximity, SerialNumber: "SN-RF2", Nonce: []byte("0123456789abcdef"), ProximityRegistrarCert: srv.Raw}
	payload, _ := req.Marshal()
	leaf := parsePEMCert(t, read(t, p.dir, "SN-RF2.factory.pem"))
	signed, err := voucher.SignCMS(payload, voucher.Signer{Key: idevid.PrivateKey.(crypto.Signer), Chain: []*x509.Certificate{leaf}})
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(signed, []byte("SN-RF2"), []byte("SN-RF9"), 1)
	base := strings.Replace(p.op.info.ESTURL, "/.well-known/est", "/.well-known/brski", 1)
	if st, body := postBody(t, hc, base+"/requestvoucher", voucher.MediaCMS, tampered); st != http.StatusBadRequest {
		t.Fatalf("a tampered voucher request: %d %s, want 400", st, body)
	}
	if n := count(auditActions(t, p.op), "brski.registrar.refuse"); n < 1 {
		t.Error("the registrar did not audit the tampered request")
	}

	// A registrar the MASA does not serve: a request signed by a device key, sent straight to it.
	// It is not audited in a transaction of its own but counted at once by the refusal recorder,
	// which coalesces it into one audit event per signer and window.
	strangers := p.maker.metric(t, "hallmark_refusals_total", map[string]string{"reason": "denied"})
	if st, body := postBody(t, p.maker.http, p.maker.info.APIURL+"/.well-known/brski/requestvoucher", voucher.MediaCMS, signed); st != http.StatusForbidden || !strings.Contains(body, "not signed by a registrar") {
		t.Fatalf("an unknown registrar: %d %s, want 403", st, body)
	}
	if got := p.maker.metric(t, "hallmark_refusals_total", map[string]string{"reason": "denied"}); got != strangers+1 {
		t.Errorf("hallmark_refusals_total{reason=denied} at the maker = %v after a stranger's request, want %v", got, strangers+1)
	}

	// A device whose factory identity the maker revoked gets no voucher, custody or not.
	rv := deliveredDevice(t, p.maker, p.dir, p.lotID, "lot-brski", "SN-RF4")
	p.maker.must(t, 201, alice, "POST", "/v1/manufacturing/revocations", map[string]any{
		"selector": map[string]string{"manufacturer_id": "acme", "device_id": rv.Device.ID}, "reason": "keyCompromise", "dry_run": false})
	_, err = p.pledge("SN-RF4", time.Now).Bootstrap(ctx, agent.PledgeConfig{MASAAnchors: p.anchor})
	if !errors.As(err, &refused) || refused.Status != http.StatusForbidden || !strings.Contains(refused.Reason, "revoked") {
		t.Fatalf("a revoked device: %v, want 403 naming the revocation", err)
	}

	// Refusals of the registrar it serves are audited at the maker at once; the stranger's only
	// when its window ends.
	if n := count(auditActions(t, p.maker), "brski.masa.refuse"); n != 2 {
		t.Errorf("the maker audited %d refusals, want 2 (no custody, revoked)", n)
	}

	// A legitimate pledge still joins, within a generous bound.
	deliveredDevice(t, p.maker, p.dir, p.lotID, "lot-brski", "SN-RF3")
	good := p.pledge("SN-RF3", time.Now)
	bctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := good.Bootstrap(bctx, agent.PledgeConfig{MASAAnchors: p.anchor}); err != nil {
		t.Fatalf("a legitimate pledge after the refusals: %v", err)
	}
	if res, err := good.Step(bctx); err != nil || res.Action != agent.Enrolled {
		t.Fatalf("enrolling: %+v, %v", res, err)
	}
}

// registrarCert is the certificate the operator's EST listener presents.
func registrarCert(t *testing.T, s *devServer) *x509.Certificate {
	t.Helper()
	host := strings.TrimPrefix(strings.SplitN(s.info.ESTURL, "/.well-known", 2)[0], "https://")
	conn, err := tls.Dial("tcp", host, &tls.Config{RootCAs: certPool(t, s.info.TLSCAFile)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

func postBody(t *testing.T, hc *http.Client, url, media string, body []byte) (int, string) {
	t.Helper()
	res, err := hc.Post(url, media, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestBRSKIMakerMASAURL: when the IDevID names a MASA that cannot be reached, the registrar's
// configuration for the registered maker names the right one, and wins.
func TestBRSKIMakerMASAURL(t *testing.T) {
	requireTool(t, "openssl")
	p := startBRSKIPairURL(t, "https://127.0.0.1:9/nowhere")
	ctx := context.Background()
	deliveredDevice(t, p.maker, p.dir, p.lotID, "lot-brski", "SN-MU1")
	_, err := p.pledge("SN-MU1", time.Now).Bootstrap(ctx, agent.PledgeConfig{MASAAnchors: p.anchor})
	if err == nil || !strings.Contains(err.Error(), "HTTP 502") || !strings.Contains(err.Error(), "reaching the MASA") {
		t.Fatalf("a MASA that cannot be reached: %v, want 502", err)
	}
	// The operator names the maker's MASA for its registered maker and restarts.
	p.op.stop()
	p.op = startDevOpts(t, Options{DataDir: p.opDir, BRSKI: &config.BRSKI{Registrar: &config.Registrar{Party: "contoso",
		MASACAFile: p.maker.info.TLSCAFile, MASAURLs: map[string]string{"acme-by-brski": p.maker.info.APIURL}}}})
	a := p.pledge("SN-MU1", time.Now)
	if _, err := a.Bootstrap(ctx, agent.PledgeConfig{MASAAnchors: p.anchor}); err != nil {
		t.Fatalf("with the maker's MASA configured: %v", err)
	}
	if res, err := a.Step(ctx); err != nil || res.Action != agent.Enrolled {
		t.Fatalf("enrolling: %+v, %v", res, err)
	}
}
