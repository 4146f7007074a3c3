package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/policy"
)

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
	cmd.AddCommand(e.envCreateCmd(), e.envListCmd(), e.envShowCmd(), e.envPolicyCmd(), e.envUpdateCmd()) // envUpdateCmd: changes.go
	return cmd
}

func (e *env) envCreateCmd() *cobra.Command {
	var req api.CreateEnvironmentRequest
	var onbFile, renFile string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Define an environment",
		Long: `Define an environment of an operator. --issuing-ca is the operational issuing CA that signs its
devices' certificates; --trust-domain is the SPIFFE trust domain of their identities: the first
operator whose environment names a trust domain holds it for good, so it must be new or already
the operator's (another operator's is refused, 409, rule environment:trust-domain-owned). --lifetime
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
			r := req
			if err := readEnvironment(&r, onbFile, renFile); err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			v, err := c.CreateEnvironment(cmd.Context(), r)
			if err != nil {
				return err
			}
			return e.emit(v, []string{v.ID}, func(w io.Writer) { envDetail(w, v) })
		},
	}
	cf := cmd.Flags()
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
	required(cmd, "operator", "name", "issuing-ca", "trust-domain", "lifetime", "max-age")
	return cmd
}

// readEnvironment checks the durations of req and reads its policy documents from their files.
func readEnvironment(req *api.CreateEnvironmentRequest, onbFile, renFile string) error {
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
	req.Renewal, err = readPolicy("renewal-policy", renFile)
	return err
}

func (e *env) envListCmd() *cobra.Command {
	return &cobra.Command{
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
}

func (e *env) envShowCmd() *cobra.Command {
	return &cobra.Command{
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
}

func (e *env) envPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Change an environment's onboarding or renewal policy",
		Long: `Policies are versioned: setting one stores the next version, and every later decision uses it.
Earlier versions stay on record with the decisions made under them.`,
		Example: `  hallmark env policy set env_123 --kind onboarding --file onboarding.json`,
	}
	cmd.AddCommand(e.envPolicySetCmd(), e.envPolicyDryRunCmd()) // envPolicyDryRunCmd: changes.go
	return cmd
}

func (e *env) envPolicySetCmd() *cobra.Command {
	var kind, file string
	cmd := &cobra.Command{
		Use:   "set ID",
		Short: "Store a new version of an environment's policy",
		Long: `Store the policy document in --file (JSON: rules with CEL expressions, see docs/policies.md) as
the next version of the environment's onboarding or renewal policy. The server compiles it first
and refuses a policy that does not compile; nothing changes then. Prints the new version
(-o id prints the version number alone).

A policy change is governed under the operator's policy-change rule, by default one other
principal of the same party (docs/governance.md): it then waits for approval, and the command
prints the pending approval request instead (-o id: its ID) and exits 0; the version is stored
when "hallmark approval approve ID" meets the rule. "hallmark env policy dry-run" shows first
which devices a renewal policy would refuse.`,
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
	cmd.Flags().StringVar(&kind, "kind", "", "which policy: onboarding or renewal")
	cmd.Flags().StringVar(&file, "file", "", "the policy document (JSON file)")
	required(cmd, "kind", "file")
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
