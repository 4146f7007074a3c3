package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
)

func (e *env) caCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Certificate authorities of both stages: create and import manufacturing CAs; list, print, rotate any",
		Long: `Hallmark keeps CAs of both stages. Manufacturing CAs sign factory (IDevID) certificates:
"ca create-hierarchy" makes a root CA and an issuing CA under it for a manufacturer, and "ca import"
brings in an existing one with its key. Operational CAs sign the certificates devices get in the
field; an operator makes them with "hallmark operational create-hierarchy".

"ca list" (with --stage manufacturing or operational), "ca cert", "ca chain", "ca rotate" and
"ca rollover" work on the CAs of either stage that you may see.`,
		Example: `  hallmark ca create-hierarchy --manufacturer acme --name acme-mfg
  hallmark ca list --stage operational
  hallmark ca cert ca_123 --out root.pem`,
	}
	cmd.AddCommand(e.caCreateHierarchyCmd(), e.caImportCmd(), e.caListCmd(), e.caCertCmd())
	cmd.AddCommand(e.caRotationCommands()...) // rotation.go
	return cmd
}

func (e *env) caCreateHierarchyCmd() *cobra.Command {
	var h api.CreateHierarchyRequest
	cmd := &cobra.Command{
		Use:   "create-hierarchy",
		Short: "Create a manufacturing root CA and an issuing CA under it",
		Long: `Create a root CA and an issuing CA for a manufacturer; their keys are generated and kept by
the server. -o id prints the root CA's ID, then the issuing CA's ID, one a line.`,
		Example: `  hallmark ca create-hierarchy --manufacturer acme --name acme-mfg --algorithm ecdsa-p384
  ISSUING=$(hallmark ca create-hierarchy --manufacturer acme --name acme-mfg -o id | tail -n 1)`,
		Args: cobra.NoArgs,
		RunE: e.createHierarchy(&h.Algorithm, func(ctx context.Context, c *client.Client) (api.Hierarchy, error) {
			return c.CreateHierarchy(ctx, h)
		}),
	}
	cmd.Flags().StringVar(&h.ManufacturerID, "manufacturer", "", "manufacturer party ID")
	cmd.Flags().StringVar(&h.Name, "name", "", "CA name (a slug)")
	algorithmFlag(cmd, &h.Algorithm)
	crlPartitionsFlag(cmd, &h.CRLPartitions)
	cmd.Flags().StringVar(&h.FactoryValidity, "factory-validity", "", "notAfter of the factory certificates the issuing CA issues, fixed for its life: undefined (99991231235959Z, IEEE 802.1AR) or issuer (the issuing CA's own notAfter) (default undefined)")
	required(cmd, "manufacturer", "name")
	return cmd
}

func (e *env) caImportCmd() *cobra.Command {
	var imp api.ImportCARequest
	var certFile, keyFile, passEnv string
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import an existing manufacturing CA: its certificate and its key's URI in the server's HSM (or, with file keys, the key)",
		Long: `Import a manufacturing CA that already exists.

With an HSM (docs/ceremony.md), give the certificate and --key-uri, the URI of the CA's key in
the server's token (pkcs11:token=LABEL;id=...;object=...): the server finds the key there,
checks it against the certificate and records the URI. No private key crosses the API.

A server that keeps keys in encrypted files also takes the private key itself with --key (PEM,
optionally encrypted): it is sent to the server once, over TLS, and stored there encrypted.
This prints a warning: a key that has been in a file and on the wire has had more chances to
leak than one generated in a token. An encrypted key's passphrase is read from the
environment variable named by --passphrase-env, never from the command line.`,
		Example: `  hallmark ca import --manufacturer acme --name acme-issuing-2026 --cert issuing.pem \
    --key-uri 'pkcs11:token=hallmark;id=%9a%41%0c%7e;object=acme-issuing-2026'
  KEY_PASS=... hallmark ca import --manufacturer acme --name legacy --cert ca.pem --key ca.key --passphrase-env KEY_PASS`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (keyFile == "") == (imp.KeyURI == "") {
				return usagef("give --key-uri (a key in the server's HSM) or --key (a private key file), one of them")
			}
			cert, err := readInput("cert", certFile)
			if err != nil {
				return err
			}
			imp.CertificatePEM = string(cert)
			if keyFile != "" {
				if err := e.readImportKey(&imp, keyFile, passEnv); err != nil {
					return err
				}
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			v, err := c.ImportCA(cmd.Context(), imp)
			if err != nil {
				return err
			}
			return e.emit(v, []string{v.ID}, func(w io.Writer) { caTable(w, []api.CA{v}) })
		},
	}
	cmd.Flags().StringVar(&imp.ManufacturerID, "manufacturer", "", "manufacturer party ID")
	cmd.Flags().StringVar(&imp.Name, "name", "", "CA name (a slug)")
	cmd.Flags().StringVar(&certFile, "cert", "", "CA certificate (PEM file)")
	cmd.Flags().StringVar(&imp.KeyURI, "key-uri", "", "URI of the CA's key in the server's HSM (from hallmark ceremony issuing-csr)")
	cmd.Flags().StringVar(&keyFile, "key", "", "CA private key (PEM file; servers with file keys only)")
	cmd.Flags().StringVar(&passEnv, "passphrase-env", "", "name of the environment variable holding the key's passphrase")
	crlPartitionsFlag(cmd, &imp.CRLPartitions)
	required(cmd, "manufacturer", "name", "cert")
	return cmd
}

// readImportKey puts a CA private key file (and its passphrase, from the environment) into
// imp, with a warning: a key imported by URI from an HSM never leaves it.
func (e *env) readImportKey(imp *api.ImportCARequest, keyFile, passEnv string) error {
	key, err := readInput("key", keyFile)
	if err != nil {
		return err
	}
	pass, err := passphrase(passEnv)
	if err != nil {
		return err
	}
	imp.KeyPEM, imp.Passphrase = string(key), string(pass)
	fmt.Fprintln(e.stderr, "hallmark: warning: sending a CA private key over the API; keys made in an HSM and imported by --key-uri never leave it (docs/ceremony.md)")
	return nil
}

func (e *env) caListCmd() *cobra.Command {
	var partyID, role, stage string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the CAs you may see",
		Long: `List your party's CAs and anchors (auditors see every party's; --party selects one).
--role (root, issuing, anchor) and --stage (manufacturing, operational) narrow the list.`,
		Example: `  hallmark ca list
  hallmark ca list --party acme -o json
  ISSUING=$(hallmark ca list --role issuing --stage manufacturing -o id)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			all, err := c.ListCAs(cmd.Context(), partyID)
			if err != nil {
				return err
			}
			cas := all[:0]
			for _, v := range all {
				if (role == "" || string(v.Role) == role) && (stage == "" || v.Stage == stage) {
					cas = append(cas, v)
				}
			}
			ids := make([]string, len(cas))
			for i, v := range cas {
				ids[i] = v.ID
			}
			return e.emit(cas, ids, func(w io.Writer) { caTable(w, cas) })
		},
	}
	cmd.Flags().StringVar(&partyID, "party", "", "only this party's CAs")
	cmd.Flags().StringVar(&role, "role", "", "only CAs of this role: root, issuing or anchor")
	cmd.Flags().StringVar(&stage, "stage", "", "only CAs of this stage: manufacturing or operational")
	return cmd
}

func (e *env) caCertCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "cert ID",
		Short: "Print a CA's certificate (PEM)",
		Long:  "Print a CA's certificate as PEM on stdout, or write it to --out. This route is public: no token is needed.",
		Example: `  hallmark ca cert ca_123 > root.pem
  hallmark ca cert ca_123 --out root.pem`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			pemBytes, err := c.CACertificate(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return e.writeOut(out, pemBytes, "certificate")
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the PEM to this file instead of stdout")
	return cmd
}

func caTable(w io.Writer, cas []api.CA) {
	row(w, "ID", "PARTY", "STAGE", "ROLE", "NAME", "SUBJECT", "NOT AFTER")
	for _, v := range cas {
		row(w, v.ID, v.PartyID, v.Stage, v.Role, v.Name, v.Subject, v.NotAfter)
	}
}

func (e *env) anchorCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "anchor",
		Short: "Register trust anchors of makers that do not run Hallmark",
		Long: `An anchor is another maker's CA certificate (no key), registered for your party so that the
devices it signed can be verified when they are onboarded.`,
		Example: `  hallmark anchor register --name othermaker-root --cert othermaker-root.pem`,
	}
	cmd.AddCommand(e.anchorRegisterCmd())
	return cmd
}

func (e *env) anchorRegisterCmd() *cobra.Command {
	var req api.RegisterAnchorRequest
	var certFile string
	cmd := &cobra.Command{
		Use:     "register",
		Short:   "Register a maker's CA certificate as a trust anchor",
		Long:    "Register a CA certificate (PEM) as a trust anchor of your party.",
		Example: `  hallmark anchor register --name othermaker-root --cert othermaker-root.pem -o id`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cert, err := readInput("cert", certFile)
			if err != nil {
				return err
			}
			req.CertificatePEM = string(cert)
			c, err := e.client()
			if err != nil {
				return err
			}
			v, err := c.RegisterAnchor(cmd.Context(), req)
			if err != nil {
				return err
			}
			return e.emit(v, []string{v.ID}, func(w io.Writer) { caTable(w, []api.CA{v}) })
		},
	}
	cmd.Flags().StringVar(&req.Name, "name", "", "anchor name (a slug)")
	cmd.Flags().StringVar(&certFile, "cert", "", "the CA certificate (PEM file)")
	required(cmd, "name", "cert")
	return cmd
}

func (e *env) modelCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "model",
		Short:   "Define and list device models",
		Long:    "A model is a kind of device a manufacturer makes; its hardware type OID goes into every factory certificate (RFC 4108 hardwareModuleName).",
		Example: `  hallmark model create --manufacturer acme --name sensor-x`,
	}
	cmd.AddCommand(e.modelCreateCmd(), e.modelListCmd())
	return cmd
}

func (e *env) modelCreateCmd() *cobra.Command {
	var req api.CreateModelRequest
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Define a model",
		Long:  "Define a model of a manufacturer. Without --hardware-type the server allocates an OID under Hallmark's arc.",
		Example: `  hallmark model create --manufacturer acme --name sensor-x
  MODEL=$(hallmark model create --manufacturer acme --name sensor-x --hardware-type 1.3.6.1.4.1.99999.1 -o id)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			m, err := c.CreateModel(cmd.Context(), req)
			if err != nil {
				return err
			}
			return e.emit(m, []string{m.ID}, func(w io.Writer) { modelTable(w, []api.Model{m}) })
		},
	}
	cmd.Flags().StringVar(&req.ManufacturerID, "manufacturer", "", "manufacturer party ID")
	cmd.Flags().StringVar(&req.Name, "name", "", "model name (a slug)")
	cmd.Flags().StringVar(&req.HardwareType, "hardware-type", "", "hwType OID, dotted (default: allocated by the server)")
	required(cmd, "manufacturer", "name")
	return cmd
}

func (e *env) modelListCmd() *cobra.Command {
	var mfr string
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List models",
		Long:    "List models, of one manufacturer with --manufacturer.",
		Example: `  hallmark model list --manufacturer acme`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			ms, err := c.ListModels(cmd.Context(), mfr)
			if err != nil {
				return err
			}
			ids := make([]string, len(ms))
			for i, m := range ms {
				ids[i] = m.ID
			}
			return e.emit(ms, ids, func(w io.Writer) { modelTable(w, ms) })
		},
	}
	cmd.Flags().StringVar(&mfr, "manufacturer", "", "only this manufacturer's models")
	return cmd
}

func modelTable(w io.Writer, ms []api.Model) {
	row(w, "ID", "MANUFACTURER", "NAME", "HARDWARE TYPE", "CREATED")
	for _, m := range ms {
		row(w, m.ID, m.ManufacturerID, m.Name, m.HardwareType, ts(m.CreatedAt))
	}
}

func (e *env) lotCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lot",
		Short: "Define, list and show production lots",
		Long:  "A lot is a production run of a model on a line, signed by one issuing CA; its issuance may be delegated to a contract manufacturer.",
		Example: `  hallmark lot create --model mdl_123 --name lot-7 --issuing-ca ca_456
  hallmark lot list --manufacturer acme`,
	}
	cmd.AddCommand(e.lotCreateCmd(), e.lotListCmd(), e.lotShowCmd(), e.lotManifestCmd())
	return cmd
}

// lotManifestCmd is "hallmark lot manifest".
func (e *env) lotManifestCmd() *cobra.Command {
	var out, mfr string
	cmd := &cobra.Command{
		Use:   "manifest LOT...",
		Short: "Sign the device manifest of lots for the operators of their devices",
		Long: `Sign the device manifest of one or more lots of --manufacturer with its build-record key: every
device of the lots whose factory certificate is good, by serial and by the SHA-256 of its key.
The DSSE envelope goes to --out (or stdout). An operator that runs Hallmark registers this
deployment as a maker with the build-record key ("hallmark buildrecord keys") as
--manifest-key, and imports the envelope with "hallmark maker manifest upload"
(docs/external-makers.md). Each import replaces the operator's active manifest of the maker, so
name every lot shipped to that operator. Only a principal of the manufacturer may; the
signature is audited.`,
		Example: `  hallmark lot manifest --manufacturer acme lot_123 lot_124 --out contoso.manifest.json`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			m, err := c.SignManifest(cmd.Context(), mfr, args)
			if err != nil {
				return err
			}
			if out == "" {
				_, err := e.stdout.Write(append(m.Envelope, '\n'))
				return err
			}
			if err := os.WriteFile(out, m.Envelope, 0o644); err != nil {
				return err
			}
			return e.emit(m, []string{m.SHA256}, func(w io.Writer) {
				kv(w, "Lots", strings.Join(m.LotIDs, " "))
				kv(w, "Devices", strconv.Itoa(m.Devices))
				kv(w, "SHA-256", m.SHA256)
				kv(w, "Written to", out)
			})
		},
	}
	cmd.Flags().StringVar(&mfr, "manufacturer", "", "manufacturer party ID")
	cmd.Flags().StringVar(&out, "out", "", "write the envelope to this file instead of stdout")
	required(cmd, "manufacturer")
	return cmd
}

func (e *env) lotCreateCmd() *cobra.Command {
	var req api.CreateLotRequest
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Define a lot",
		Long: `Define a lot of a model. --issuing-ca is the manufacturing issuing CA that will sign its factory
certificates. --delegate-to gives the issue duty over this lot to a contract manufacturer.`,
		Example: `  LOT=$(hallmark lot create --model mdl_123 --name lot-7 --line line-a --issuing-ca ca_456 -o id)
  hallmark lot create --model mdl_123 --name lot-8 --issuing-ca ca_456 --delegate-to cm-one`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			l, err := c.CreateLot(cmd.Context(), req)
			if err != nil {
				return err
			}
			return e.emit(l, []string{l.ID}, func(w io.Writer) { lotTable(w, []api.Lot{l}) })
		},
	}
	cmd.Flags().StringVar(&req.ModelID, "model", "", "model ID")
	cmd.Flags().StringVar(&req.Name, "name", "", "lot name (a slug)")
	cmd.Flags().StringVar(&req.Line, "line", "", "production line (a slug; default: the server's, \"default\")")
	cmd.Flags().StringVar(&req.IssuingCAID, "issuing-ca", "", "ID of the issuing CA that signs the lot's factory certificates")
	cmd.Flags().StringVar(&req.DelegateTo, "delegate-to", "", "contract manufacturer that owns issuance for this lot")
	required(cmd, "model", "name", "issuing-ca")
	return cmd
}

func (e *env) lotListCmd() *cobra.Command {
	var mfr string
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List lots",
		Long:    "List lots, of one manufacturer with --manufacturer.",
		Example: `  hallmark lot list --manufacturer acme -o id`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			ls, err := c.ListLots(cmd.Context(), mfr)
			if err != nil {
				return err
			}
			ids := make([]string, len(ls))
			for i, l := range ls {
				ids[i] = l.ID
			}
			return e.emit(ls, ids, func(w io.Writer) { lotTable(w, ls) })
		},
	}
	cmd.Flags().StringVar(&mfr, "manufacturer", "", "only this manufacturer's lots")
	return cmd
}

func (e *env) lotShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "show ID",
		Short:   "Show one lot",
		Long:    "Show one lot.",
		Example: `  hallmark lot show lot_123 -o json`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			l, err := c.GetLot(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return e.emit(l, []string{l.ID}, func(w io.Writer) {
				kv(w, "ID", l.ID)
				kv(w, "Name", l.Name)
				kv(w, "Manufacturer", l.ManufacturerID)
				kv(w, "Model", l.ModelID)
				kv(w, "Line", l.Line)
				kv(w, "Issuing CA", l.IssuingCAID)
				kv(w, "Created", ts(l.CreatedAt))
			})
		},
	}
}

func lotTable(w io.Writer, ls []api.Lot) {
	row(w, "ID", "MANUFACTURER", "MODEL", "NAME", "LINE", "ISSUING CA", "CREATED")
	for _, l := range ls {
		row(w, l.ID, l.ManufacturerID, l.ModelID, l.Name, l.Line, l.IssuingCAID, ts(l.CreatedAt))
	}
}

// createHierarchy is the RunE of the three create-hierarchy commands: it checks --algorithm,
// calls create and prints the root and issuing CA (-o id: their IDs, one a line).
func (e *env) createHierarchy(alg *string, create func(ctx context.Context, c *client.Client) (api.Hierarchy, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		switch *alg {
		case "", "ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-3072":
		default:
			return usagef("--algorithm must be ecdsa-p256, ecdsa-p384, ed25519 or rsa-3072, not %q", *alg)
		}
		c, err := e.client()
		if err != nil {
			return err
		}
		out, err := create(cmd.Context(), c)
		if err != nil {
			return err
		}
		return e.emit(out, []string{out.Root.ID, out.Issuing.ID}, func(w io.Writer) {
			caTable(w, []api.CA{out.Root, out.Issuing})
		})
	}
}

// crlPartitionsFlag adds --crl-partitions for a new issuing CA.
func crlPartitionsFlag(cmd *cobra.Command, n *int) {
	cmd.Flags().IntVar(n, "crl-partitions", 0, "CRL partitions of the issuing CA, 1 to 1024, fixed for its life; a device's certificates name partition SHA-256(device ID) mod this (default 16)")
}

// algorithmFlag adds --algorithm for a new CA hierarchy.
func algorithmFlag(cmd *cobra.Command, alg *string) {
	cmd.Flags().StringVar(alg, "algorithm", "", "key algorithm: ecdsa-p256, ecdsa-p384, ed25519 or rsa-3072 (default: the server's, ecdsa-p256)")
}
