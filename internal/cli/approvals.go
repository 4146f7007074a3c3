package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/failure"
)

// approvalStates are the states a request can be listed by.
var approvalStates = []approval.State{approval.Pending, approval.Approved, approval.Denied, approval.Expired, approval.Cancelled, approval.Executed}

func approvalKindList() string { return approvalKinds(approval.Kinds) }

// requestKindList names every kind of request, governance changes (approval.ChangeKinds) too.
func requestKindList() string {
	return approvalKinds(append(slices.Clone(approval.Kinds), approval.ChangeKinds...))
}

func approvalKinds(ks []approval.Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func approvalStateList() string {
	s := make([]string, len(approvalStates))
	for i, st := range approvalStates {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

func (e *env) approvalCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "approval",
		Short: "List, approve, deny, execute and cancel approval requests; show and set their rules",
		Long: `Some actions wait for an approval before they happen: a support grant (support-grant), the
re-admission of a quarantined or suspended device (readmit), the revocation of every factory
identity of an issuing CA (revoke-ca), and onboarding under a policy whose require_approval
matches (onboard).

The party that owns the approve duty of the action's stage over its scope decides, through
principals other than the requester; a rule per kind says how many approvers are needed, whether
they must belong to another party than the requester's, and how long an undecided request stays
open. Once approved, the action runs at once; an approval is used at most once. See
docs/governance.md.`,
		Example: `  hallmark approval list --state pending
  hallmark approval approve apr-0123456789abcdef --comment "checked the repair report"
  hallmark approval rules`,
	}
	cmd.AddCommand(e.approvalListCmd(), e.approvalShowCmd(), e.approvalDecideCmd(true), e.approvalDecideCmd(false),
		e.approvalExecuteCmd(), e.approvalCancelCmd(), e.approvalRulesCmd(), e.approvalSetRuleCmd())
	return cmd
}

func (e *env) approvalListCmd() *cobra.Command {
	var f client.ApprovalFilter
	var kind, state string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List approval requests",
		Long: `List the approval requests your party asked for or decides (auditors see all), newest first,
optionally only those of one --kind, --subject (e.g. device:dev_123, grant:sup_123, ca:ca_123) or
--state (` + approvalStateList() + `). -o id prints their IDs.`,
		Example: `  hallmark approval list --state pending
  hallmark approval list --kind readmit --subject device:dev_123 -o id`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if kind != "" {
				k, err := approval.ParseKind(kind)
				if err != nil {
					return usagef("--kind must be one of %s, not %q", requestKindList(), kind)
				}
				f.Kind = string(k)
			}
			if state != "" {
				if !slices.Contains(approvalStates, approval.State(state)) {
					return usagef("--state must be one of %s, not %q", approvalStateList(), state)
				}
				f.State = state
			}
			if err := checkLimit(f.Limit); err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			qs, err := c.ListApprovals(cmd.Context(), f)
			if err != nil {
				return err
			}
			ids := make([]string, len(qs))
			for i, q := range qs {
				ids[i] = q.ID
			}
			return e.emit(qs, ids, func(w io.Writer) { approvalTable(w, qs, newPrincipalNames(cmd.Context(), c)) })
		},
	}
	lf := cmd.Flags()
	lf.StringVar(&kind, "kind", "", "only requests of this kind: "+requestKindList())
	lf.StringVar(&f.Subject, "subject", "", "only requests about this subject, e.g. device:dev_123")
	lf.StringVar(&state, "state", "", "only requests in this state: "+approvalStateList())
	lf.IntVar(&f.Limit, "limit", 0, "at most this many requests (1-1000; default: the server's)")
	return cmd
}

func (e *env) approvalShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show an approval request and its decisions",
		Long: `Show an approval request: what it asks for and why, who asked, which party decides and how many
approvals it needs, when it expires, and every decision so far.`,
		Example: `  hallmark approval show apr-0123456789abcdef
  hallmark approval show apr-0123456789abcdef -o json | jq .decisions`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			q, err := c.GetApproval(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return e.emit(q, []string{q.ID}, func(w io.Writer) { approvalDetail(w, q, newPrincipalNames(cmd.Context(), c)) })
		},
	}
}

func (e *env) approvalDecideCmd(approve bool) *cobra.Command {
	var comment string
	verb, use := "Deny", "deny"
	long := `Deny a pending approval request: it is closed and the action it asked for will not happen.`
	if approve {
		verb, use = "Approve", "approve"
		long = `Approve a pending approval request. You must be a principal of the party that decides it (the
owner of the approve duty over its scope) and not its requester. When this approval completes
the request (its rule may ask for two approvers), the approved action runs at once, as its
requester: a device is re-admitted, a support certificate issued, an issuing CA's factory
identities revoked. Should that fail (the action's own checks refuse it), the request stays
approved, the command exits 5 (conflict) with the reason, and "hallmark approval execute" runs it
once the cause is fixed.`
	}
	c := &cobra.Command{
		Use:   use + " ID",
		Short: verb + " an approval request",
		Long:  long + "\n\n--comment is recorded with the decision and in the audit log. -o id prints the request's ID.",
		Example: fmt.Sprintf(`  hallmark approval %s apr-0123456789abcdef --comment "checked the repair report"
  eval "$(hallmark dev env --as contoso/olivia)" && hallmark approval %s "$APPROVAL"`, use, use),
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := e.client()
			if err != nil {
				return err
			}
			res, err := cl.DecideApproval(cmd.Context(), args[0], api.Decision{Approve: approve, Comment: comment})
			if err != nil {
				return err
			}
			return e.emitDecideResult(cmd.Context(), cl, res)
		},
	}
	c.Flags().StringVar(&comment, "comment", "", "a comment recorded with the decision")
	return c
}

func (e *env) approvalExecuteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "execute ID",
		Short: "Run the action of an approved request that did not run when it was approved",
		Long: `An approved action runs as soon as the last approval is given. When it could not (the server
stopped, or the action's own checks refused it and the cause has since been fixed), execute runs
it now. The requester's party or the deciding party may ask. An approval is used at most once:
a request already executed is refused (a whole-CA revocation that was interrupted resumes).
Onboarding approvals are not executed: the device enrolls again and the approval is used then.`,
		Example: `  hallmark approval execute apr-0123456789abcdef`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			res, err := c.ExecuteApproval(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return e.emitDecideResult(cmd.Context(), c, res)
		},
	}
}

func (e *env) approvalCancelCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "cancel ID",
		Short:   "Withdraw a pending approval request, or an approved one whose action did not run",
		Long:    `Withdraw a request your party asked for that is pending, or approved but not carried out (its action was refused when it ran, or the server stopped first); the action it asked for will not happen.`,
		Example: `  hallmark approval cancel apr-0123456789abcdef`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			q, err := c.CancelApproval(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return e.emit(q, []string{q.ID}, func(w io.Writer) { approvalDetail(w, q, newPrincipalNames(cmd.Context(), c)) })
		},
	}
}

func (e *env) approvalRulesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rules",
		Short: "List the approval rule of every kind",
		Long: `List, for every approval kind, how many distinct principals must approve, whether they must
belong to another party than the requester's, and how long an undecided request stays open.
STORED is false for a kind that uses the built-in default. -o id prints the kinds.`,
		Example: `  hallmark approval rules
  hallmark approval rules -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			rs, err := c.ApprovalRules(cmd.Context())
			if err != nil {
				return err
			}
			ids := make([]string, len(rs))
			for i, r := range rs {
				ids[i] = string(r.Kind)
			}
			return e.emit(rs, ids, func(w io.Writer) { ruleTable(w, rs) })
		},
	}
}

func (e *env) approvalSetRuleCmd() *cobra.Command {
	var rr api.SetApprovalRuleRequest
	cmd := &cobra.Command{
		Use:   "set-rule KIND",
		Short: "Set the approval rule of one kind (administrators only)",
		Long: `Set the rule requests of KIND (` + approvalKindList() + `) are made under from now on:
--approvers distinct principals (1 or 2) must approve, --other-party requires them to belong to
another party than the requester's (always so for support-grant), and --expiry (a Go duration
between 1m and 720h) is how long an undecided request stays open. Requests already made keep the
rule they were made under.`,
		Example: `  hallmark approval set-rule readmit --approvers 2 --expiry 48h
  hallmark approval set-rule support-grant --approvers 1 --other-party --expiry 24h`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := approval.ParseKind(args[0])
			if err != nil || k.IsChange() {
				return usagef("KIND must be one of %s, not %q (a party's governance changes: hallmark party set-rule)", approvalKindList(), args[0])
			}
			if rr.Approvers < 1 || rr.Approvers > 2 {
				return usagef("--approvers must be 1 or 2, not %d", rr.Approvers)
			}
			if _, err := time.ParseDuration(rr.Expiry); err != nil {
				return usagef("--expiry must be a duration such as 72h, not %q", rr.Expiry)
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			v, err := c.SetApprovalRule(cmd.Context(), string(k), rr)
			if err != nil {
				return err
			}
			return e.emit(v, []string{string(v.Kind)}, func(w io.Writer) { ruleTable(w, []api.ApprovalRule{v}) })
		},
	}
	sf := cmd.Flags()
	sf.IntVar(&rr.Approvers, "approvers", 0, "how many distinct principals must approve: 1 or 2")
	sf.BoolVar(&rr.OtherParty, "other-party", false, "approvers must belong to another party than the requester's")
	sf.StringVar(&rr.Expiry, "expiry", "", "how long an undecided request stays open (a Go duration, e.g. 72h)")
	required(cmd, "approvers", "expiry")
	return cmd
}

// emitDecideResult prints a decided or executed request. An approved request whose action
// failed is an error (a conflict): the action did not happen, and the request waits for
// "hallmark approval execute". When the action ran on a device, the table says the state the
// device is in now.
func (e *env) emitDecideResult(ctx context.Context, c approvalReader, res api.DecideResult) error {
	q := res.Approval
	err := e.emit(res, []string{q.ID}, func(w io.Writer) {
		approvalDetail(w, q, newPrincipalNames(ctx, c))
		switch {
		case res.Executed:
			fmt.Fprintf(w, "\nThe approved %s ran.\n", q.Kind)
			if id, ok := strings.CutPrefix(q.Subject, "device:"); ok {
				if d, err := c.GetDevice(ctx, id); err == nil {
					fmt.Fprintf(w, "Device %s is now in state %s.\n", d.ID, d.State)
				}
			}
		case res.ExecError != "":
		case q.State == string(approval.Pending):
			fmt.Fprintf(w, "\nWaiting for %d more approval(s) by other principals of %s.\n", q.Approvers-approvalsOf(q), q.ApproverParty)
		}
	})
	if err != nil {
		return err
	}
	if res.ExecError != "" {
		return failure.New(failure.Conflict, "approval %s is approved but its %s did not run: %s; run \"hallmark approval execute %s\" once the cause is fixed",
			q.ID, q.Kind, res.ExecError, q.ID)
	}
	return nil
}

func approvalsOf(q api.Approval) int {
	n := 0
	for _, d := range q.Decisions {
		if d.Approve {
			n++
		}
	}
	return n
}

// approvalReader is what the approval tables read besides the request: names and devices.
type approvalReader interface {
	GetPrincipal(context.Context, string) (api.Principal, error)
	GetDevice(context.Context, string) (api.DeviceView, error)
}

func approvalTable(w io.Writer, qs []api.Approval, names *principalNames) {
	row(w, "ID", "KIND", "STATE", "SUBJECT", "REQUESTED BY", "DECIDED BY PARTY", "APPROVALS", "EXPIRES")
	for _, q := range qs {
		row(w, q.ID, q.Kind, q.State, q.Subject, q.RequesterParty+"/"+names.name(q.RequesterPrincipal), q.ApproverParty,
			fmt.Sprintf("%d/%d", approvalsOf(q), q.Approvers), ts(q.ExpiresAt))
	}
}

// approvalDetail prints a request; names turns principal IDs into names (nil: IDs).
func approvalDetail(w io.Writer, q api.Approval, names *principalNames) {
	kv(w, "Approval", q.ID)
	kv(w, "Kind", q.Kind)
	kv(w, "State", q.State)
	kv(w, "Subject", q.Subject)
	kv(w, "Scope", q.Scope)
	kv(w, "Reason", q.Reason)
	kv(w, "Requested", ts(q.CreatedAt)+" by "+orDash(names.name(q.RequesterPrincipal))+" of "+orDash(q.RequesterParty))
	needs := fmt.Sprintf("%d approval(s) by principals of %s other than the requester", q.Approvers, orDash(q.ApproverParty))
	if q.OtherParty {
		needs = fmt.Sprintf("%d approval(s) by principals of %s (another party than the requester's)", q.Approvers, orDash(q.ApproverParty))
	}
	if len(q.Quorum) > 0 {
		needs = quorumText(q) // changes.go
	}
	kv(w, "Needs", needs)
	if q.Until != nil {
		kv(w, "Access until", tsp(q.Until))
	}
	kv(w, "Expires", ts(q.ExpiresAt))
	if q.DecidedAt != nil {
		kv(w, "Decided", tsp(q.DecidedAt))
	}
	if q.ExecuteBy != nil {
		kv(w, "Execute by", tsp(q.ExecuteBy))
	}
	if q.ExecutedAt != nil {
		kv(w, "Executed", tsp(q.ExecutedAt))
	}
	fmt.Fprintf(w, "\nDecisions (%d)\n", len(q.Decisions))
	if len(q.Decisions) == 0 {
		fmt.Fprintln(w, "  none")
		return
	}
	row(w, "  DECISION", "BY", "AT", "COMMENT")
	for _, d := range q.Decisions {
		dec := "deny"
		if d.Approve {
			dec = "approve"
		}
		row(w, "  "+dec, d.PartyID+"/"+names.name(d.PrincipalID), ts(d.At), d.Comment)
	}
}

// pendingApprovalNote describes the approval an action waits for, for a summary table.
func pendingApprovalNote(w io.Writer, q api.Approval) {
	kv(w, "Approval", q.ID)
	state := fmt.Sprintf("%s (%d of %d approvals by %s)", q.State, approvalsOf(q), q.Approvers, orDash(q.ApproverParty))
	if q.State == string(approval.Pending) {
		state = fmt.Sprintf("%s (%d of %d approvals by %s; expires %s)", q.State, approvalsOf(q), q.Approvers, orDash(q.ApproverParty), ts(q.ExpiresAt))
	}
	kv(w, "Approval state", state)
	if len(q.Quorum) > 0 {
		kv(w, "Quorum", quorumText(q)) // changes.go
	}
	switch approval.State(q.State) {
	case approval.Pending:
		fmt.Fprintf(w, "\nWaiting for %d more approval(s) by principals of %s other than the requester, each with \"hallmark approval approve %s\".\n",
			q.Approvers-approvalsOf(q), orDash(q.ApproverParty), q.ID)
	case approval.Approved:
		fmt.Fprintf(w, "\nApproved but not carried out: run \"hallmark approval execute %s\".\n", q.ID)
	}
}

func ruleTable(w io.Writer, rs []api.ApprovalRule) {
	row(w, "KIND", "APPROVERS", "OTHER PARTY", "EXPIRY", "STORED")
	for _, r := range rs {
		row(w, r.Kind, strconv.Itoa(r.Approvers), r.OtherParty, r.Expiry, r.Stored)
	}
}
