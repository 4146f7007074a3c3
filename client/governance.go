package client

import (
	"context"
	"strconv"

	"github.com/hallmark-id/hallmark/api"
)

// Approvals, separation of duties and support grants.

// ApprovalFilter selects approval requests; zero fields do not filter.
type ApprovalFilter struct {
	Kind    string // support-grant, readmit, revoke-ca, onboard or manifest
	Subject string // e.g. device:dev_123, grant:sup_123, ca:ca_123
	State   string // pending, approved, denied, expired, cancelled or executed
	Limit   int    // 0 is the server's default
}

// ListApprovals lists the approval requests the caller's party asked for or decides (auditors
// see every one), newest first.
func (c *Client) ListApprovals(ctx context.Context, f ApprovalFilter) ([]api.Approval, error) {
	limit := ""
	if f.Limit > 0 {
		limit = strconv.Itoa(f.Limit)
	}
	return list[api.Approval](ctx, c, withQuery("/v1/approvals",
		"kind", f.Kind, "subject", f.Subject, "state", f.State, "limit", limit))
}

// GetApproval returns one approval request, with expiry applied as of now.
func (c *Client) GetApproval(ctx context.Context, id string) (api.Approval, error) {
	var q api.Approval
	return q, c.do(ctx, "GET", "/v1/approvals/"+seg(id), nil, &q)
}

// DecideApproval approves or denies a pending request. When the decision makes the request
// approved, the server runs the approved action at once: the result says whether it ran.
func (c *Client) DecideApproval(ctx context.Context, id string, d api.Decision) (api.DecideResult, error) {
	var res api.DecideResult
	return res, c.do(ctx, "POST", "/v1/approvals/"+seg(id)+"/decision", d, &res)
}

// ExecuteApproval runs the action of an approved request that did not run when it was approved.
func (c *Client) ExecuteApproval(ctx context.Context, id string) (api.DecideResult, error) {
	var res api.DecideResult
	return res, c.do(ctx, "POST", "/v1/approvals/"+seg(id)+"/execute", nil, &res)
}

// CancelApproval withdraws a pending request (its requester's party may).
func (c *Client) CancelApproval(ctx context.Context, id string) (api.Approval, error) {
	var q api.Approval
	return q, c.do(ctx, "POST", "/v1/approvals/"+seg(id)+"/cancel", nil, &q)
}

// ApprovalRules lists the rule of every approval kind: stored, or the built-in default.
func (c *Client) ApprovalRules(ctx context.Context) ([]api.ApprovalRule, error) {
	return list[api.ApprovalRule](ctx, c, "/v1/approval-rules")
}

// SetApprovalRule sets the rule of one approval kind (deployment administrators only).
// Pending requests keep the rule they were made under.
func (c *Client) SetApprovalRule(ctx context.Context, kind string, r api.SetApprovalRuleRequest) (api.ApprovalRule, error) {
	var v api.ApprovalRule
	return v, c.do(ctx, "PUT", "/v1/approval-rules/"+seg(kind), r, &governed{&v})
}

// SoDRules lists the separation-of-duties rules.
func (c *Client) SoDRules(ctx context.Context) ([]api.SoDRule, error) {
	return list[api.SoDRule](ctx, c, "/v1/sod-rules")
}

// AddSoDRule adds a separation-of-duties rule (deployment administrators only); the server
// refuses a rule some principal would already break.
func (c *Client) AddSoDRule(ctx context.Context, r api.SoDRuleRequest) (api.SoDRule, error) {
	var out api.SoDRule
	return out, c.do(ctx, "POST", "/v1/sod-rules", r, &governed{&out})
}

// DeleteSoDRule removes a separation-of-duties rule (deployment administrators only).
func (c *Client) DeleteSoDRule(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/v1/sod-rules/"+seg(id), nil, &governed{})
}

// PrincipalDuties returns the duties a principal is limited to; none means every duty of its
// party.
func (c *Client) PrincipalDuties(ctx context.Context, principalID string) ([]api.Pair, error) {
	return list[api.Pair](ctx, c, "/v1/principals/"+seg(principalID)+"/duties")
}

// SetPrincipalDuties limits a principal to duties ("stage/duty", e.g. "operational/issue");
// an empty list lifts the limit. It returns the duties as stored.
func (c *Client) SetPrincipalDuties(ctx context.Context, principalID string, duties []string) ([]api.Pair, error) {
	if duties == nil {
		duties = []string{}
	}
	var p api.Page[api.Pair]
	err := c.do(ctx, "PUT", "/v1/principals/"+seg(principalID)+"/duties", api.SetDutiesRequest{Duties: duties}, &governed{&p})
	if p.Items == nil {
		p.Items = []api.Pair{}
	}
	return p.Items, err
}

// CreateSupportHierarchy creates an operator's support root CA and an issuing CA under it, from
// which approved support grants are issued.
func (c *Client) CreateSupportHierarchy(ctx context.Context, r api.CreateSupportHierarchyRequest) (api.Hierarchy, error) {
	var h api.Hierarchy
	return h, c.do(ctx, "POST", "/v1/support/hierarchies", r, &h)
}

// RequestSupportGrant asks for a support grant; it waits for the operator's approval (the
// result's Approval) and nothing is issued before.
func (c *Client) RequestSupportGrant(ctx context.Context, r api.SupportRequest) (api.SupportGrant, error) {
	var v api.SupportGrant
	return v, c.do(ctx, "POST", "/v1/support/grants", r, &v)
}

// GrantFilter selects support grants; zero fields do not filter.
type GrantFilter struct {
	Environment, Device, Lot string
	State                    string // requested, active, denied or revoked
	Limit                    int    // 0 is the server's default
}

// ListSupportGrants lists the support grants the caller's party asked for or approves
// (auditors see every one), newest first.
func (c *Client) ListSupportGrants(ctx context.Context, f GrantFilter) ([]api.SupportGrant, error) {
	limit := ""
	if f.Limit > 0 {
		limit = strconv.Itoa(f.Limit)
	}
	return list[api.SupportGrant](ctx, c, withQuery("/v1/support/grants",
		"environment", f.Environment, "device", f.Device, "lot", f.Lot, "state", f.State, "limit", limit))
}

// GetSupportGrant returns a grant with its approval and, once issued, its certificate and chain.
func (c *Client) GetSupportGrant(ctx context.Context, id string) (api.SupportGrant, error) {
	var v api.SupportGrant
	return v, c.do(ctx, "GET", "/v1/support/grants/"+seg(id), nil, &v)
}

// RevokeSupportGrant ends an active grant early and revokes its certificate.
func (c *Client) RevokeSupportGrant(ctx context.Context, id string, r api.RevokeGrantRequest) (api.SupportGrant, error) {
	var v api.SupportGrant
	return v, c.do(ctx, "POST", "/v1/support/grants/"+seg(id)+"/revoke", r, &v)
}

// CheckSupport asks whether a support certificate may reach a device now. A refusal is not an
// error: it is a Reach with Allowed false and the reason.
func (c *Client) CheckSupport(ctx context.Context, r api.SupportCheckRequest) (api.Reach, error) {
	var out api.Reach
	return out, c.do(ctx, "POST", "/v1/support/check", r, &out)
}
