package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
)

func (e *env) makerCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "maker",
		Short: "Register makers that do not run Hallmark, their manifests and onboarding policy",
		Long: `A maker that does not run Hallmark is registered by an operator (or a party acting for one: the
owner of operational/issue over the operator) with its root CA certificates (anchors) and
intermediates, where it publishes revocation status (the CRL distribution points and OCSP
responders its device certificates name, or explicit URLs), the keys it signs device manifests
with, and an onboarding policy: fail-closed or fail-open when no revocation source answers,
require manifest membership, require hardwareModuleName, allowed factory key types.

Its devices then onboard over EST and the API like any other: the chain is checked to the
maker's anchor, the maker's CRL or OCSP is asked, its policy and manifest applied, then the
environment's policy (device.origin is "external"). The leader refreshes every maker's CRLs and
the devices' status each makers.watch_interval; a device whose factory certificate turns up
revoked is suspended. docs/external-makers.md describes the whole.`,
		Example: `  MAKER=$(hallmark maker register --name acme-sensors --anchor acme-root.pem --intermediate acme-ca.pem -o id)
  hallmark maker update "$MAKER" --require-manifest
  hallmark maker manifest upload "$MAKER" --file manifest.dsse.json
  hallmark maker check "$MAKER"`,
	}
	cmd.AddCommand(e.makerRegisterCmd(), e.makerListCmd(), e.makerShowCmd(), e.makerUpdateCmd(), e.makerManifestCmd(), e.makerCheckCmd())
	return cmd
}

// makerPolicyFlags are the flags of a maker's onboarding policy.
type makerPolicyFlags struct {
	failOpen, requireManifest, requireHMN bool
	keyTypes                              []string
}

func (f *makerPolicyFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&f.failOpen, "fail-open", false, "admit a device whose revocation status no source gives (with a warning in the audit log); default: refuse")
	fl.BoolVar(&f.requireManifest, "require-manifest", false, "admit only devices listed in the maker's active manifest")
	fl.BoolVar(&f.requireHMN, "require-hardware-module-name", false, "admit only factory certificates with a hardwareModuleName")
	fl.StringArrayVar(&f.keyTypes, "key-type", nil, "a factory key type admitted: ecdsa-p256, ecdsa-p384, ed25519 or rsa (repeatable; default: all)")
}

// apply sets the flags given on cmd's command line over p.
func (f *makerPolicyFlags) apply(cmd *cobra.Command, p *api.MakerPolicy) (changed bool) {
	fl := cmd.Flags()
	if fl.Changed("fail-open") {
		p.Revocation, changed = "fail-closed", true
		if f.failOpen {
			p.Revocation = "fail-open"
		}
	}
	if fl.Changed("require-manifest") {
		p.RequireManifest, changed = f.requireManifest, true
	}
	if fl.Changed("require-hardware-module-name") {
		p.RequireHardwareModuleName, changed = f.requireHMN, true
	}
	if fl.Changed("key-type") {
		p.KeyTypes, changed = f.keyTypes, true
	}
	return changed
}

// readFiles reads PEM files and returns their contents, one string each.
func readFiles(flag string, files []string) ([]string, error) {
	var out []string
	for _, f := range files {
		b, err := readInput(flag, f)
		if err != nil {
			return nil, err
		}
		out = append(out, string(b))
	}
	return out, nil
}

func (e *env) makerRegisterCmd() *cobra.Command {
	var req api.RegisterMakerRequest
	var anchors, inters, keys, recordKeys []string
	var pol makerPolicyFlags
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Register a maker that does not run Hallmark",
		Long: `Register a maker for an operator (--operator; default your party). --anchor names a PEM file of
the maker's root CA certificate(s), --intermediate one of the CAs below them (for devices that do
not present them). --crl and --ocsp, when given, replace the sources the device certificates name.
--manifest-key names a PEM public key the maker signs its manifests with, --build-record-key one it
signs build records and custody vouchers with (hallmark voucher import verifies with it). -o id
prints the maker's ID. The registration is audited.`,
		Example: `  hallmark maker register --name acme-sensors --anchor acme-root.pem --intermediate acme-ca.pem \
      --require-hardware-module-name --key-type ecdsa-p256 -o id`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r := req
			a, err := readFiles("anchor", anchors)
			if err != nil {
				return err
			}
			in, err := readFiles("intermediate", inters)
			if err != nil {
				return err
			}
			if r.ManifestKeysPEM, err = readFiles("manifest-key", keys); err != nil {
				return err
			}
			if r.BuildRecordKeysPEM, err = readFiles("build-record-key", recordKeys); err != nil {
				return err
			}
			r.AnchorsPEM, r.IntermediatesPEM = strings.Join(a, "\n"), strings.Join(in, "\n")
			pol.apply(cmd, &r.Policy)
			c, err := e.client()
			if err != nil {
				return err
			}
			v, err := c.RegisterMaker(cmd.Context(), r)
			if err != nil {
				return err
			}
			return e.emit(v, []string{v.ID}, func(w io.Writer) { makerDetail(w, v) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.OperatorID, "operator", "", "operator party ID (default: your party)")
	f.StringVar(&req.Name, "name", "", "maker name (a slug, unique among the operator's makers)")
	f.StringArrayVar(&anchors, "anchor", nil, "PEM file of the maker's root CA certificate(s) (repeatable)")
	f.StringArrayVar(&inters, "intermediate", nil, "PEM file of intermediate CA certificate(s) (repeatable)")
	f.StringArrayVar(&req.CRLURLs, "crl", nil, "CRL URL replacing the certificates' distribution points (repeatable)")
	f.StringArrayVar(&req.OCSPURLs, "ocsp", nil, "OCSP responder URL replacing the certificates' (repeatable)")
	f.StringArrayVar(&keys, "manifest-key", nil, "PEM public key file the maker signs manifests with (repeatable)")
	f.StringArrayVar(&recordKeys, "build-record-key", nil, "PEM public key file the maker signs build records and custody vouchers with (repeatable)")
	pol.add(cmd)
	required(cmd, "name", "anchor")
	return cmd
}

func (e *env) makerListCmd() *cobra.Command {
	var operator string
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List an operator's makers",
		Long:    "List the makers registered for an operator (--operator; default your party).",
		Example: `  hallmark maker list`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			v, err := c.ListMakers(cmd.Context(), operator)
			if err != nil {
				return err
			}
			ids := make([]string, len(v))
			for i, m := range v {
				ids[i] = m.ID
			}
			return e.emit(v, ids, func(w io.Writer) {
				row(w, "ID", "OPERATOR", "NAME", "ANCHORS", "REVOCATION", "MANIFEST")
				for _, m := range v {
					row(w, m.ID, m.OperatorID, m.Name, len(m.Anchors), m.Policy.Revocation, map[bool]string{true: "required", false: "-"}[m.Policy.RequireManifest])
				}
			})
		},
	}
	cmd.Flags().StringVar(&operator, "operator", "", "operator party ID (default: your party)")
	return cmd
}

func (e *env) makerShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "show MAKER",
		Short:   "Show a maker",
		Long:    "Show a maker's anchors, intermediates, revocation sources, manifest keys and policy.",
		Example: `  hallmark maker show mkr_123`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			v, err := c.GetMaker(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return e.emit(v, []string{v.ID}, func(w io.Writer) { makerDetail(w, v) })
		},
	}
}

func makerDetail(w io.Writer, m api.Maker) {
	kv(w, "ID", m.ID)
	kv(w, "Operator", m.OperatorID)
	kv(w, "Name", m.Name)
	for _, c := range m.Anchors {
		kv(w, "Anchor", c.Subject+" (sha256 "+c.SHA256[:16]+"…)")
	}
	for _, c := range m.Intermediates {
		kv(w, "Intermediate", c.Subject+" (sha256 "+c.SHA256[:16]+"…)")
	}
	kv(w, "CRL URLs", strings.Join(m.CRLURLs, " "))
	kv(w, "OCSP URLs", strings.Join(m.OCSPURLs, " "))
	kv(w, "Manifest keys", len(m.ManifestKeysPEM))
	kv(w, "Build-record keys", len(m.BuildRecordKeysPEM))
	kv(w, "Revocation", m.Policy.Revocation)
	kv(w, "Require manifest", m.Policy.RequireManifest)
	kv(w, "Require hardwareModuleName", m.Policy.RequireHardwareModuleName)
	kv(w, "Key types", strings.Join(m.Policy.KeyTypes, " "))
}

func (e *env) makerUpdateCmd() *cobra.Command {
	var inters, keys, recordKeys, crls, ocsps []string
	var pol makerPolicyFlags
	cmd := &cobra.Command{
		Use:   "update MAKER",
		Short: "Change a maker's intermediates, sources, manifest keys or policy",
		Long: `Change what the flags name and keep the rest. --intermediate, --crl, --ocsp and --manifest-key
replace the whole list they set (give --crl "" to clear the explicit CRL URLs). The change is
audited with the settings before and after. Anchors do not change: register a new maker.`,
		Example: `  hallmark maker update mkr_123 --require-manifest --fail-open=false
  hallmark maker update mkr_123 --manifest-key acme-manifest.pub`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			var r api.UpdateMakerRequest
			fl := cmd.Flags()
			if fl.Changed("intermediate") {
				in, err := readFiles("intermediate", inters)
				if err != nil {
					return err
				}
				s := strings.Join(in, "\n")
				r.IntermediatesPEM = &s
			}
			if fl.Changed("manifest-key") {
				k, err := readFiles("manifest-key", keys)
				if err != nil {
					return err
				}
				r.ManifestKeysPEM = &k
			}
			if fl.Changed("build-record-key") {
				k, err := readFiles("build-record-key", recordKeys)
				if err != nil {
					return err
				}
				r.BuildRecordKeysPEM = &k
			}
			if fl.Changed("crl") {
				l := nonEmpty(crls)
				r.CRLURLs = &l
			}
			if fl.Changed("ocsp") {
				l := nonEmpty(ocsps)
				r.OCSPURLs = &l
			}
			cur, err := c.GetMaker(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			p := cur.Policy
			if pol.apply(cmd, &p) {
				r.Policy = &p
			}
			v, err := c.UpdateMaker(cmd.Context(), args[0], r)
			if err != nil {
				return err
			}
			return e.emit(v, []string{v.ID}, func(w io.Writer) { makerDetail(w, v) })
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&inters, "intermediate", nil, "PEM file of intermediate CA certificate(s) (repeatable; replaces them all)")
	f.StringArrayVar(&crls, "crl", nil, "CRL URL (repeatable; replaces them all)")
	f.StringArrayVar(&ocsps, "ocsp", nil, "OCSP responder URL (repeatable; replaces them all)")
	f.StringArrayVar(&keys, "manifest-key", nil, "PEM public key file (repeatable; replaces them all)")
	f.StringArrayVar(&recordKeys, "build-record-key", nil, "PEM build-record public key file (repeatable; replaces them all)")
	pol.add(cmd)
	return cmd
}

func nonEmpty(s []string) []string {
	out := []string{}
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

func (e *env) makerManifestCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "manifest",
		Short: "Upload and list a maker's device manifests",
		Long: `A manifest lists the devices a maker says it built, by serial, by key (SHA-256 of the
SubjectPublicKeyInfo) or both. A signed one (a DSSE envelope, verified against the maker's
registered keys) is active at once; a CSV carries no signature and is active only once another
principal approves that exact upload (an approval of kind manifest).`,
		Example: `  hallmark maker manifest upload mkr_123 --file manifest.dsse.json
  hallmark maker manifest upload mkr_123 --file devices.csv --reason "delivery note 4711"`,
	}
	cmd.AddCommand(e.makerManifestUploadCmd(), e.makerManifestListCmd())
	return cmd
}

func (e *env) makerManifestUploadCmd() *cobra.Command {
	var file, format, reason string
	cmd := &cobra.Command{
		Use:   "upload MAKER",
		Short: "Upload a device manifest",
		Long: `Upload a manifest: a DSSE envelope (--format dsse) or a CSV with a header naming serial and/or
spki_sha256 (--format csv, with --reason for its approvers). Without --format, a file ending in
.csv is a CSV and anything else a DSSE envelope. A CSV prints the approval it waits for.`,
		Example: `  hallmark maker manifest upload mkr_123 --file devices.csv --reason "delivery note 4711"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readInput("file", file)
			if err != nil {
				return err
			}
			if format == "" {
				format = client.ManifestDSSE
				if strings.EqualFold(filepath.Ext(file), ".csv") {
					format = client.ManifestCSV
				}
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			v, err := c.UploadManifest(cmd.Context(), args[0], format, data, reason)
			if err != nil {
				return err
			}
			return e.emit(v, []string{v.Manifest.ID}, func(w io.Writer) {
				manifestDetail(w, v.Manifest)
				if v.Approval != nil {
					kv(w, "Approval", fmt.Sprintf("%s (pending: another principal of %s approves it)", v.Approval.ID, v.Approval.ApproverParty))
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&file, "file", "", "the manifest file (- for standard input)")
	f.StringVar(&format, "format", "", "dsse or csv (default: by the file's extension)")
	f.StringVar(&reason, "reason", "", "for a CSV: why the approvers should trust it")
	required(cmd, "file")
	return cmd
}

func manifestDetail(w io.Writer, m api.Manifest) {
	kv(w, "ID", m.ID)
	kv(w, "Maker", m.MakerID)
	kv(w, "Format", m.Format)
	kv(w, "Entries", m.Entries)
	kv(w, "SHA-256", m.SHA256)
	kv(w, "State", m.State)
	kv(w, "Issued", tsp(m.IssuedAt))
	kv(w, "Uploaded", ts(m.UploadedAt)+" by "+m.UploadedBy)
}

func (e *env) makerManifestListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list MAKER",
		Short:   "List a maker's manifests, newest first",
		Long:    "List a maker's uploaded manifests with their state: pending (a CSV waiting for approval), active, superseded or denied.",
		Example: `  hallmark maker manifest list mkr_123`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			v, err := c.ListManifests(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			ids := make([]string, len(v))
			for i, m := range v {
				ids[i] = m.ID
			}
			return e.emit(v, ids, func(w io.Writer) {
				row(w, "ID", "FORMAT", "ENTRIES", "STATE", "UPLOADED", "APPROVAL")
				for _, m := range v {
					row(w, m.ID, m.Format, m.Entries, m.State, ts(m.UploadedAt), m.ApprovalID)
				}
			})
		},
	}
}

func (e *env) makerCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check MAKER",
		Short: "Check a maker's revocation status now",
		Long: `Run the revocation status watcher for one maker now, as the leader does every
makers.watch_interval: fetch its CRLs, check every device onboarded of it (by CRL, else by its
OCSP responder, asked anew: no cached answer is used), and suspend each device whose factory
certificate the maker revoked. It prints what each source answered; a gap is a source whose
last fetch failed or whose CRL is stale.`,
		Example: `  hallmark maker check mkr_123`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			v, err := c.CheckMaker(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return e.emit(v, nil, func(w io.Writer) { makerCheckTable(w, v) })
		},
	}
}

func makerCheckTable(w io.Writer, v api.MakerCheck) {
	kv(w, "Devices", fmt.Sprintf("%d checked: %d by CRL, %d by OCSP, %d unknown", v.Devices, v.ByCRL, v.ByOCSP, v.Unknown))
	kv(w, "Revoked", fmt.Sprintf("%d (%d suspended now)", v.Revoked, v.Recorded))
	row(w, "KIND", "URL", "OUTCOME", "GAP", "ERROR")
	for _, s := range v.Sources {
		row(w, s.Kind, s.URL, s.Outcome, s.Gap, s.Error)
	}
}

// externalOrigin shows where a device of a maker that does not run Hallmark comes from, and
// why it is suspended when its maker revoked it.
func externalOrigin(w io.Writer, o *api.DeviceOrigin) {
	if o == nil {
		return
	}
	kv(w, "  Origin", fmt.Sprintf("external: maker %s (%s)", o.MakerName, o.MakerID))
	kv(w, "  Factory issuer", o.Issuer)
	kv(w, "  Factory serial", certSerial(o.FactorySerial))
	kv(w, "  Factory state", o.State)
	if e := o.Evidence; e != nil {
		kv(w, "  Revoked by the maker", fmt.Sprintf("%s at %s, per its %s %s of %s", e.Reason, ts(e.RevokedAt), e.Kind, e.URL, ts(e.ThisUpdate)))
	}
}
