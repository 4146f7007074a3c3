package client

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/hallmark-id/hallmark/api"
)

// Pending is the error a governed change returns when the party's rule makes it wait for
// approval (the server answered 202): nothing changed yet; Approval is the pending request,
// which principals of the party approve with Decide. It is not a failure of the call.
type Pending struct {
	Approval api.Approval
}

func (p *Pending) Error() string {
	return fmt.Sprintf("%s waits for approval %s (%d approvals needed)", p.Approval.Kind, p.Approval.ID, p.Approval.Approvers)
}

// governed wraps the answer of a governed change: out on 200/201, *Pending on 202.
type governed struct{ out any }

// ChangeRules lists a party's rule for every kind of governance change.
func (c *Client) ChangeRules(ctx context.Context, partyID string) ([]api.ChangeRule, error) {
	var p api.Page[api.ChangeRule]
	return p.Items, c.do(ctx, "GET", "/v1/parties/"+seg(partyID)+"/change-rules", nil, &p)
}

// SetChangeRule sets a party's rule for one kind of change; the change may itself wait for
// approval (*Pending).
func (c *Client) SetChangeRule(ctx context.Context, partyID, kind string, r api.SetChangeRuleRequest) (api.ChangeRule, error) {
	var v api.ChangeRule
	return v, c.do(ctx, "PUT", "/v1/parties/"+seg(partyID)+"/change-rules/"+seg(kind), r, &governed{&v})
}

// ApproverGroups lists a party's approver groups.
func (c *Client) ApproverGroups(ctx context.Context, partyID string) ([]api.ApproverGroup, error) {
	var p api.Page[api.ApproverGroup]
	return p.Items, c.do(ctx, "GET", "/v1/parties/"+seg(partyID)+"/approver-groups", nil, &p)
}

// SetApproverGroup creates or replaces an approver group; it may wait for approval (*Pending).
func (c *Client) SetApproverGroup(ctx context.Context, partyID, name string, r api.SetApproverGroupRequest) (api.ApproverGroup, error) {
	var v api.ApproverGroup
	return v, c.do(ctx, "PUT", "/v1/parties/"+seg(partyID)+"/approver-groups/"+seg(name), r, &governed{&v})
}

// UpdateEnvironment changes an environment's lifetime, max age, services or issuing CA; it
// may wait for approval (*Pending).
func (c *Client) UpdateEnvironment(ctx context.Context, envID string, u api.EnvironmentUpdate) (api.EnvironmentView, error) {
	var v api.EnvironmentView
	return v, c.do(ctx, "PATCH", "/v1/environments/"+seg(envID), u, &governed{&v})
}

// DryRunPolicy evaluates a proposed renewal policy on one page of an environment's active
// devices; pass the answer's Next as r.After for the next page.
func (c *Client) DryRunPolicy(ctx context.Context, envID, kind string, r api.DryRunRequest) (api.DryRunResult, error) {
	var v api.DryRunResult
	return v, c.do(ctx, "POST", "/v1/environments/"+seg(envID)+"/policies/"+seg(kind)+"/dry-run", r, &v)
}

// RequestWaiver asks for a waiver; under the operator's rule it waits for approval (*Pending).
func (c *Client) RequestWaiver(ctx context.Context, r api.WaiverRequest) (api.Waiver, error) {
	var v api.Waiver
	return v, c.do(ctx, "POST", "/v1/waivers", r, &governed{&v})
}

// Waivers is the waivers report: of one device when deviceID is set, the active ones only
// when active is.
func (c *Client) Waivers(ctx context.Context, deviceID string, active bool) ([]api.Waiver, error) {
	q := url.Values{}
	if deviceID != "" {
		q.Set("device", deviceID)
	}
	if active {
		q.Set("active", strconv.FormatBool(active))
	}
	path := "/v1/waivers"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var p api.Page[api.Waiver]
	return p.Items, c.do(ctx, "GET", path, nil, &p)
}
