package cli

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/api/proof"
	"github.com/hallmark-id/hallmark/client"
	"github.com/hallmark-id/hallmark/internal/csr"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/policy"
	"github.com/hallmark-id/hallmark/internal/revocation"
)

func (e *env) operationalCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "operational",
		Short: "Create operational certificate authorities",
		Long: `Operational CAs sign the operational (LDevID) certificates devices receive when they are
onboarded into an operator's environment. A hierarchy is an operational root CA and an issuing
CA under it.`,
		Example: `  hallmark operational create-hierarchy --operator fleetco --name fleet-ops`,
	}
	var h api.CreateOperationalHierarchyRequest
	createH := &cobra.Command{
		Use:   "create-hierarchy",
		Short: "Create an operational root CA and an issuing CA under it",
		Long: `Create an operational root CA and an issuing CA for an operator; their keys are generated and
kept by the server. Environments name the issuing CA. -o id prints the root CA's ID, then the
issuing CA's ID, one a line.`,
		Example: `  hallmark operational create-hierarchy --operator fleetco --name fleet-ops --algorithm ecdsa-p384
  OPS_CA=$(hallmark operational create-hierarchy --operator fleetco --name fleet-ops -o id | tail -n 1)`,
		Args: cobra.NoArgs,
		RunE: e.createHierarchy(&h.Algorithm, func(ctx context.Context, c *client.Client) (api.Hierarchy, error) {
			return c.CreateOperationalHierarchy(ctx, h)
		}),
	}
	createH.Flags().StringVar(&h.OperatorID, "operator", "", "operator party ID")
	createH.Flags().StringVar(&h.Name, "name", "", "CA name (a slug)")
	algorithmFlag(createH, &h.Algorithm)
	createH.Flags().IntVar(&h.CRLPartitions, "crl-partitions", 0, "CRL partitions of the issuing CA, 1 to 1024, fixed for its life; a device's certificates name partition SHA-256(device ID) mod this (default 16)")
	required(createH, "operator", "name")
	cmd.AddCommand(createH)
	return cmd
}

func (e *env) envCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Define operator environments and their onboarding and renewal policies",
		Long: `An environment is an operator's deployed context (site, zone, services) with the operational
issuing CA, certificate lifetime and maximum age its devices' identities are issued under, and two
versioned CEL policies: onboarding decides whether a factory identity is exchanged for an
operational one, renewal whether an operational identity is renewed. A policy is never edited,
only superseded by a new version; every issuance records the version it used.`,
		Example: `  hallmark env create --operator fleetco --name plant-a --issuing-ca ca_123 --trust-domain fleet.example \
      --lifetime 24h --max-age 72h
  hallmark env show env_123
  hallmark env policy set env_123 --kind renewal --file renewal.json`,
	}

	var req api.CreateEnvironmentRequest
	var onbFile, renFile string
	create := &cobra.Command{
		Use:   "create",
		Short: "Define an environment",
		Long: `Define an environment of an operator. --issuing-ca is the operational issuing CA that signs its
devices' certificates; --trust-domain is the SPIFFE trust domain of their identities. --lifetime
is the lifetime of each operational certificate and --max-age the longest a device may go on
renewing before it must onboard again (Go durations: 24h, 90m). --support-max-window bounds the
window of vendor support grants in the environment (default 8h; see "hallmark support request").

--onboarding-policy and --renewal-policy are policy documents (JSON: rules with CEL expressions,
see docs/policies.md); without them the server's defaults become version 1. -o id prints the
environment's ID.

EST devices reach the environment at the label /.well-known/est/<name>/ when it is the first
environment, of any operator, to claim that name, and always at /.well-known/est/<ID>/. When an
earlier environment holds the name, the output says so and shows the ID as the EST label.`,
		Example: `  ENV=$(hallmark env create --operator fleetco --name plant-a --site berlin --zone line-3 \
      --issuing-ca "$OPS_CA" --trust-domain fleet.example --lifetime 24h --max-age 72h \
      --service telemetry --service ota --onboarding-policy onboarding.json -o id)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, d := range []struct{ flag, v string }{{"lifetime", req.Lifetime}, {"max-age", req.MaxAge}, {"support-max-window", req.SupportMaxWindow}} {
				if d.v == "" && d.flag == "support-max-window" {
					continue
				}
				if _, err := time.ParseDuration(d.v); err != nil {
					return usagef("--%s must be a duration such as 24h, not %q", d.flag, d.v)
				}
			}
			var err error
			if req.Onboarding, err = readPolicy("onboarding-policy", onbFile); err != nil {
				return err
			}
			if req.Renewal, err = readPolicy("renewal-policy", renFile); err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			v, err := c.CreateEnvironment(cmd.Context(), req)
			if err != nil {
				return err
			}
			return e.emit(v, []string{v.ID}, func(w io.Writer) { envDetail(w, v) })
		},
	}
	cf := create.Flags()
	cf.StringVar(&req.OperatorID, "operator", "", "operator party ID")
	cf.StringVar(&req.Name, "name", "", "environment name (a slug)")
	cf.StringVar(&req.IssuingCAID, "issuing-ca", "", "ID of the operational issuing CA that signs the environment's certificates")
	cf.StringVar(&req.TrustDomain, "trust-domain", "", "SPIFFE trust domain of the devices' identities, e.g. fleet.example")
	cf.StringVar(&req.Lifetime, "lifetime", "", "lifetime of each operational certificate (a Go duration, e.g. 24h)")
	cf.StringVar(&req.MaxAge, "max-age", "", "longest a device may renew before it must onboard again (a Go duration, e.g. 72h)")
	cf.StringVar(&req.Site, "site", "", "site the environment is deployed at")
	cf.StringVar(&req.Zone, "zone", "", "zone within the site")
	cf.StringSliceVar(&req.Services, "service", nil, "a service the environment's devices may reach (repeatable)")
	cf.StringVar(&req.SupportMaxWindow, "support-max-window", "", "longest support grant window in the environment (a Go duration, 15m to 168h; default 8h)")
	cf.StringVar(&onbFile, "onboarding-policy", "", "onboarding policy document (JSON file; default: the server's)")
	cf.StringVar(&renFile, "renewal-policy", "", "renewal policy document (JSON file; default: the server's)")
	required(create, "operator", "name", "issuing-ca", "trust-domain", "lifetime", "max-age")

	listCmd := &cobra.Command{
		Use:     "list",
		Short:   "List environments",
		Long:    "List the environments you may see: your operator's (auditors see all).",
		Example: `  hallmark env list -o id`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			envs, err := c.ListEnvironments(cmd.Context())
			if err != nil {
				return err
			}
			ids := make([]string, len(envs))
			for i, v := range envs {
				ids[i] = v.ID
			}
			return e.emit(envs, ids, func(w io.Writer) {
				row(w, "ID", "OPERATOR", "NAME", "SITE", "ZONE", "TRUST DOMAIN", "LIFETIME", "MAX AGE", "ISSUING CA", "CREATED")
				for _, v := range envs {
					row(w, v.ID, v.OperatorID, v.Name, v.Site, v.Zone, v.TrustDomain, time.Duration(v.Lifetime), time.Duration(v.MaxAge), v.IssuingCAID, ts(v.CreatedAt))
				}
			})
		},
	}

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show an environment with its current policies",
		Long: `Show an environment: its settings and the current version of its onboarding and renewal
policies with their rules. -o json prints the policy documents as stored.`,
		Example: `  hallmark env show env_123
  hallmark env show env_123 -o json | jq .renewal_policy.spec`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			v, err := c.GetEnvironment(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return e.emit(v, []string{v.ID}, func(w io.Writer) { envDetail(w, v) })
		},
	}

	pol := &cobra.Command{
		Use:   "policy",
		Short: "Change an environment's onboarding or renewal policy",
		Long: `Policies are versioned: setting one stores the next version, and every later decision uses it.
Earlier versions stay on record with the decisions made under them.`,
		Example: `  hallmark env policy set env_123 --kind onboarding --file onboarding.json`,
	}
	var kind, file string
	set := &cobra.Command{
		Use:   "set ID",
		Short: "Store a new version of an environment's policy",
		Long: `Store the policy document in --file (JSON: rules with CEL expressions, see docs/policies.md) as
the next version of the environment's onboarding or renewal policy. The server compiles it first
and refuses a policy that does not compile; nothing changes then. Prints the new version
(-o id prints the version number alone).`,
		Example: `  hallmark env policy set env_123 --kind renewal --file renewal.json
  V=$(hallmark env policy set env_123 --kind onboarding --file onboarding.json -o id)`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if kind != api.PolicyOnboarding && kind != api.PolicyRenewal {
				return usagef("--kind must be onboarding or renewal, not %q", kind)
			}
			spec, err := readPolicy("file", file)
			if err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			pv, err := c.SetPolicy(cmd.Context(), args[0], kind, spec)
			if err != nil {
				return err
			}
			return e.emit(pv, []string{strconv.Itoa(pv.Version)}, func(w io.Writer) {
				kv(w, "Environment", pv.EnvironmentID)
				kv(w, "Policy", pv.Kind)
				kv(w, "Version", pv.Version)
				kv(w, "Created", ts(pv.CreatedAt)+" by "+orDash(pv.CreatedBy))
			})
		},
	}
	set.Flags().StringVar(&kind, "kind", "", "which policy: onboarding or renewal")
	set.Flags().StringVar(&file, "file", "", "the policy document (JSON file)")
	required(set, "kind", "file")
	pol.AddCommand(set)

	cmd.AddCommand(create, listCmd, show, pol)
	return cmd
}

// readPolicy reads a policy document named by a flag; no file is no policy (nil).
func readPolicy(flag, file string) (json.RawMessage, error) {
	if file == "" {
		return nil, nil
	}
	b, err := readInput(flag, file)
	if err != nil {
		return nil, err
	}
	b = []byte(strings.TrimSpace(string(b)))
	if !json.Valid(b) {
		return nil, invalidf("--%s %s is not JSON", flag, file)
	}
	return json.RawMessage(b), nil
}

func envDetail(w io.Writer, v api.EnvironmentView) {
	fmt.Fprintln(w, "Environment")
	kv(w, "  ID", v.ID)
	kv(w, "  Name", v.Name)
	kv(w, "  Operator", v.OperatorID)
	kv(w, "  Site", v.Site)
	kv(w, "  Zone", v.Zone)
	kv(w, "  Issuing CA", v.IssuingCAID)
	kv(w, "  Trust domain", v.TrustDomain)
	kv(w, "  Lifetime", time.Duration(v.Lifetime))
	kv(w, "  Max age", time.Duration(v.MaxAge))
	if v.SupportMaxWindow != 0 {
		kv(w, "  Support max window", time.Duration(v.SupportMaxWindow))
	}
	kv(w, "  Services", strings.Join(v.Services, ", "))
	kv(w, "  Created", ts(v.CreatedAt))
	if v.ESTLabel != "" {
		kv(w, "  EST label", v.ESTLabel)
		if v.ESTLabel != v.Name {
			fmt.Fprintf(w, "  (another environment claimed the name %q as its EST label first: EST devices reach this one by its ID only)\n", v.Name)
		}
	}
	for _, p := range []struct {
		title string
		pv    api.PolicyVersion
	}{{"Onboarding policy", v.Onboarding}, {"Renewal policy", v.Renewal}} {
		fmt.Fprintf(w, "\n%s\n", p.title)
		policyDetail(w, p.pv)
	}
}

func policyDetail(w io.Writer, pv api.PolicyVersion) {
	if pv.Version == 0 {
		fmt.Fprintln(w, "  none")
		return
	}
	kv(w, "  Version", pv.Version)
	kv(w, "  Created", ts(pv.CreatedAt)+" by "+orDash(pv.CreatedBy))
	var spec policy.Spec
	if err := json.Unmarshal(pv.Spec, &spec); err != nil {
		kv(w, "  Spec", string(pv.Spec))
		return
	}
	if spec.RequireApproval != "" {
		kv(w, "  Approval required when", spec.RequireApproval)
	}
	if len(spec.Rules) == 0 {
		kv(w, "  Rules", "none")
		return
	}
	row(w, "  RULE", "EXPRESSION", "MESSAGE")
	for _, r := range spec.Rules {
		row(w, "  "+r.Name, r.Expr, r.Message)
	}
}

// factsFlags are the facts a device reports at onboarding and renewal.
type factsFlags struct {
	firmware, hwRev string
	extra           []string
}

func (f *factsFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.firmware, "firmware-digest", "", "SHA-256 (hex) of the firmware the device runs now")
	fl.StringVar(&f.hwRev, "hardware-revision", "", "hardware revision the device reports")
	fl.StringArrayVar(&f.extra, "fact", nil, "another fact as key=value (repeatable), for policies to read as facts.extra")
}

func (f *factsFlags) facts() (api.Facts, error) {
	out := api.Facts{FirmwareDigest: f.firmware, HardwareRevision: f.hwRev}
	if f.firmware != "" {
		if _, err := hex.DecodeString(f.firmware); err != nil {
			return out, usagef("--firmware-digest must be hex, not %q", f.firmware)
		}
	}
	for _, kvs := range f.extra {
		k, v, ok := strings.Cut(kvs, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return out, usagef("--fact must be key=value, not %q", kvs)
		}
		if out.Extra == nil {
			out.Extra = map[string]string{}
		}
		if _, dup := out.Extra[k]; dup {
			return out, usagef("--fact %s is given twice", k)
		}
		out.Extra[k] = v
	}
	return out, nil
}

// readSigner reads a private key (PEM) for a proof of possession; it is used here and never
// sent. An encrypted key's passphrase comes from the environment variable passEnv.
func readSigner(flag, file, passEnv string) (crypto.Signer, error) {
	b, err := readInput(flag, file)
	if err != nil {
		return nil, err
	}
	var pass []byte
	if passEnv != "" {
		v, ok := os.LookupEnv(passEnv)
		if !ok {
			return nil, usagef("--passphrase-env: environment variable %s is not set", passEnv)
		}
		pass = []byte(v)
	}
	k, err := keys.ParsePrivateKeyPEM(b, pass)
	if err != nil {
		return nil, fmt.Errorf("--%s %s: %w", flag, file, err)
	}
	return k, nil
}

// leafMatches checks that the first certificate in certPEM holds key's public key, so that a
// mismatched pair is caught before a challenge is spent. A file that does not parse is left
// for the server to refuse.
func leafMatches(certFlag, certFile string, certPEM []byte, keyFlag string, key crypto.Signer) error {
	leaf := firstCert(certPEM)
	if leaf == nil {
		return nil
	}
	type eq interface{ Equal(crypto.PublicKey) bool }
	if k, ok := key.Public().(eq); ok && !k.Equal(leaf.PublicKey) {
		return invalidf("--%s is not the key of the certificate in --%s %s", keyFlag, certFlag, certFile)
	}
	return nil
}

// csrKeyOf reads the public key of a CSR file (PEM or DER) and its SHA-256, which the
// challenge and the proof name it by.
func csrKeyOf(flag, file string, b []byte) (crypto.PublicKey, string, error) {
	req, err := csr.ParseText(csrText(b))
	if err != nil {
		return nil, "", fmt.Errorf("--%s %s: %w", flag, file, err)
	}
	h, err := proof.KeySHA256(req.PublicKey)
	return req.PublicKey, h, err
}

func firstCert(pemBytes []byte) *x509.Certificate {
	for rest := pemBytes; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return nil
		}
		if b.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil
			}
			return c
		}
	}
}

// writeIdentity writes the certificate and chain where asked and prints the summary.
func (e *env) writeIdentity(id api.Identity, certOut, chainOut string) error {
	for _, f := range []struct{ file, what, data string }{
		{certOut, "certificate", id.CertificatePEM},
		{chainOut, "chain", id.ChainPEM},
	} {
		if f.file != "" {
			if err := e.writeOut(f.file, []byte(f.data), f.what); err != nil {
				return err
			}
		}
	}
	serial := firstNonEmpty(id.Evidence.Serial, id.Device.OperationalCert, serialOfPEM(id.CertificatePEM))
	notAfter := "-"
	if c := firstCert([]byte(id.CertificatePEM)); c != nil {
		notAfter = ts(c.NotAfter)
	}
	pol := "-"
	if id.Evidence.PolicyKind != "" {
		pol = fmt.Sprintf("%s v%d", id.Evidence.PolicyKind, id.Evidence.PolicyVersion)
	}
	return e.emit(id, []string{id.Device.ID}, func(w io.Writer) {
		row(w, "DEVICE", "STATE", "OPERATIONAL SERIAL", "ENVIRONMENT", "POLICY", "NOT AFTER")
		row(w, id.Device.ID, id.Device.State, serial, firstNonEmpty(id.Evidence.EnvironmentID, id.Device.EnvironmentID), pol, notAfter)
	})
}

// deviceOperationalCommands are the device subcommands of the operational stage.
func (e *env) deviceOperationalCommands() []*cobra.Command {
	var envID, certFile, keyFile, csrFile, passEnv, certOut, chainOut string
	var ff factsFlags
	onboard := &cobra.Command{
		Use:   "onboard",
		Short: "Onboard a device into an environment with its factory identity",
		Long: `Exchange a device's factory identity for an operational identity in an environment. The command
acts for the device, or for a gateway that holds its factory key: it asks the server for a
challenge bound to this environment and to the key of --csr, signs the challenge's proof message
here with --factory-key, and sends the factory certificate, the signature, the device's new CSR
and the facts the device reports. The factory key never leaves this machine; the CSR must be for
a new key, not the factory key. The proof serves this one request: it names the purpose, the
environment and the CSR's key, so it cannot be replayed or sent with another CSR.

--factory-cert is the device's factory (IDevID) certificate, PEM, optionally followed by its
chain. --csr is PEM or DER. An encrypted key's passphrase is read from the environment variable
named by --passphrase-env. The environment's onboarding policy decides, and the issuance records
the policy version it used. The summary shows the device, its state, the operational
certificate's serial, the environment, the policy version and the certificate's expiry; -o id
prints the device ID.`,
		Example: `  hallmark device onboard --env env_123 --factory-cert idevid.pem --factory-key idevid.key \
      --csr ldevid.csr --firmware-digest 9f86d0... --fact region=eu --cert-out ldevid.pem --chain-out chain.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			facts, err := ff.facts()
			if err != nil {
				return err
			}
			certPEM, err := readInput("factory-cert", certFile)
			if err != nil {
				return err
			}
			csr, err := readInput("csr", csrFile)
			if err != nil {
				return err
			}
			key, err := readSigner("factory-key", keyFile, passEnv)
			if err != nil {
				return err
			}
			if err := leafMatches("factory-cert", certFile, certPEM, "factory-key", key); err != nil {
				return err
			}
			csrKey, keyHash, err := csrKeyOf("csr", csrFile, csr)
			if err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ch, err := c.NewChallenge(cmd.Context(), api.ChallengeRequest{Purpose: proof.PurposeOnboard, EnvironmentID: envID, CSRKeySHA256: keyHash})
			if err != nil {
				return err
			}
			proof, err := client.Prove(ch, proof.PurposeOnboard, envID, csrKey, key)
			if err != nil {
				return err
			}
			id, err := c.Onboard(cmd.Context(), envID, api.OnboardRequest{
				CSR: csrText(csr), FactoryCertificate: string(certPEM), Proof: proof, Facts: facts,
			})
			if err != nil {
				return err
			}
			return e.writeIdentity(id, certOut, chainOut)
		},
	}
	of := onboard.Flags()
	of.StringVar(&envID, "env", "", "environment ID")
	of.StringVar(&certFile, "factory-cert", "", "the device's factory certificate, optionally followed by its chain (PEM file)")
	of.StringVar(&keyFile, "factory-key", "", "the device's factory private key (PEM file); used here to sign the challenge, never sent")
	of.StringVar(&csrFile, "csr", "", "CSR for the device's new operational key (PEM or DER file)")
	of.StringVar(&passEnv, "passphrase-env", "", "name of the environment variable holding the key's passphrase")
	ff.add(onboard)
	of.StringVar(&certOut, "cert-out", "", "write the operational certificate (PEM) to this file")
	of.StringVar(&chainOut, "chain-out", "", "write the chain (PEM: issuing CA, then root) to this file")
	required(onboard, "env", "factory-cert", "factory-key", "csr")

	var rCert, rKey, rCSR, rPass, rCertOut, rChainOut string
	var rf factsFlags
	renew := &cobra.Command{
		Use:   "renew",
		Short: "Renew a device's operational identity",
		Long: `Renew an operational identity before it expires. Like onboard, the command acts for the device:
it asks for a challenge bound to the certificate's environment and to the key of --csr, signs
its proof message here with the current operational key (--key, never sent), and sends the
current certificate, the signature, a CSR and the facts the device reports now. The environment's renewal policy decides. A lapsed certificate cannot renew: the device
onboards again with its factory identity.

An encrypted key's passphrase is read from the environment variable named by --passphrase-env.
The summary is that of onboard; -o id prints the device ID.`,
		Example: `  hallmark device renew --cert ldevid.pem --key ldevid.key --csr ldevid-next.csr \
      --firmware-digest 9f86d0... --cert-out ldevid.pem --chain-out chain.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			facts, err := rf.facts()
			if err != nil {
				return err
			}
			certPEM, err := readInput("cert", rCert)
			if err != nil {
				return err
			}
			csr, err := readInput("csr", rCSR)
			if err != nil {
				return err
			}
			key, err := readSigner("key", rKey, rPass)
			if err != nil {
				return err
			}
			if err := leafMatches("cert", rCert, certPEM, "key", key); err != nil {
				return err
			}
			csrKey, keyHash, err := csrKeyOf("csr", rCSR, csr)
			if err != nil {
				return err
			}
			leaf := firstCert(certPEM)
			if leaf == nil {
				return invalidf("--cert %s holds no PEM certificate", rCert)
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ch, err := c.NewChallenge(cmd.Context(), api.ChallengeRequest{Purpose: proof.PurposeRenew, CertificateSerial: leaf.SerialNumber.Text(16), CSRKeySHA256: keyHash})
			if err != nil {
				return err
			}
			proof, err := client.Prove(ch, proof.PurposeRenew, "", csrKey, key)
			if err != nil {
				return err
			}
			id, err := c.Renew(cmd.Context(), api.RenewRequest{
				CSR: csrText(csr), CurrentCertificate: string(certPEM), Proof: proof, Facts: facts,
			})
			if err != nil {
				return err
			}
			return e.writeIdentity(id, rCertOut, rChainOut)
		},
	}
	rfl := renew.Flags()
	rfl.StringVar(&rCert, "cert", "", "the device's current operational certificate, optionally followed by its chain (PEM file)")
	rfl.StringVar(&rKey, "key", "", "the current operational private key (PEM file); used here to sign the challenge, never sent")
	rfl.StringVar(&rCSR, "csr", "", "CSR for the renewed certificate (PEM or DER file)")
	rfl.StringVar(&rPass, "passphrase-env", "", "name of the environment variable holding the key's passphrase")
	rf.add(renew)
	rfl.StringVar(&rCertOut, "cert-out", "", "write the new certificate (PEM) to this file")
	rfl.StringVar(&rChainOut, "chain-out", "", "write the chain (PEM: issuing CA, then root) to this file")
	required(renew, "cert", "key", "csr")

	var reason string
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a device's operational identity after a runtime compromise",
		Long: `Revoke the device's current operational certificate (the operator's runtime path) and quarantine
the device. Its factory identity is untouched: after repair, "hallmark device readmit" returns it
to onboarding. --reason is an RFC 5280 reason the runtime path allows: unspecified, keyCompromise,
affiliationChanged, superseded, cessationOfOperation or privilegeWithdrawn.

To revoke factory identities (a manufacturing compromise), use "hallmark revocation create".`,
		Example: `  hallmark device revoke dev_123 --reason keyCompromise`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			d, err := c.RevokeDevice(cmd.Context(), args[0], api.RevokeRequest{Reason: reason})
			if err != nil {
				return err
			}
			return e.emit(d, []string{d.ID}, func(w io.Writer) { deviceStateTable(w, d) })
		},
	}
	revoke.Flags().StringVar(&reason, "reason", "", "RFC 5280 revocation reason, e.g. keyCompromise")
	required(revoke, "reason")

	var readmitReason string
	readmit := &cobra.Command{
		Use:   "readmit ID",
		Short: "Ask to re-admit a quarantined or suspended device (it waits for an approval)",
		Long: `Ask to trust a device again, for --reason. Re-admission waits for an approval (kind readmit)
by another principal of the operator than you: "hallmark approval approve ID" re-admits the
device at once. A quarantined device (its operational identity revoked) then returns to the
onboarding path and must onboard again; a suspended device (its operational certificate on hold
after a manufacturing revocation) has the hold lifted and is active again.

Asking again while a request is pending returns that request. The summary shows the device as
it is now and the approval's ID; -o id prints the approval's ID alone.`,
		Example: `  APPROVAL=$(hallmark device readmit dev_123 --reason "board replaced, firmware re-flashed" -o id)
  eval "$(hallmark dev env --as contoso/olivia)"     # another principal of the operator
  hallmark approval approve "$APPROVAL"`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			res, err := c.ReadmitDevice(cmd.Context(), args[0], api.ReadmitRequest{Reason: readmitReason})
			if err != nil {
				return err
			}
			var ids []string
			if res.Approval != nil {
				ids = []string{res.Approval.ID}
			}
			return e.emit(res, ids, func(w io.Writer) {
				deviceStateTable(w, res.Device)
				if res.Approval != nil {
					fmt.Fprintln(w)
					pendingApprovalNote(w, *res.Approval)
				}
			})
		},
	}
	readmit.Flags().StringVar(&readmitReason, "reason", "", "why the device may be trusted again (shown to the approvers)")
	required(readmit, "reason")
	return []*cobra.Command{onboard, renew, revoke, readmit}
}

func deviceStateTable(w io.Writer, d api.Device) {
	row(w, "ID", "SERIAL", "STATE", "ENVIRONMENT", "OPERATIONAL CERTIFICATE", "UPDATED")
	row(w, d.ID, d.Serial, d.State, d.EnvironmentID, d.OperationalCert, ts(d.UpdatedAt))
}

func (e *env) revocationCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revocation",
		Short: "Revoke factory identities after a manufacturing compromise",
		Long: `The manufacturing revocation path: a manufacturer revokes factory identities selected by device,
lot, line, issuing CA or issue time. Every operational identity issued on an affected factory
identity is suspended (certificateHold) in the same transaction; an operator re-admits its
devices after checking them. A revocation is never undone.`,
		Example: `  hallmark revocation create --manufacturer acme --lot lot_123 --reason keyCompromise
  hallmark revocation create --manufacturer acme --lot lot_123 --reason keyCompromise --execute
  hallmark revocation show rvk_123`,
	}
	var sel api.FactorySelector
	var from, to, reason, why string
	var execute bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Revoke factory identities (a dry run unless --execute)",
		Long: `Select factory identities of --manufacturer with at least one of --device, --lot, --line,
--issuing-ca, --issued-from and --issued-to (RFC 3339 times; the selectors combine), and revoke
them for --reason: unspecified, keyCompromise, cACompromise, affiliationChanged, superseded or
cessationOfOperation.

Without --execute this is a dry run: it lists the factory identities that would be revoked and
the operational identities that would be suspended, and changes nothing. With --execute it
revokes them, suspends the operational identities issued on them, and prints the revocation
run's ID (-o id prints it alone); "hallmark revocation show" lists what the run did.

Revoking every factory identity of an issuing CA (--issuing-ca and no narrower selector) with
--execute needs an approval (kind revoke-ca; by default two principals of the manufacturer other
than you): the command then revokes nothing yet, prints the pending approval's ID (-o id prints
it alone), and the revocation runs as soon as the last approver runs "hallmark approval approve".
--why is the justification the approvers see.`,
		Example: `  hallmark revocation create --manufacturer acme --lot lot_123 --reason keyCompromise
  RUN=$(hallmark revocation create --manufacturer acme --lot lot_123 --reason keyCompromise --execute -o id)
  hallmark revocation create --manufacturer acme --line line-a \
      --issued-from 2026-03-01T00:00:00Z --issued-to 2026-03-08T00:00:00Z --reason keyCompromise
  APPROVAL=$(hallmark revocation create --manufacturer acme --issuing-ca ca_123 --reason cACompromise \
      --why "HSM audit found the key exported" --execute -o id)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, t := range []struct {
				flag, v string
				dst     *time.Time
			}{{"issued-from", from, &sel.IssuedFrom}, {"issued-to", to, &sel.IssuedTo}} {
				if t.v == "" {
					continue
				}
				v, err := time.Parse(time.RFC3339, t.v)
				if err != nil {
					return usagef("--%s must be an RFC 3339 time such as 2026-03-01T00:00:00Z, not %q", t.flag, t.v)
				}
				*t.dst = v
			}
			dry := !execute
			c, err := e.client()
			if err != nil {
				return err
			}
			res, err := c.RevokeFactory(cmd.Context(), api.FactoryRevokeRequest{Selector: sel, Reason: reason, DryRun: &dry, Why: why})
			if err != nil {
				return err
			}
			var ids []string
			switch {
			case res.RunID != "":
				ids = []string{res.RunID}
			case res.Approval != nil:
				ids = []string{res.Approval.ID}
			}
			err = e.emit(res, ids, func(w io.Writer) { revokeResultTable(w, res) })
			if err == nil && res.DryRun && e.output != "table" {
				fmt.Fprintln(e.stderr, dryRunNote)
			}
			return err
		},
	}
	f := create.Flags()
	f.StringVar(&sel.ManufacturerID, "manufacturer", "", "manufacturer party ID")
	f.StringVar(&sel.DeviceID, "device", "", "only this device's factory identity")
	f.StringVar(&sel.LotID, "lot", "", "only factory identities of this lot")
	f.StringVar(&sel.Line, "line", "", "only factory identities made on this production line")
	f.StringVar(&sel.IssuingCAID, "issuing-ca", "", "only factory identities signed by this issuing CA")
	f.StringVar(&from, "issued-from", "", "only factory identities issued at or after this time (RFC 3339)")
	f.StringVar(&to, "issued-to", "", "only factory identities issued before this time (RFC 3339)")
	f.StringVar(&reason, "reason", "", "RFC 5280 revocation reason, e.g. keyCompromise")
	f.BoolVar(&execute, "execute", false, "revoke for real (default: a dry run that changes nothing)")
	f.StringVar(&why, "why", "", "justification shown to the approvers of a whole-CA revocation")
	required(create, "manufacturer", "reason")
	create.MarkFlagsOneRequired("device", "lot", "line", "issuing-ca", "issued-from", "issued-to")

	show := &cobra.Command{
		Use:   "show RUN",
		Short: "Show a revocation run and what it revoked and suspended",
		Long: `Show a manufacturing revocation run: its selector, reason and who requested it, and its cascade
items, each factory certificate it revoked and each operational certificate it suspended.`,
		Example: `  hallmark revocation show rvk_123
  hallmark revocation show rvk_123 -o json | jq '.items[] | select(.action == "operational-suspended")'`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			rc, err := c.GetRevocation(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return e.emit(rc, []string{rc.Run.ID}, func(w io.Writer) { cascadeDetail(w, rc) })
		},
	}
	cmd.AddCommand(create, show)
	return cmd
}

const dryRunNote = "dry run: nothing changed; add --execute to revoke"

func revokeResultTable(w io.Writer, res api.FactoryRevokeResult) {
	if res.Approval != nil {
		fmt.Fprintln(w, "Nothing revoked yet: revoking every factory identity of an issuing CA needs an approval.")
		kv(w, "Reason", res.Reason)
		pendingApprovalNote(w, *res.Approval)
		return
	}
	verb, susp := "Revoked", "Suspended"
	if res.DryRun {
		verb, susp = "Would revoke", "Would suspend"
	} else {
		kv(w, "Revocation run", res.RunID)
	}
	kv(w, "Reason", res.Reason)
	kv(w, "Already revoked", res.Skipped)
	fmt.Fprintf(w, "\n%s %d factory identities\n", verb, len(res.Factory))
	if len(res.Factory) > 0 {
		row(w, "  SERIAL", "DEVICE", "LOT")
		for _, f := range res.Factory {
			row(w, "  "+f.Serial, f.DeviceID, f.LotID)
		}
	}
	fmt.Fprintf(w, "\n%s %d operational identities\n", susp, len(res.Suspended))
	if len(res.Suspended) > 0 {
		row(w, "  SERIAL", "DEVICE", "ENVIRONMENT")
		for _, s := range res.Suspended {
			row(w, "  "+s.Serial, s.DeviceID, s.Environment)
		}
	}
	if res.DryRun {
		fmt.Fprintf(w, "\n%s\n", dryRunNote)
	}
}

func cascadeDetail(w io.Writer, rc api.RevocationCascade) {
	r := rc.Run
	kv(w, "ID", r.ID)
	kv(w, "Manufacturer", r.ManufacturerID)
	kv(w, "Selector", selectorText(r.Selector))
	kv(w, "Reason", revocation.Reason(r.Reason))
	kv(w, "Requested", ts(r.CreatedAt)+" by "+orDash(r.RequestedBy))
	if r.FinishedAt != nil {
		kv(w, "Finished", tsp(r.FinishedAt))
	} else {
		kv(w, "Finished", "no (interrupted or running; re-run the same revocation to finish it)")
	}
	fmt.Fprintf(w, "\nItems (%d)\n", len(rc.Items))
	if len(rc.Items) == 0 {
		fmt.Fprintln(w, "  none")
		return
	}
	row(w, "  ACTION", "SERIAL", "DEVICE", "AT")
	for _, it := range rc.Items {
		row(w, "  "+it.Action, it.Serial, it.DeviceID, ts(it.At))
	}
}

func selectorText(s api.FactorySelector) string {
	var parts []string
	for _, p := range []struct{ k, v string }{
		{"device", s.DeviceID}, {"lot", s.LotID}, {"line", s.Line}, {"issuing CA", s.IssuingCAID},
	} {
		if p.v != "" {
			parts = append(parts, p.k+" "+p.v)
		}
	}
	if !s.IssuedFrom.IsZero() {
		parts = append(parts, "issued from "+ts(s.IssuedFrom))
	}
	if !s.IssuedTo.IsZero() {
		parts = append(parts, "issued before "+ts(s.IssuedTo))
	}
	return strings.Join(parts, ", ")
}
