package cli

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/certpem"
	"github.com/hallmark-id/hallmark/internal/custodyvoucher"
	"github.com/hallmark-id/hallmark/internal/keys"
)

func (e *env) voucherCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "voucher",
		Short: "Hand devices to a party of another deployment with signed custody vouchers",
		Long: `A custody voucher is a signed file that carries custody of devices from one party to the next across
deployments, or through a party that runs none (a distributor). It holds the devices, each with its
factory certificate chain and signed build record, and the chain of hand-overs: the first signed by
the maker's build-record key, each later one by the key the one before it was addressed to.

The holder exports devices it holds to the receiver's public key (export: the devices are handed
off here); a distributor extends the voucher to the next party offline with its own key (extend);
anyone checks it offline against the maker's anchor and build-record key (verify); the receiving
deployment imports it, verified against the maker registered there, and holds the devices (import)
when the last hand-over is addressed to a key its party registered (key register).
docs/vouchers.md describes the format and every refusal. Not to be confused with the RFC 8366
vouchers of BRSKI.`,
		Example: `  hallmark voucher export dev_1 dev_2 --to globex --to-key globex.pub --out v.json     # at the maker
  hallmark voucher extend --voucher v.json --key dist.key --to operator --to-key op.pub --out v2.json
  hallmark voucher verify --voucher v2.json --anchor maker-root.pem --build-record-key maker-br.pem
  hallmark voucher key register --name op-custody --key op.pub                        # at the operator
  hallmark voucher import --file v2.json`,
	}
	cmd.AddCommand(e.voucherKeyCmd(), e.voucherExportCmd(), e.voucherExtendCmd(), e.voucherVerifyCmd(), e.voucherImportCmd(),
		e.voucherListCmd(), e.voucherShowCmd())
	return cmd
}

func (e *env) voucherKeyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Register and list the keys custody vouchers for your party may be addressed to"}
	var name, keyFile string
	reg := &cobra.Command{
		Use:   "register",
		Short: "Register a public key custody vouchers for your party may be addressed to",
		Long: `Register a "PUBLIC KEY" PEM file (ECDSA P-256, P-384 or Ed25519). A voucher whose last hand-over is
addressed to it can be imported by your party. A key belongs to one party. -o id prints the key ID
(the hex SHA-256 of the key). Audited (custody.key.register).`,
		Example: `  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out op.key && openssl pkey -in op.key -pubout -out op.pub
  hallmark voucher key register --name op-custody --key op.pub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := readInput("key", keyFile)
			if err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			k, err := c.RegisterCustodyKey(cmd.Context(), api.RegisterCustodyKeyRequest{Name: name, PublicKeyPEM: string(b)})
			if err != nil {
				return err
			}
			return e.emit(k, []string{k.KeyID}, func(w io.Writer) { custodyKeyDetail(w, k) })
		},
	}
	reg.Flags().StringVar(&name, "name", "", "a name for the key (a slug)")
	reg.Flags().StringVar(&keyFile, "key", "", "the public key (PEM file)")
	required(reg, "name", "key")
	ls := &cobra.Command{
		Use:   "list",
		Short: "List your party's custody keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			ks, err := c.ListCustodyKeys(cmd.Context())
			if err != nil {
				return err
			}
			ids := make([]string, len(ks))
			for i, k := range ks {
				ids[i] = k.KeyID
			}
			return e.emit(ks, ids, func(w io.Writer) {
				fmt.Fprintln(w, "KEY ID\tNAME\tCREATED")
				for _, k := range ks {
					fmt.Fprintf(w, "%s\t%s\t%s\n", k.KeyID, k.Name, k.CreatedAt.Format(time.RFC3339))
				}
			})
		},
	}
	cmd.AddCommand(reg, ls)
	return cmd
}

func custodyKeyDetail(w io.Writer, k api.CustodyKey) {
	kv(w, "Key ID", k.KeyID)
	kv(w, "Name", k.Name)
	kv(w, "Party", k.PartyID)
	kv(w, "Created", k.CreatedAt.Format(time.RFC3339))
}

func (e *env) voucherExportCmd() *cobra.Command {
	var to, toKey, out string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "export DEVICE...",
		Short: "Export devices your party holds in a custody voucher addressed to another party's key",
		Long: `Export devices your party holds, made by one manufacturer of this deployment and registered or
released (release them from their environment first), in a custody voucher addressed to the
receiver's public key (--to-key). The first hand-over is signed by the manufacturer's build-record
key. The devices are handed off at once: your party can no longer onboard, transfer or export
them. The voucher file goes to --out (or stdout). Audited (custody.voucher.export).`,
		Example: `  hallmark voucher export dev_1 dev_2 --to globex --to-key globex.pub --out v.json`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := readInput("to-key", toKey)
			if err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			v, err := c.ExportVoucher(cmd.Context(), api.ExportVoucherRequest{DeviceIDs: args, To: to, ToKeyPEM: string(k), TTL: api.Duration(ttl)})
			if err != nil {
				return err
			}
			if out == "" {
				return e.writeOut("", []byte(v.File), "custody voucher")
			}
			if err := os.WriteFile(out, []byte(v.File), 0o644); err != nil {
				return fmt.Errorf("writing --out: %w", err)
			}
			v.File = ""
			return e.emit(v, []string{v.ID}, func(w io.Writer) { voucherDetail(w, v); kv(w, "Written to", out) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "the receiver's name (for people)")
	f.StringVar(&toKey, "to-key", "", "the receiver's public key (PEM file): the voucher is addressed to it")
	f.DurationVar(&ttl, "ttl", 0, "how long the voucher may be imported or extended (default 720h, at most 8784h)")
	f.StringVar(&out, "out", "", "write the voucher to this file instead of stdout")
	required(cmd, "to", "to-key")
	return cmd
}

func voucherDetail(w io.Writer, v api.CustodyVoucher) {
	kv(w, "Voucher", v.ID)
	kv(w, "Direction", v.Direction)
	kv(w, "Party", v.PartyID)
	kv(w, "Maker", v.MakerID)
	kv(w, "Devices", v.Devices)
	kv(w, "Addressed to key", v.AddresseeKeyID)
	kv(w, "Last link", v.FinalLink)
	kv(w, "SHA-256", v.SHA256)
	kv(w, "Created", v.CreatedAt.Format(time.RFC3339)+" by "+v.CreatedBy)
}

// readVoucherKey reads a private key PEM file; an encrypted one is opened with the passphrase in
// HALLMARK_VOUCHER_KEY_PASSPHRASE.
func readVoucherKey(flag, file string) (crypto.Signer, error) {
	b, err := readInput(flag, file)
	if err != nil {
		return nil, err
	}
	s, err := keys.ParsePrivateKeyPEM(b, []byte(os.Getenv("HALLMARK_VOUCHER_KEY_PASSPHRASE")))
	if err != nil {
		return nil, fmt.Errorf("--%s %s: %w", flag, file, err)
	}
	return s, nil
}

func readPublicKey(flag, file string) (crypto.PublicKey, error) {
	b, err := readInput(flag, file)
	if err != nil {
		return nil, err
	}
	k, err := buildrecord.ParsePublicKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("--%s %s: %w", flag, file, err)
	}
	return k, nil
}

func readVoucher(file string) (*custodyvoucher.Voucher, error) {
	b, err := readInput("voucher", file)
	if err != nil {
		return nil, err
	}
	v, err := custodyvoucher.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("--voucher %s: %w", file, err)
	}
	return v, nil
}

func (e *env) voucherExtendCmd() *cobra.Command {
	var voucherFile, keyFile, from, to, toKey, out string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "extend",
		Short: "Hand a voucher on to the next party, offline, with your own key",
		Long: `Append a hand-over to a custody voucher, signed with your private key (--key), addressed to the next
party's public key (--to-key). Your key must be the one the voucher's last hand-over is addressed to,
and that hand-over must not have expired. Needs no server and no deployment: a distributor that runs
none passes devices on with it. An encrypted key is opened with HALLMARK_VOUCHER_KEY_PASSPHRASE.`,
		Example: `  hallmark voucher extend --voucher v.json --key dist.key --from dist --to operator --to-key op.pub --out v2.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := readVoucher(voucherFile)
			if err != nil {
				return err
			}
			signer, err := readVoucherKey("key", keyFile)
			if err != nil {
				return err
			}
			pub, err := readPublicKey("to-key", toKey)
			if err != nil {
				return err
			}
			if err := custodyvoucher.Extend(v, signer, custodyvoucher.Handover{From: from, To: to, ToKey: pub, Now: time.Now(), TTL: ttl}); err != nil {
				return err
			}
			b, err := custodyvoucher.Marshal(v)
			if err != nil {
				return err
			}
			return e.writeOut(out, b, "custody voucher")
		},
	}
	f := cmd.Flags()
	f.StringVar(&voucherFile, "voucher", "", "the custody voucher (JSON file)")
	f.StringVar(&keyFile, "key", "", "your private key (PEM file): the voucher's current addressee")
	f.StringVar(&from, "from", "", "your name (for people)")
	f.StringVar(&to, "to", "", "the next party's name (for people)")
	f.StringVar(&toKey, "to-key", "", "the next party's public key (PEM file)")
	f.DurationVar(&ttl, "ttl", 30*24*time.Hour, "how long the next party may import or extend it (at most 8784h)")
	f.StringVar(&out, "out", "", "write the extended voucher to this file instead of stdout")
	required(cmd, "voucher", "key", "to-key")
	return cmd
}

// voucherCheck is what `voucher verify` prints as JSON.
type voucherCheck struct {
	OK      bool          `json:"ok"`
	Devices []string      `json:"devices"`
	Links   []voucherLink `json:"links"`
	Holder  string        `json:"holder_key_id"`
}

type voucherLink struct {
	From      string    `json:"from"`
	To        string    `json:"to"`
	SenderKey string    `json:"sender_key_id"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Hash      string    `json:"hash"`
}

func (e *env) voucherVerifyCmd() *cobra.Command {
	var voucherFile, recordKeys, addressee, at string
	var anchors, inters []string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check a custody voucher offline against the maker's anchor and build-record key",
		Long: `Check every signature of a custody voucher with no server: each device's factory chain to the maker's
anchor (--anchor, with --intermediate), each build record with the maker's build-record key
(--build-record-key; the key history "hallmark buildrecord keys" prints is accepted) and its binding
to the certificate, the first hand-over signed by that key, each later one by the key the one
before it was addressed to, the order and linkage of the chain, and that the last hand-over is
acceptable now (or at --at). With --addressee, also that the last hand-over is addressed to that key.
Prints "custody voucher OK" and the chain, or says what failed and exits 3.`,
		Example: `  hallmark voucher verify --voucher v2.json --anchor maker-root.pem --build-record-key maker-br.pem --addressee op.pub`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := readVoucher(voucherFile)
			if err != nil {
				return err
			}
			var t custodyvoucher.Trust
			if t.Anchors, err = readCertFiles("anchor", anchors); err != nil {
				return err
			}
			if t.Intermediates, err = readCertFiles("intermediate", inters); err != nil {
				return err
			}
			kb, err := readInput("build-record-key", recordKeys)
			if err != nil {
				return err
			}
			if t.BuildRecordKeys, err = buildrecord.ParsePublicKeysPEM(kb); err != nil {
				return fmt.Errorf("--build-record-key %s: %w", recordKeys, err)
			}
			if addressee != "" {
				if t.Addressee, err = readPublicKey("addressee", addressee); err != nil {
					return err
				}
			}
			now := time.Now()
			if at != "" {
				if now, err = time.Parse(time.RFC3339, at); err != nil {
					return invalidf("--at: %v", err)
				}
			}
			ver, err := custodyvoucher.Verify(v, t, now)
			if err != nil {
				return err
			}
			res := voucherCheck{OK: true, Holder: ver.HolderKeyID}
			for _, d := range ver.Devices {
				res.Devices = append(res.Devices, d.Serial)
			}
			for i, l := range ver.Links {
				res.Links = append(res.Links, voucherLink{From: l.From, To: l.To, SenderKey: l.SenderKeyID, IssuedAt: l.IssuedAt, ExpiresAt: l.ExpiresAt, Hash: ver.Hashes[i]})
			}
			return e.emit(res, []string{res.Holder}, func(w io.Writer) {
				fmt.Fprintf(w, "custody voucher OK: %d devices (%s), held by key %s\n", len(res.Devices), strings.Join(res.Devices, ", "), res.Holder)
				for i, l := range res.Links {
					fmt.Fprintf(w, "  link %d: %s -> %s, issued %s, acceptable until %s\n", i, l.From, l.To, l.IssuedAt.Format(time.RFC3339), l.ExpiresAt.Format(time.RFC3339))
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&voucherFile, "voucher", "", "the custody voucher (JSON file)")
	f.StringArrayVar(&anchors, "anchor", nil, "PEM file of the maker's root CA certificate(s) (repeatable)")
	f.StringArrayVar(&inters, "intermediate", nil, "PEM file of intermediate CA certificate(s) (repeatable)")
	f.StringVar(&recordKeys, "build-record-key", "", "the maker's build-record public key or key history (PEM file)")
	f.StringVar(&addressee, "addressee", "", "a public key (PEM file) the last hand-over must be addressed to")
	f.StringVar(&at, "at", "", "check at this RFC 3339 time instead of now")
	required(cmd, "voucher", "anchor", "build-record-key")
	return cmd
}

func readCertFiles(flag string, files []string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, f := range files {
		b, err := readInput(flag, f)
		if err != nil {
			return nil, err
		}
		cs, err := certpem.Parse(b, certpem.Options{What: "--" + flag + " " + f})
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

func (e *env) voucherImportCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import a custody voucher: its devices become your party's",
		Long: `Import a custody voucher into this deployment. It is verified offline against a maker registered for
your party (hallmark maker register --build-record-key), its last hand-over must be addressed to a
custody key of your party (hallmark voucher key register), no hand-over of it may have been
imported before, none of its devices may be known here, and the maker's CRL or OCSP must not say a
factory certificate is revoked. Then its devices are created, held by your party, ready to onboard.
Anything refused changes nothing. Audited (custody.voucher.import).`,
		Example: `  hallmark voucher import --file v2.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := readInput("file", file)
			if err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			v, err := c.ImportVoucher(cmd.Context(), b)
			if err != nil {
				return err
			}
			return e.emit(v, v.DeviceIDs, func(w io.Writer) {
				voucherDetail(w, v.Voucher)
				kv(w, "Maker name", v.MakerName)
				kv(w, "Device IDs", strings.Join(v.DeviceIDs, " "))
			})
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "the custody voucher (JSON file)")
	required(cmd, "file")
	return cmd
}

func (e *env) voucherListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the custody vouchers your party exported or imported",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			vs, err := c.ListVouchers(cmd.Context())
			if err != nil {
				return err
			}
			ids := make([]string, len(vs))
			for i, v := range vs {
				ids[i] = v.ID
			}
			return e.emit(vs, ids, func(w io.Writer) {
				fmt.Fprintln(w, "ID\tDIRECTION\tDEVICES\tADDRESSED TO\tCREATED")
				for _, v := range vs {
					fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\n", v.ID, v.Direction, v.Devices, v.AddresseeKeyID, v.CreatedAt.Format(time.RFC3339))
				}
			})
		},
	}
}

func (e *env) voucherShowCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "show VOUCHER",
		Short: "Show a custody voucher your party exported or imported; --out writes its file",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			v, err := c.GetVoucher(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if out != "" {
				if err := os.WriteFile(out, []byte(v.File), 0o644); err != nil {
					return fmt.Errorf("writing --out: %w", err)
				}
			}
			v.File = ""
			return e.emit(v, []string{v.ID}, func(w io.Writer) { voucherDetail(w, v) })
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the voucher file to this file")
	return cmd
}
