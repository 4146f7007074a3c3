package cli

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/operational"
)

// testKey makes a key and a self-signed certificate for it, written as PEM files.
func testKey(t *testing.T, dir, name, alg string) (crypto.Signer, string, string, []byte) {
	t.Helper()
	var k crypto.Signer
	var err error
	switch alg {
	case "ecdsa":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case "rsa":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x5f3a), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyFile, certFile := filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return k, keyFile, certFile, certPEM
}

// verifyProof checks a proof the CLI sent with the server's own check: the signature in
// sigB64 over the proof message of purpose, env, nonce and keyHash.
func verifyProof(t *testing.T, pub crypto.PublicKey, purpose, env string, nonce []byte, keyHash, sigB64 string) bool {
	t.Helper()
	ok, err := operational.VerifyProof(pub, operational.Purpose(purpose), env, base64.StdEncoding.EncodeToString(nonce), keyHash, sigB64)
	if err != nil {
		t.Errorf("proof of %s in %q: %v", purpose, env, err)
	}
	return ok
}

var testNonce = []byte("0123456789abcdef0123456789abcdef")

// deviceCSR writes a CSR for a new P-256 key to file (DER, or PEM when pemOut) and returns the
// hex SHA-256 of its SubjectPublicKeyInfo.
func deviceCSR(t *testing.T, file string, pemOut bool) (der []byte, keyHash string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err = x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "SN1"}}, k)
	if err != nil {
		t.Fatal(err)
	}
	out := der
	if pemOut {
		out = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	}
	if err := os.WriteFile(file, out, 0o600); err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(spki)
	return der, hex.EncodeToString(h[:])
}

// challengeReply issues chl_1 for what the request asked, checking it against want (purpose,
// environment or certificate serial, CSR key hash); a renewal challenge names env_1. With
// keyHash set it answers with that CSR key instead, as a relay would.
func challengeReply(t *testing.T, want map[string]string, keyHash string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req map[string]string
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("challenge request: %v", err)
		}
		for k, v := range want {
			if req[k] != v {
				t.Errorf("challenge request %s = %q, want %q (%v)", k, req[k], v, req)
			}
		}
		if keyHash == "" {
			keyHash = req["csr_key_sha256"]
		}
		b, _ := json.Marshal(map[string]string{"id": "chl_1", "nonce": base64.StdEncoding.EncodeToString(testNonce), "purpose": req["purpose"],
			"environment_id": "env_1", "csr_key_sha256": keyHash, "expires_at": "2026-01-01T00:05:00Z"})
		reply(201, string(b))(w, r)
	}
}

func identityReply(certPEM []byte, kind string) string {
	b, _ := json.Marshal(map[string]any{
		"device":          map[string]any{"id": "dev_1", "serial": "SN1", "state": "active", "environment_id": "env_1", "operational_certificate": "7b"},
		"certificate_pem": string(certPEM),
		"chain_pem":       "CHAIN\n",
		"evidence":        map[string]any{"serial": "7b", "device_id": "dev_1", "environment_id": "env_1", "kind": kind, "policy_kind": "onboarding", "policy_version": 3},
	})
	return string(b)
}

func TestDeviceOnboardSignsLocally(t *testing.T) {
	for _, alg := range []string{"ecdsa", "ed25519", "rsa"} {
		t.Run(alg, func(t *testing.T) {
			dir := t.TempDir()
			key, keyFile, certFile, certPEM := testKey(t, dir, "idevid", alg)
			csrFile := filepath.Join(dir, "ldevid.der")
			csrDER, keyHash := deviceCSR(t, csrFile, false)
			onboarded := 0
			srv := fakeServer(t, map[string]http.HandlerFunc{
				"POST /v1/challenges": challengeReply(t, map[string]string{"purpose": "onboard", "environment_id": "env_1", "csr_key_sha256": keyHash}, ""),
				"POST /v1/environments/{id}/onboard": func(w http.ResponseWriter, r *http.Request) {
					onboarded++
					raw, _ := io.ReadAll(r.Body)
					if strings.Contains(string(raw), "PRIVATE KEY") {
						t.Errorf("the request carries the private key: %s", raw)
					}
					var req struct {
						CSR                string `json:"csr"`
						FactoryCertificate string `json:"factory_certificate"`
						Proof              struct {
							ChallengeID string `json:"challenge_id"`
							Signature   string `json:"signature"`
						} `json:"proof"`
						Facts struct {
							FirmwareDigest   string            `json:"firmware_digest"`
							HardwareRevision string            `json:"hardware_revision"`
							Extra            map[string]string `json:"extra"`
						} `json:"facts"`
					}
					if err := json.Unmarshal(raw, &req); err != nil {
						t.Fatal(err)
					}
					if r.PathValue("id") != "env_1" || req.CSR != base64.StdEncoding.EncodeToString(csrDER) || req.FactoryCertificate != string(certPEM) {
						t.Errorf("request %s", raw)
					}
					if req.Proof.ChallengeID != "chl_1" || !verifyProof(t, key.Public(), "onboard", "env_1", testNonce, keyHash, req.Proof.Signature) {
						t.Errorf("proof %+v does not verify with the factory key over the proof message", req.Proof)
					}
					if req.Facts.FirmwareDigest != "ab12" || req.Facts.HardwareRevision != "B" || req.Facts.Extra["region"] != "eu" || req.Facts.Extra["k"] != "v=w" {
						t.Errorf("facts %+v", req.Facts)
					}
					reply(201, identityReply(certPEM, "onboard"))(w, r)
				},
			})
			certOut, chainOut := filepath.Join(dir, "out.pem"), filepath.Join(dir, "chain.pem")
			args := []string{"device", "onboard", "--env", "env_1", "--factory-cert", certFile, "--factory-key", keyFile, "--csr", csrFile,
				"--firmware-digest", "ab12", "--hardware-revision", "B", "--fact", "region=eu", "--fact", "k=v=w"}
			code, out, stderr := run(t, append(append(args, "--cert-out", certOut, "--chain-out", chainOut), srv...)...)
			if code != 0 || onboarded != 1 {
				t.Fatalf("exit %d (onboarded %d): %s", code, onboarded, stderr)
			}
			for _, want := range []string{"DEVICE", "dev_1", "active", "7B", "env_1", "onboarding v3", "2026-01-02T00:00:00Z", "wrote certificate to " + certOut} {
				if !strings.Contains(out, want) {
					t.Errorf("summary lacks %q:\n%s", want, out)
				}
			}
			if b, _ := os.ReadFile(chainOut); string(b) != "CHAIN\n" {
				t.Errorf("chain file = %q", b)
			}
			if code, out, _ := run(t, append(append(args, "-o", "id"), srv...)...); code != 0 || out != "dev_1\n" {
				t.Fatalf("-o id: exit %d %q", code, out)
			}
		})
	}
}

func TestDeviceOnboardRefusesMismatchedKey(t *testing.T) {
	dir := t.TempDir()
	_, _, certFile, _ := testKey(t, dir, "idevid", "ecdsa")
	_, otherKey, _, _ := testKey(t, dir, "other", "ecdsa")
	csrFile := filepath.Join(dir, "ldevid.der")
	deviceCSR(t, csrFile, false)
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"POST /v1/challenges": func(w http.ResponseWriter, r *http.Request) { t.Error("a challenge was spent on a mismatched key") },
	})
	code, _, stderr := run(t, append([]string{"device", "onboard", "--env", "env_1", "--factory-cert", certFile, "--factory-key", otherKey, "--csr", csrFile}, srv...)...)
	if code != ExitInvalid || !strings.Contains(stderr, "is not the key of the certificate") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// TestDeviceOnboardSendsOnlyCertificates: of a certificate file that also holds the key, only
// the certificates are sent.
func TestDeviceOnboardSendsOnlyCertificates(t *testing.T) {
	dir := t.TempDir()
	_, keyFile, _, certPEM := testKey(t, dir, "idevid", "ecdsa")
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	both := filepath.Join(dir, "idevid-with-key.pem")
	if err := os.WriteFile(both, append(append([]byte("the device's identity\n"), keyPEM...), certPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	csrFile := filepath.Join(dir, "ldevid.der")
	deviceCSR(t, csrFile, false)
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"POST /v1/challenges": challengeReply(t, nil, ""),
		"POST /v1/environments/{id}/onboard": func(w http.ResponseWriter, r *http.Request) {
			var req struct {
				FactoryCertificate string `json:"factory_certificate"`
			}
			json.NewDecoder(r.Body).Decode(&req)
			if req.FactoryCertificate != string(certPEM) {
				t.Errorf("factory_certificate = %q, want the certificate alone", req.FactoryCertificate)
			}
			reply(201, identityReply(certPEM, "onboard"))(w, r)
		},
	})
	code, _, stderr := run(t, append([]string{"device", "onboard", "--env", "env_1", "--factory-cert", both, "--factory-key", both, "--csr", csrFile}, srv...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// TestDeviceKeyCommandsRefuseUnreadableCertificate: a certificate file whose certificate does
// not parse, or that holds none, is refused before a challenge is spent: the key could not be
// checked against it.
func TestDeviceKeyCommandsRefuseUnreadableCertificate(t *testing.T) {
	dir := t.TempDir()
	_, keyFile, _, _ := testKey(t, dir, "device", "ecdsa")
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	csrFile := filepath.Join(dir, "next.der")
	deviceCSR(t, csrFile, false)
	garbage := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}})
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"POST /v1/challenges": func(w http.ResponseWriter, r *http.Request) {
			t.Error("a challenge was spent on an unreadable certificate")
		},
	})
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"certificate does not parse", garbage, "certificate 1 does not parse"},
		{"no certificate, only the key", keyPEM, "no PEM certificate found"},
	} {
		certFile := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".pem")
		if err := os.WriteFile(certFile, tc.data, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			{"device", "onboard", "--env", "env_1", "--factory-cert", certFile, "--factory-key", keyFile, "--csr", csrFile},
			{"device", "renew", "--cert", certFile, "--key", keyFile, "--csr", csrFile},
		} {
			t.Run(args[1]+"/"+tc.name, func(t *testing.T) {
				code, _, stderr := run(t, append(args, srv...)...)
				if code != ExitInvalid || !strings.Contains(stderr, certFile+": "+tc.want) {
					t.Fatalf("exit %d, want %d naming %s and %q: %s", code, ExitInvalid, certFile, tc.want, stderr)
				}
			})
		}
	}
}

func TestDeviceRenewProvesCurrentKey(t *testing.T) {
	dir := t.TempDir()
	key, keyFile, certFile, certPEM := testKey(t, dir, "ldevid", "ecdsa")
	csrFile := filepath.Join(dir, "next.csr")
	_, keyHash := deviceCSR(t, csrFile, true)
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"POST /v1/challenges": challengeReply(t, map[string]string{"purpose": "renew", "certificate_serial": "5f3a", "csr_key_sha256": keyHash}, ""),
		"POST /v1/renewals": func(w http.ResponseWriter, r *http.Request) {
			var req struct {
				CSR                string `json:"csr"`
				CurrentCertificate string `json:"current_certificate"`
				Proof              struct {
					ChallengeID string `json:"challenge_id"`
					Signature   string `json:"signature"`
				} `json:"proof"`
			}
			json.NewDecoder(r.Body).Decode(&req)
			if req.CurrentCertificate != string(certPEM) || !strings.HasPrefix(req.CSR, "-----BEGIN CERTIFICATE REQUEST") {
				t.Errorf("request %+v", req)
			}
			if req.Proof.ChallengeID != "chl_1" || !verifyProof(t, key.Public(), "renew", "env_1", testNonce, keyHash, req.Proof.Signature) {
				t.Errorf("proof %+v does not verify with the operational key", req.Proof)
			}
			reply(201, identityReply(certPEM, "renew"))(w, r)
		},
	})
	code, out, stderr := run(t, append([]string{"device", "renew", "--cert", certFile, "--key", keyFile, "--csr", csrFile, "-o", "json"}, srv...)...)
	var id map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &id) != nil || id["evidence"].(map[string]any)["kind"] != "renew" {
		t.Fatalf("exit %d, stdout %s, stderr %s", code, out, stderr)
	}
}

// TestDeviceOnboardRefusesRelayedChallenge: a challenge that names another CSR key than the
// command's (a relay asked for one for its own key) is not signed, and nothing is sent.
func TestDeviceOnboardRefusesRelayedChallenge(t *testing.T) {
	dir := t.TempDir()
	_, keyFile, certFile, _ := testKey(t, dir, "idevid", "ecdsa")
	csrFile := filepath.Join(dir, "ldevid.der")
	deviceCSR(t, csrFile, false)
	_, relayHash := deviceCSR(t, filepath.Join(dir, "relay.der"), false)
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"POST /v1/challenges": challengeReply(t, nil, relayHash),
		"POST /v1/environments/{id}/onboard": func(w http.ResponseWriter, r *http.Request) {
			t.Error("a proof was sent for a challenge of another key")
		},
	})
	code, _, stderr := run(t, append([]string{"device", "onboard", "--env", "env_1", "--factory-cert", certFile, "--factory-key", keyFile, "--csr", csrFile}, srv...)...)
	if code == 0 || !strings.Contains(stderr, "refusing to sign it") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

func TestRevocationDryRunAndExecute(t *testing.T) {
	var bodies []map[string]any
	result := func(dry bool) string {
		run := `"run_id":"rvk_1",`
		if dry {
			run = ""
		}
		return `{"dry_run":` + map[bool]string{true: "true", false: "false"}[dry] + `,` + run + `"reason":"keyCompromise",
			"factory":[{"serial":"5f3a","device_id":"dev_1","lot_id":"lot_1","state":"issued"}],
			"suspended":[{"device_id":"dev_1","serial":"7b","environment_id":"env_1"}],"already_revoked":2}`
	}
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"POST /v1/manufacturing/revocations": func(w http.ResponseWriter, r *http.Request) {
			var b map[string]any
			json.NewDecoder(r.Body).Decode(&b)
			bodies = append(bodies, b)
			if b["reason"] != "keyCompromise" {
				problem(400, "invalid", "unknown revocation reason")(w, r)
				return
			}
			dry, _ := b["dry_run"].(bool)
			status := 200
			if !dry {
				status = 201
			}
			reply(status, result(dry))(w, r)
		},
	})
	base := []string{"revocation", "create", "--manufacturer", "acme", "--lot", "lot_1", "--issued-from", "2026-03-01T00:00:00Z", "--reason", "keyCompromise"}

	code, out, stderr := run(t, append(base, srv...)...)
	if code != 0 {
		t.Fatalf("dry run: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Would revoke 1 factory identities", "5F3A", "Would suspend 1 operational identities", "7B", "env_1", "Already revoked:", dryRunNote} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	sel, _ := bodies[0]["selector"].(map[string]any)
	if bodies[0]["dry_run"] != true || sel["manufacturer_id"] != "acme" || sel["lot_id"] != "lot_1" || sel["issued_from"] != "2026-03-01T00:00:00Z" || sel["issued_to"] != nil {
		t.Errorf("dry run body %v", bodies[0])
	}

	code, out, stderr = run(t, append(append(base, "-o", "id"), srv...)...)
	if code != 0 || out != "" || !strings.Contains(stderr, dryRunNote) {
		t.Fatalf("dry run -o id: exit %d, stdout %q, stderr %q", code, out, stderr)
	}

	code, out, stderr = run(t, append(append(base, "--execute"), srv...)...)
	if code != 0 || !strings.Contains(out, "rvk_1") || !strings.Contains(out, "Revoked 1 factory identities") || strings.Contains(out, "dry run") {
		t.Fatalf("execute: exit %d, stdout %s, stderr %s", code, out, stderr)
	}
	if bodies[2]["dry_run"] != false {
		t.Errorf("execute body %v", bodies[2])
	}
	code, out, _ = run(t, append(append(base, "--execute", "-o", "id"), srv...)...)
	if code != 0 || out != "rvk_1\n" {
		t.Fatalf("execute -o id: exit %d %q", code, out)
	}

	// --limit asks for the first rows with whole counts, in a dry run only.
	limited := fakeServer(t, map[string]http.HandlerFunc{
		"POST /v1/manufacturing/revocations": func(w http.ResponseWriter, r *http.Request) {
			var b map[string]any
			json.NewDecoder(r.Body).Decode(&b)
			if b["limit"] != float64(1) || b["dry_run"] != true {
				t.Errorf("limited dry run body %v", b)
			}
			reply(200, `{"dry_run":true,"reason":"keyCompromise","factory":[{"serial":"5f3a","device_id":"dev_1","lot_id":"lot_1","state":"issued"}],
				"suspended":[{"device_id":"dev_1","serial":"7b","environment_id":"env_1"}],"already_revoked":0,
				"counts":{"factory":3,"suspended":2,"environments":[{"environment_id":"env_1","suspended":1},{"environment_id":"env_2","suspended":1}]}}`)(w, r)
		},
	})
	code, out, stderr = run(t, append(append(base, "--limit", "1"), limited...)...)
	if code != 0 {
		t.Fatalf("limited dry run: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Would revoke 3 factory identities (the first 1 listed)", "Would suspend 2 operational identities (the first 1 listed)", "env_2: 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("limited dry run output lacks %q:\n%s", want, out)
		}
	}
	n := len(bodies)
	code, _, stderr = run(t, append(append(base, "--limit", "1", "--execute"), srv...)...)
	if code != ExitUsage || !strings.Contains(stderr, "dry run only") || len(bodies) != n {
		t.Fatalf("--limit with --execute: exit %d, %s, %d requests", code, stderr, len(bodies)-n)
	}

	// A reason the CLI does not know is the server's to refuse.
	bad := []string{"revocation", "create", "--manufacturer", "acme", "--device", "dev_1", "--reason", "sunspots"}
	code, _, stderr = run(t, append(bad, srv...)...)
	if code != ExitInvalid || !strings.Contains(stderr, "unknown revocation reason") || bodies[len(bodies)-1]["reason"] != "sunspots" {
		t.Fatalf("bad reason: exit %d, %s", code, stderr)
	}
}

func TestRevocationShow(t *testing.T) {
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"GET /v1/manufacturing/revocations/{id}": reply(200, `{"run":{"id":"rvk_1","manufacturer_id":"acme","selector":{"manufacturer_id":"acme","lot_id":"lot_1"},
			"reason":1,"requested_by":"prn_1","created_at":"2026-03-02T00:00:00Z","finished_at":"2026-03-02T00:00:01Z"},
			"items":[{"run_id":"rvk_1","serial":"5f3a","device_id":"dev_1","action":"factory-revoked","at":"2026-03-02T00:00:00Z"},
			{"run_id":"rvk_1","serial":"7b","device_id":"dev_1","action":"operational-suspended","at":"2026-03-02T00:00:00Z"}]}`),
	})
	code, out, stderr := run(t, append([]string{"revocation", "show", "rvk_1"}, srv...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"rvk_1", "lot lot_1", "keyCompromise", "prn_1", "Items (2)", "factory-revoked", "operational-suspended", "7B"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

const envView = `{"id":"env_1","operator_id":"fleetco","name":"plant-a","site":"berlin","issuing_ca_id":"ca_9","trust_domain":"fleet.example",
	"lifetime":"24h0m0s","max_age":"72h0m0s","services":["ota","telemetry"],"created_at":"2026-01-01T00:00:00Z",
	"onboarding_policy":{"environment_id":"env_1","kind":"onboarding","version":2,"spec":{"rules":[{"name":"firmware-known","expr":"facts.firmware_digest == build_record.firmware_digest","message":"unknown firmware"}]},"created_by":"prn_1","created_at":"2026-01-01T00:00:00Z"},
	"renewal_policy":{"environment_id":"env_1","kind":"renewal","version":1,"spec":{"rules":[],"require_approval":"operational.renewals > 10"},"created_by":"prn_1","created_at":"2026-01-01T00:00:00Z"}}`

func TestEnvCommands(t *testing.T) {
	dir := t.TempDir()
	polFile := filepath.Join(dir, "onboarding.json")
	os.WriteFile(polFile, []byte(`{"rules":[{"name":"r","expr":"true"}]}`+"\n"), 0o600)
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"POST /v1/operational/hierarchies": func(w http.ResponseWriter, r *http.Request) {
			var b map[string]any
			json.NewDecoder(r.Body).Decode(&b)
			if b["operator_id"] != "fleetco" || b["name"] != "ops" || b["algorithm"] != "ed25519" {
				t.Errorf("hierarchy body %v", b)
			}
			reply(201, `{"root":{"id":"ca_8","role":"root"},"issuing":{"id":"ca_9","role":"issuing"}}`)(w, r)
		},
		"POST /v1/environments": func(w http.ResponseWriter, r *http.Request) {
			var b map[string]json.RawMessage
			json.NewDecoder(r.Body).Decode(&b)
			if string(b["operator_id"]) != `"fleetco"` || string(b["lifetime"]) != `"24h"` || string(b["max_age"]) != `"72h"` ||
				string(b["services"]) != `["ota","telemetry"]` || string(b["onboarding_policy"]) != `{"rules":[{"name":"r","expr":"true"}]}` || b["renewal_policy"] != nil {
				t.Errorf("environment body %v", b)
			}
			reply(201, envView)(w, r)
		},
		"GET /v1/environments":      reply(200, `{"items":[{"id":"env_1","name":"plant-a","lifetime":"24h0m0s","max_age":"72h0m0s"}]}`),
		"GET /v1/environments/{id}": reply(200, envView),
		"PUT /v1/environments/{id}/policies/{kind}": func(w http.ResponseWriter, r *http.Request) {
			raw, _ := io.ReadAll(r.Body)
			if r.PathValue("id") != "env_1" || r.PathValue("kind") != "onboarding" || string(raw) != `{"rules":[{"name":"r","expr":"true"}]}` {
				t.Errorf("policy %s %s: %s", r.PathValue("id"), r.PathValue("kind"), raw)
			}
			reply(200, `{"environment_id":"env_1","kind":"onboarding","version":3,"spec":{},"created_by":"prn_1","created_at":"2026-01-03T00:00:00Z"}`)(w, r)
		},
	})
	if code, out, stderr := run(t, append([]string{"operational", "create-hierarchy", "--operator", "fleetco", "--name", "ops", "--algorithm", "ed25519", "-o", "id"}, srv...)...); code != 0 || out != "ca_8\nca_9\n" {
		t.Fatalf("create-hierarchy: exit %d %q %s", code, out, stderr)
	}
	create := []string{"env", "create", "--operator", "fleetco", "--name", "plant-a", "--issuing-ca", "ca_9", "--trust-domain", "fleet.example",
		"--lifetime", "24h", "--max-age", "72h", "--service", "ota", "--service", "telemetry", "--onboarding-policy", polFile}
	if code, out, stderr := run(t, append(append(create, "-o", "id"), srv...)...); code != 0 || out != "env_1\n" {
		t.Fatalf("env create: exit %d %q %s", code, out, stderr)
	}
	if code, out, _ := run(t, append([]string{"env", "list"}, srv...)...); code != 0 || !strings.Contains(out, "plant-a") || !strings.Contains(out, "24h0m0s") {
		t.Fatalf("env list: exit %d\n%s", code, out)
	}
	code, out, stderr := run(t, append([]string{"env", "show", "env_1"}, srv...)...)
	if code != 0 {
		t.Fatalf("env show: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"plant-a", "fleet.example", "ota, telemetry", "Onboarding policy", "Version:", "2", "firmware-known",
		"facts.firmware_digest == build_record.firmware_digest", "unknown firmware", "Renewal policy", "operational.renewals > 10"} {
		if !strings.Contains(out, want) {
			t.Errorf("env show lacks %q:\n%s", want, out)
		}
	}
	if code, out, stderr := run(t, append([]string{"env", "policy", "set", "env_1", "--kind", "onboarding", "--file", polFile, "-o", "id"}, srv...)...); code != 0 || out != "3\n" {
		t.Fatalf("policy set: exit %d %q %s", code, out, stderr)
	}
	if code, out, _ := run(t, append([]string{"env", "policy", "set", "env_1", "--kind", "onboarding", "--file", polFile}, srv...)...); code != 0 || !strings.Contains(out, "Version:") || !strings.Contains(out, "3") {
		t.Fatalf("policy set table: exit %d\n%s", code, out)
	}
}

func TestOperationalUsageErrors(t *testing.T) {
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "p.txt")
	os.WriteFile(notJSON, []byte("rules: []"), 0o600)
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"revocation without selector", []string{"revocation", "create", "--manufacturer", "acme", "--reason", "keyCompromise"}, ExitUsage},
		{"revocation without reason", []string{"revocation", "create", "--manufacturer", "acme", "--lot", "l"}, ExitUsage},
		{"revocation bad time", []string{"revocation", "create", "--manufacturer", "acme", "--issued-from", "yesterday", "--reason", "keyCompromise"}, ExitUsage},
		{"policy bad kind", []string{"env", "policy", "set", "env_1", "--kind", "offboarding", "--file", notJSON}, ExitUsage},
		{"policy not JSON", []string{"env", "policy", "set", "env_1", "--kind", "renewal", "--file", notJSON}, ExitInvalid},
		{"env bad lifetime", []string{"env", "create", "--operator", "o", "--name", "n", "--issuing-ca", "c", "--trust-domain", "t", "--lifetime", "1 day", "--max-age", "72h"}, ExitUsage},
		{"env bad support window", []string{"env", "create", "--operator", "o", "--name", "n", "--issuing-ca", "c", "--trust-domain", "t", "--lifetime", "24h", "--max-age", "72h", "--support-max-window", "a shift"}, ExitUsage},
		{"env missing max-age", []string{"env", "create", "--operator", "o", "--name", "n", "--issuing-ca", "c", "--trust-domain", "t", "--lifetime", "24h"}, ExitUsage},
		{"onboard bad fact", []string{"device", "onboard", "--env", "e", "--factory-cert", "c", "--factory-key", "k", "--csr", "r", "--fact", "novalue"}, ExitUsage},
		{"onboard bad digest", []string{"device", "onboard", "--env", "e", "--factory-cert", "c", "--factory-key", "k", "--csr", "r", "--firmware-digest", "xyz"}, ExitUsage},
		{"onboard missing key", []string{"device", "onboard", "--env", "e", "--factory-cert", "c", "--csr", "r"}, ExitUsage},
		{"onboard unreadable key", []string{"device", "onboard", "--env", "e", "--factory-cert", notJSON, "--factory-key", "/nonexistent.key", "--csr", notJSON}, ExitInvalid},
		{"revoke without reason", []string{"device", "revoke", "dev_1"}, ExitUsage},
		{"readmit without device", []string{"device", "readmit"}, ExitUsage},
		{"bad expiring-before", []string{"device", "list", "--expiring-before", "tomorrow"}, ExitUsage},
		{"operational bad algorithm", []string{"operational", "create-hierarchy", "--operator", "o", "--name", "n", "--algorithm", "dsa"}, ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, tt.args...)
			if code != tt.want {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.want, stderr)
			}
		})
	}
}

func TestDeviceRevokeReadmitListShow(t *testing.T) {
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"POST /v1/devices/{id}/revoke": func(w http.ResponseWriter, r *http.Request) {
			var b map[string]any
			json.NewDecoder(r.Body).Decode(&b)
			if r.PathValue("id") != "dev_1" || b["reason"] != "keyCompromise" || len(b) != 1 {
				t.Errorf("revoke %s %v", r.PathValue("id"), b)
			}
			reply(200, `{"id":"dev_1","state":"quarantined","environment_id":"env_1"}`)(w, r)
		},
		"POST /v1/devices/{id}/readmit": reply(202, `{"device":{"id":"dev_1","state":"quarantined"},"approval":`+pendingReadmit+`}`),
		"GET /v1/devices": func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			if q.Get("environment") != "env_1" || q.Get("expiring_before") != "2026-12-01T00:00:00Z" {
				t.Errorf("query %q", r.URL.RawQuery)
			}
			reply(200, `{"items":[{"id":"dev_1","environment_id":"env_1"}]}`)(w, r)
		},
		"GET /v1/devices/{id}": reply(200, `{"id":"dev_1","serial":"SN1","state":"active","environment_id":"env_1","operational_certificate":"7c",
			"certificates":[],"custody":[],
			"lineage":[{"serial":"7b","device_id":"dev_1","environment_id":"env_1","kind":"onboard","based_on":"5f3a","factory_serial":"5f3a","protocol":"api","policy_kind":"onboarding","policy_version":2,"principal_id":"prn_gw","created_at":"2026-01-01T00:00:00Z"},
			{"serial":"7c","device_id":"dev_1","environment_id":"env_1","kind":"renew","based_on":"7b","factory_serial":"5f3a","protocol":"est","policy_kind":"renewal","policy_version":1,"principal_id":"prn_gw","created_at":"2026-01-02T00:00:00Z"}]}`),
	})
	if code, out, stderr := run(t, append([]string{"device", "revoke", "dev_1", "--reason", "keyCompromise"}, srv...)...); code != 0 || !strings.Contains(out, "quarantined") {
		t.Fatalf("revoke: exit %d\n%s%s", code, out, stderr)
	}
	if code, out, _ := run(t, append([]string{"device", "readmit", "dev_1", "--reason", "repaired", "-o", "id"}, srv...)...); code != 0 || out != "apr-1\n" {
		t.Fatalf("readmit: exit %d %q", code, out)
	}
	if code, out, stderr := run(t, append([]string{"device", "list", "--environment", "env_1", "--expiring-before", "2026-12-01T01:00:00+01:00", "-o", "id"}, srv...)...); code != 0 || out != "dev_1\n" {
		t.Fatalf("list: exit %d %q %s", code, out, stderr)
	}
	code, out, stderr := run(t, append([]string{"device", "show", "dev_1"}, srv...)...)
	if code != 0 {
		t.Fatalf("show: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Lineage", "onboard", "renew", "5F3A", "onboarding v2", "renewal v1", "est", "prn_gw", "2026-01-02T00:00:00Z", "Operational certificate:", "7C"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
}
