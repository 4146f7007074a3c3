package operational

import (
	"context"
	"encoding/json"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/policy"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/waiver"
)

// Dry-run page sizes: DefaultDryRunPage devices per page unless asked, never more than
// MaxDryRunPage (each device is a build-record signature check and a policy evaluation).
const (
	DefaultDryRunPage = 500
	MaxDryRunPage     = 1000
)

// DryRunRefusal is one device a proposed renewal policy would refuse at its next renewal.
type DryRunRefusal struct {
	DeviceID string           `json:"device_id"`
	Serial   string           `json:"serial"`
	Failed   []policy.Failure `json:"failed"`
	Waived   []string         `json:"waived,omitempty"`
}

// DryRunResult is one page of a dry run.
type DryRunResult struct {
	EnvironmentID string          `json:"environment_id"`
	Kind          string          `json:"kind"`
	Evaluated     int             `json:"evaluated"`
	Refused       []DryRunRefusal `json:"refused"`
	Next          string          `json:"next,omitempty"`
}

// DryRunPolicy evaluates a proposed renewal policy, without storing it, on one page of the
// environment's active devices (by device ID after after, at most limit): each as its next
// renewal would be decided now, with the policy input renewal builds (renewalInput) from the
// facts the device last reported and its current operational certificate, and its active
// waivers honoured as renewal honours them. It returns the devices that would be refused and
// the rules that would refuse them; Next names the next page. The environment's operator and
// auditors may run it; it changes nothing.
func (s *Service) DryRunPolicy(ctx context.Context, a audit.Actor, envID string, kind environment.PolicyKind, raw json.RawMessage, after string, limit int) (DryRunResult, error) {
	out := DryRunResult{EnvironmentID: envID, Kind: string(kind), Refused: []DryRunRefusal{}}
	if kind != environment.Renewal {
		return out, failure.New(failure.Invalid, "a dry run evaluates a renewal policy (the next renewal of each active device), not %q", kind)
	}
	if limit == 0 {
		limit = DefaultDryRunPage
	}
	if limit < 1 || limit > MaxDryRunPage {
		return out, failure.New(failure.Invalid, "limit must be between 1 and %d", MaxDryRunPage)
	}
	if len(raw) == 0 || string(raw) == "null" {
		return out, failure.New(failure.Invalid, "send the proposed policy as {\"policy\": {\"rules\": [...]}}")
	}
	spec, err := policy.ParseSpec(raw)
	if err != nil {
		return out, err
	}
	now := s.now()
	err = s.c.Store.View(ctx, func(tx store.Tx) error {
		// Store.View may run this function again (after a lost connection): start over.
		out.Evaluated, out.Refused, out.Next = 0, []DryRunRefusal{}, ""
		env, err := tx.Environments().GetEnvironment(envID)
		if err != nil {
			return err
		}
		if ok, err := governance.CanRead(tx, a, env.OperatorID); err != nil {
			return err
		} else if !ok {
			return failure.New(failure.NotFound, "environment %s: not found", envID)
		}
		cur, err := tx.Environments().LatestPolicy(envID, kind)
		if err != nil {
			return err
		}
		prog, err := policy.Compile(spec, cur.Version+1)
		if err != nil {
			return err
		}
		ds, err := tx.Devices().ListDevices(store.DeviceFilter{EnvironmentID: envID, State: device.Active, After: after, Limit: limit})
		if err != nil {
			return err
		}
		for _, d := range ds {
			if d.CustodianID != env.OperatorID || d.OperationalCert == "" {
				continue // not renewable here whatever the policy says
			}
			out.Evaluated++
			if r, refused := s.dryRunDevice(ctx, tx, prog, d, env, now); refused {
				out.Refused = append(out.Refused, r)
			}
		}
		if len(ds) == limit {
			out.Next = ds[len(ds)-1].ID
		}
		return nil
	})
	return out, err
}

// dryRunDevice decides one device's next renewal under prog.
func (s *Service) dryRunDevice(ctx context.Context, tx store.Tx, prog *policy.Program, d device.Device, env environment.Environment, at time.Time) (DryRunRefusal, bool) {
	r := DryRunRefusal{DeviceID: d.ID, Serial: d.OperationalCert}
	fail := func(err error) (DryRunRefusal, bool) {
		r.Failed = []policy.Failure{{Rule: "_inputs", Message: "building the policy inputs", Error: policy.Excerpt(err.Error(), policy.MaxExcerpt)}}
		return r, true
	}

	rec, err := tx.Certificates().GetCert(mustSerial(d.OperationalCert))
	if err != nil {
		return fail(err)
	}
	if rec.State != ca.Issued {
		return r, false // revoked: renewal refuses it whatever the policy
	}
	facts, err := lastFacts(tx, d.ID)
	if err != nil {
		return fail(err)
	}
	in, _, _, err := s.renewalInput(tx, d, env, rec, facts, at)
	if err != nil {
		return fail(err)
	}
	ws, err := tx.Waivers().ListWaivers(store.WaiverFilter{DeviceID: d.ID, ActiveAt: &at})
	if err != nil {
		return fail(err)
	}
	dec, waived := waiver.Apply(prog.EvaluateContext(ctx, in), ws)
	r.Waived = waived
	if dec.Allowed {
		return r, false
	}
	r.Failed = dec.Failed
	if len(r.Failed) == 0 { // every rule held but the policy asks for approval, which renewal refuses
		r.Failed = []policy.Failure{{Rule: "_require_approval", Message: "renewal policies cannot ask for an operator's approval"}}
	}
	return r, true
}

// lastFacts returns the facts the device reported at its newest issuance (none for a device
// without evidence). It reads that one evidence row: a dry run pages through an environment's
// fleet, and reading each device's whole history (every renewal's row, facts included) made
// it slower the longer the fleet had lived.
func lastFacts(tx store.Tx, deviceID string) (environment.Facts, error) {
	var f environment.Facts
	newest, err := tx.Evidence().LatestEvidence(deviceID)
	if failure.Is(err, failure.NotFound) {
		return f, nil
	}
	if err != nil {
		return f, err
	}
	if len(newest.Facts) > 0 {
		if err := json.Unmarshal(newest.Facts, &f); err != nil {
			return f, err
		}
	}
	return f, nil
}
