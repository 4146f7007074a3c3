package manufacturing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/revocation"
	"github.com/hallmark-id/hallmark/internal/store"
)

// The store's values that RevokeFactory and Cascade take and return, named here so that a
// caller of the service (the API) need not import the store.
type (
	// FactorySelector picks the factory certificates a revocation covers.
	FactorySelector = store.FactorySelector
	// FactoryCert is one selected factory certificate with its device.
	FactoryCert = store.FactoryCert
	// RevocationRun is one manufacturing revocation as recorded.
	RevocationRun = store.RevocationRun
	// CascadeItem is one certificate a run revoked or suspended.
	CascadeItem = store.CascadeItem
	// Suspension is one cascade item: an operational identity issued on an affected factory
	// identity.
	Suspension = store.Suspension
)

// RevokeRequest revokes factory identities selected by device, lot, line, time window or
// issuing CA. DryRun defaults to true: without "dry_run": false nothing changes.
type RevokeRequest struct {
	Selector store.FactorySelector `json:"selector"`
	Reason   string                `json:"reason"`
	DryRun   *bool                 `json:"dry_run,omitempty"`
	// Why is the justification an approval request shows its approvers (whole-CA revocations).
	Why string `json:"why,omitempty"`
	// Limit, in a dry run, lists at most Limit factory identities and at most Limit
	// suspensions per environment; the counts (RevokeResult.Counts, Skipped) stay whole and
	// are counted by the store without reading every row. 0 lists every one; a revocation
	// that is not a dry run lists every one and refuses a limit.
	Limit int `json:"limit,omitempty"`
	// ApprovalID names the approved request a whole-CA revocation runs under; it is set by the
	// approval's executor, not by callers.
	ApprovalID string `json:"-"`
}

// MaxRevokeLimit bounds RevokeRequest.Limit.
const MaxRevokeLimit = 10000

// RevokeResult lists what a revocation did or, in a dry run, would do.
type RevokeResult struct {
	DryRun    bool                `json:"dry_run"`
	RunID     string              `json:"run_id,omitempty"`
	Reason    string              `json:"reason"`
	Factory   []store.FactoryCert `json:"factory"`   // factory identities revoked (or to be)
	Suspended []Suspension        `json:"suspended"` // operational identities suspended (or to be)
	Skipped   int                 `json:"already_revoked"`
	// Counts are whole: with a dry run's limit, Factory and Suspended list only the first.
	Counts RevokeCounts `json:"counts"`
	// Approval is the request a whole-CA revocation waits for; nothing was revoked yet.
	Approval *approval.Request `json:"approval,omitempty"`
}

// RevokeCounts is how many factory identities a revocation revoked (or would) and how many
// operational identities it suspended (or would), in all and per environment.
type RevokeCounts struct {
	Factory      int                `json:"factory"`
	Suspended    int                `json:"suspended"`
	Environments []EnvironmentCount `json:"environments"` // by environment ID; only those with suspensions
}

// EnvironmentCount is how many operational identities of one environment a revocation suspends.
type EnvironmentCount struct {
	EnvironmentID string `json:"environment_id"`
	Suspended     int    `json:"suspended"`
}

// countsOf counts a revocation's whole lists.
func countsOf(factory []store.FactoryCert, suspended []Suspension) RevokeCounts {
	by := map[string]int{}
	for _, x := range suspended {
		by[x.Environment]++
	}
	return RevokeCounts{Factory: len(factory), Suspended: len(suspended), Environments: environmentCounts(by)}
}

func environmentCounts(by map[string]int) []EnvironmentCount {
	out := make([]EnvironmentCount, 0, len(by))
	for e, n := range by {
		out = append(out, EnvironmentCount{EnvironmentID: e, Suspended: n})
	}
	slices.SortFunc(out, func(a, b EnvironmentCount) int { return strings.Compare(a.EnvironmentID, b.EnvironmentID) })
	return out
}

// WholeCA reports whether a selector names every factory identity of an issuing CA: nothing
// narrower than the CA. Such a revocation needs an approval (approval.RevokeCA).
func WholeCA(sel store.FactorySelector) bool {
	return sel.IssuingCAID != "" && sel.DeviceID == "" && sel.LotID == "" && sel.Line == "" && sel.IssuedFrom.IsZero() && sel.IssuedTo.IsZero()
}

// revokeChunkSize bounds one transaction of a large revocation, so that a lot of 100,000 devices
// does not hold the write lock for its whole run and an interrupted run resumes where it
// stopped (Service.chunk; tests make it smaller).
const revokeChunkSize = 500

// revokePageSize is how many factory certificates one selection query reads
// (Service.selectPage; tests make it smaller). The selection of a lot costs about as much for
// one page as for all of it (it walks the lot's devices), so it is read in large pages, each
// then revoked in transactions of chunk devices; each transaction re-checks the state it
// changes, so a re-run still skips what is revoked.
const revokePageSize = 10000

// RevokeFactory is the manufacturing revocation path. Every operational identity issued on an
// affected factory identity is suspended (certificateHold) in the same transaction as the
// factory revocation, and each cascade item is recorded. A revocation is never undone; a
// re-run skips what is already revoked and changes nothing else.
func (s *Service) RevokeFactory(ctx context.Context, a audit.Actor, r RevokeRequest) (RevokeResult, error) {
	reason, err := revocation.Parse(revocation.Manufacturing, r.Reason)
	if err != nil {
		return RevokeResult{}, err
	}
	res := RevokeResult{DryRun: r.DryRun == nil || *r.DryRun, Reason: reason.String(), Factory: []store.FactoryCert{}, Suspended: []Suspension{},
		Counts: RevokeCounts{Environments: []EnvironmentCount{}}}
	sel := r.Selector
	if sel.ManufacturerID == "" {
		return res, failure.New(failure.Invalid, "selector.manufacturer_id is required")
	}
	if sel.DeviceID == "" && sel.LotID == "" && sel.Line == "" && sel.IssuingCAID == "" && sel.IssuedFrom.IsZero() && sel.IssuedTo.IsZero() {
		return res, failure.New(failure.Invalid, "name at least one of selector.device_id, lot_id, line, issuing_ca_id, issued_from/issued_to: a revocation of every device of a manufacturer is an issuing-CA revocation")
	}
	if !sel.IssuedFrom.IsZero() && !sel.IssuedTo.IsZero() && !sel.IssuedFrom.Before(sel.IssuedTo) {
		return res, failure.New(failure.Invalid, "selector.issued_from must be before issued_to")
	}
	if r.Limit < 0 || r.Limit > MaxRevokeLimit {
		return res, failure.New(failure.Invalid, "limit must be between 1 and %d (0: every row)", MaxRevokeLimit)
	}
	if r.Limit > 0 && !res.DryRun {
		return res, failure.New(failure.Invalid, "limit applies to a dry run only: a revocation lists everything it changed")
	}
	if err := s.c.Store.View(ctx, func(tx store.Tx) error { return s.authorizeRevocation(tx, a, sel) }); err != nil {
		return res, err
	}
	now := s.now()
	if r.Limit > 0 {
		return res, s.preview(ctx, sel, now, r.Limit, &res)
	}
	if !res.DryRun && WholeCA(sel) && r.ApprovalID == "" {
		err := s.c.Store.Update(ctx, func(tx store.Tx) error {
			res.Approval = nil // Update may run this again
			if err := s.authorizeRevocation(tx, a, sel); err != nil {
				return err
			}
			subject := "ca:" + sel.IssuingCAID
			q, found, err := governance.LatestApproval(tx, approval.RevokeCA, subject, now)
			if err != nil {
				return err
			}
			if found && q.State == approval.Pending {
				res.Approval = &q
				return nil
			}
			why := r.Why
			if why == "" {
				why = "revoke every factory identity of issuing CA " + sel.IssuingCAID + " (" + reason.String() + ")"
			}
			q, err = governance.RequestApproval(tx, a, now, approval.RevokeCA, governance.ManufacturerChain(sel.ManufacturerID), subject, why, nil,
				RevokeRequest{Selector: sel, Reason: reason.String()})
			res.Approval = &q
			return err
		})
		return res, err
	}
	if !res.DryRun {
		res.RunID = party.NewID("rvk")
		err := s.c.Store.Update(ctx, func(tx store.Tx) error {
			if r.ApprovalID != "" {
				if err := s.useApproval(tx, a, now, r.ApprovalID, sel); err != nil {
					return err
				}
			}
			if err := tx.Revocations().CreateRun(store.RevocationRun{ID: res.RunID, ManufacturerID: sel.ManufacturerID, Selector: sel, Reason: int(reason), RequestedBy: a.PrincipalID, CreatedAt: now}); err != nil {
				return err
			}
			_, err := tx.Audit().Append(s.event(a, "factory.revoke.start", scopeOf(sel), "revocation:"+res.RunID, map[string]any{"selector": sel, "reason": reason.String()}))
			return err
		})
		if err != nil {
			return res, err
		}
	}
	// listed holds the devices whose suspension the run already listed. A device with two
	// issued factory certificates is suspended once: the real run re-reads each chunk's
	// devices and finds the operational certificate held by an earlier chunk, but a dry run
	// writes nothing between chunks, so it remembers here what it would have held.
	listed := map[string]bool{}
	chunk, selectPage := s.chunkSize(), s.pageSize()
	after := ""
	for {
		var page []store.FactoryCert
		if err := s.c.Store.View(ctx, func(tx store.Tx) (err error) {
			page, err = tx.Certificates().FactoryCerts(sel, after, selectPage)
			return err
		}); err != nil {
			return res, err
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].Serial
		for part := page; len(part) > 0; part = part[min(chunk, len(part)):] {
			if err := s.revokeChunk(ctx, a, res.RunID, part[:min(chunk, len(part))], reason, now, listed, &res); err != nil {
				return res, err
			}
		}
		if len(page) < selectPage {
			break
		}
	}
	res.Counts = countsOf(res.Factory, res.Suspended)
	if !res.DryRun {
		err := s.c.Store.Update(ctx, func(tx store.Tx) error {
			if err := tx.Revocations().FinishRun(res.RunID, s.now()); err != nil {
				return err
			}
			_, err := tx.Audit().Append(s.event(a, "factory.revoke.finish", scopeOf(sel), "revocation:"+res.RunID,
				map[string]any{"revoked": len(res.Factory), "suspended": len(res.Suspended), "already_revoked": res.Skipped}))
			return err
		})
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// preview is a dry run with a limit: the store counts the selection and reads only the first
// rows (store.Certificates.FactoryPreview), which match the whole dry run's counts and the
// start of its lists (the storetest conformance suite and this package's tests compare them).
func (s *Service) preview(ctx context.Context, sel store.FactorySelector, now time.Time, limit int, res *RevokeResult) error {
	var p store.FactoryPreview
	if err := s.c.Store.View(ctx, func(tx store.Tx) (err error) {
		p, err = tx.Certificates().FactoryPreview(sel, now, limit)
		return err
	}); err != nil {
		return fmt.Errorf("dry run preview: %w", err)
	}
	res.Factory, res.Suspended, res.Skipped = p.Factory, p.Suspended, p.Skipped
	res.Counts = RevokeCounts{Factory: p.Revoke, Environments: environmentCounts(p.Suspend)}
	for _, n := range p.Suspend {
		res.Counts.Suspended += n
	}
	return nil
}

// revokeChunk revokes (or, in a dry run, lists) one page in one transaction, set-based: one
// query reads the page's devices with their operational certificates, then one statement per
// kind of change writes the whole page (factory revocations, holds, cascade items, device
// states). A device's operational certificate is suspended (or listed) once, at the device's
// first issued factory certificate: in a dry run, listed holds the devices earlier chunks
// listed, and the chunk adds its own once it succeeded.
func (s *Service) revokeChunk(ctx context.Context, a audit.Actor, runID string, page []store.FactoryCert, reason revocation.Reason, now time.Time, listed map[string]bool, res *RevokeResult) error {
	// The result takes the page only once its transaction succeeded, so that a retried
	// transaction does not count twice.
	var factory []store.FactoryCert
	var suspended []Suspension
	var skipped int
	fn := func(tx store.Tx) error {
		factory, suspended, skipped = nil, nil, 0
		ids := make([]string, 0, len(page))
		for _, f := range page {
			if f.State == ca.Issued {
				ids = append(ids, f.DeviceID)
			}
		}
		targets, err := tx.Bulk().DeviceTargets(ids)
		if err != nil {
			return err
		}
		type current struct {
			d      device.Device
			opLive bool // the operational certificate is issued and unexpired
		}
		byID := make(map[string]*current, len(targets))
		for _, t := range targets {
			live := t.Device.OperationalCert != "" && t.OperationalState == ca.Issued && now.Before(t.OperationalNotAfter)
			// The real run reads the hold an earlier chunk wrote; a dry run wrote none.
			byID[t.Device.ID] = &current{d: t.Device, opLive: live && !(res.DryRun && listed[t.Device.ID])}
		}
		var revoked, held []string
		var items []store.CascadeItem
		var changes []store.DeviceStateChange
		from := map[string]int{} // device ID -> index in changes
		for _, f := range page {
			if f.State != ca.Issued {
				skipped++
				continue
			}
			c, ok := byID[f.DeviceID]
			if !ok {
				return fmt.Errorf("device %s: %w", f.DeviceID, store.ErrNotFound)
			}
			factory = append(factory, f)
			revoked = append(revoked, f.Serial)
			susp := c.opLive
			if susp {
				suspended = append(suspended, Suspension{DeviceID: c.d.ID, Serial: c.d.OperationalCert, Environment: c.d.EnvironmentID})
				// Its other factory certificates in this chunk find it held.
				c.opLive = false
			}
			if res.DryRun {
				continue
			}
			items = append(items, store.CascadeItem{RunID: runID, Serial: f.Serial, DeviceID: c.d.ID, Action: "factory-revoked", At: now})
			next := c.d.State
			if susp {
				held = append(held, c.d.OperationalCert)
				items = append(items, store.CascadeItem{RunID: runID, Serial: c.d.OperationalCert, DeviceID: c.d.ID, Action: "operational-suspended", At: now})
				next = device.Suspended
			} else if c.d.State != device.Quarantined && c.d.State != device.Suspended {
				next = device.FactoryRevoked
			}
			if next != c.d.State {
				// A device with two factory certificates in one page moves once, from its
				// stored state to its last one.
				if i, ok := from[c.d.ID]; ok {
					changes[i].To = next
				} else {
					from[c.d.ID] = len(changes)
					changes = append(changes, store.DeviceStateChange{DeviceID: c.d.ID, From: c.d.State, To: next})
				}
				c.d.State = next
			}
		}
		if res.DryRun || len(revoked) == 0 {
			return nil
		}
		b := tx.Bulk()
		if err := b.RevokeMany(revoked, int(reason), now); err != nil {
			return err
		}
		if err := b.HoldMany(held, now); err != nil {
			return err
		}
		if err := b.AddItems(items); err != nil {
			return err
		}
		if err := b.SetDeviceStates(changes, now); err != nil {
			return err
		}
		// The event names every certificate it changes, the held operational ones too
		// (audit reconcile recomputes certificate state from it). Events written before
		// "held" was added are still read: reconcile then takes the run's cascade items.
		_, err = tx.Audit().Append(s.event(a, "factory.revoke", "revocation:"+runID, "revocation:"+runID,
			map[string]any{"factory_certificates": revoked, "held": append([]string{}, held...), "reason": reason.String()}))
		return err
	}
	run := s.c.Store.Update
	if res.DryRun {
		run = s.c.Store.View
	}
	if err := run(ctx, fn); err != nil {
		return err
	}
	res.Factory = append(res.Factory, factory...)
	res.Suspended = append(res.Suspended, suspended...)
	res.Skipped += skipped
	for _, x := range suspended {
		listed[x.DeviceID] = true
	}
	return nil
}

// useApproval consumes the approval a whole-CA revocation runs under. An approval already
// consumed by an interrupted run of the same selection lets the re-run finish it: the
// revocation is idempotent and the approvers approved exactly this selection.
func (s *Service) useApproval(tx store.Tx, a audit.Actor, now time.Time, id string, sel store.FactorySelector) error {
	subject := "ca:" + sel.IssuingCAID
	q, err := tx.Approvals().GetApproval(id)
	if err != nil {
		return err
	}
	if q.State == approval.Executed && q.Kind == approval.RevokeCA && q.Subject == subject {
		return nil
	}
	_, err = governance.ConsumeApproval(tx, a, now, id, approval.RevokeCA, subject)
	return err
}

// RevokeApproved runs the whole-CA revocation an approved request describes, as its requester.
func (s *Service) RevokeApproved(ctx context.Context, a audit.Actor, q approval.Request) (RevokeResult, error) {
	var r RevokeRequest
	if err := json.Unmarshal(q.Payload, &r); err != nil {
		return RevokeResult{}, fmt.Errorf("approval %s: malformed payload: %w", q.ID, err)
	}
	no := false
	r.DryRun, r.ApprovalID = &no, q.ID
	if !WholeCA(r.Selector) || "ca:"+r.Selector.IssuingCAID != q.Subject || q.DecidedAt == nil {
		return RevokeResult{}, fmt.Errorf("approval %s does not describe a whole-CA revocation of %s", q.ID, q.Subject)
	}
	// The CA is retired first: from then on it issues nothing (the authority checks it where
	// a certificate is reserved and again where it becomes valid), so "every certificate of
	// the CA" is a fixed set: those issued before the retirement. A resumed run covers exactly
	// that set, never what a later approval-less issuance could add.
	now := s.now()
	var retiredAt time.Time
	if err := s.c.Store.Update(ctx, func(tx store.Tx) error {
		retiredAt = now // or when it was retired already
		c, err := tx.CAs().GetCA(r.Selector.IssuingCAID)
		if err != nil {
			return err
		}
		if c.RetiredAt != nil {
			retiredAt = *c.RetiredAt
			return nil
		}
		if err := tx.CAs().RetireCA(c.ID, now); err != nil {
			return err
		}
		details := map[string]any{"approval": q.ID, "reason": r.Reason}
		if serial, code, ok := caCertRevocation(c, r.Reason); ok {
			// The CA's own certificate goes on its root's CRL and OCSP too: a relying party
			// that checks the chain at the root learns of the retirement without asking about
			// each device certificate.
			// A conflict is a certificate already revoked (or one the root never recorded).
			switch err := tx.Certificates().Revoke(serial, int(code), now); {
			case err == nil:
				details["ca_certificate"], details["ca_certificate_reason"] = ca.SerialHex(serial), code.String()
			case !errors.Is(err, store.ErrConflict):
				return fmt.Errorf("revoking the certificate of CA %s at its root: %w", c.ID, err)
			}
		}
		_, err = tx.Audit().Append(s.event(a, "ca.retire", "manufacturer:"+c.PartyID, "ca:"+c.ID, details))
		return err
	}); err != nil {
		return RevokeResult{}, err
	}
	r.Selector.IssuedTo = retiredAt.Add(time.Microsecond)
	return s.RevokeFactory(ctx, a, r)
}

// authorizeRevocation checks manufacturing/revoke over the narrowest scope the selector names.
func (s *Service) authorizeRevocation(tx store.Tx, a audit.Actor, sel store.FactorySelector) error {
	chain := governance.ManufacturerChain(sel.ManufacturerID)
	switch {
	case sel.LotID != "":
		// A caller that may not see the lot (governance.CatalogSight) is told what it would be
		// told of a lot that does not exist: not that it exists, nor whose it is.
		notFound := failure.New(failure.NotFound, "lot %s: not found", sel.LotID)
		l, err := tx.Catalog().GetLot(sel.LotID)
		if failure.Is(err, failure.NotFound) {
			return notFound
		}
		if err != nil {
			return err
		}
		sight, err := governance.SightOf(tx, a, l.ManufacturerID)
		if err != nil {
			return err
		}
		if !sight.Lot(l) {
			return notFound
		}
		if l.ManufacturerID != sel.ManufacturerID {
			return failure.New(failure.Invalid, "lot %s is not a lot of %s", l.ID, sel.ManufacturerID)
		}
		chain = governance.LotChain(l)
	case sel.DeviceID != "":
		d, err := tx.Devices().GetDevice(sel.DeviceID)
		if err != nil {
			return err
		}
		if d.ManufacturerID != sel.ManufacturerID {
			// The run and its audit events are recorded under selector.manufacturer_id, so a
			// device of another maker must not be revoked under it.
			if ok, _ := governance.CanSeeDevice(tx, a, d); !ok {
				return failure.New(failure.NotFound, "device %s: not found", d.ID)
			}
			return failure.New(failure.Invalid, "device %s is not a device of %s", d.ID, sel.ManufacturerID)
		}
		l, err := tx.Catalog().GetLot(d.LotID)
		if err != nil {
			return err
		}
		chain = governance.LotChain(l)
	case sel.IssuingCAID != "":
		c, err := tx.CAs().GetCA(sel.IssuingCAID)
		if err != nil {
			return err
		}
		if c.PartyID != sel.ManufacturerID {
			return failure.New(failure.Invalid, "CA %s is not a CA of %s", c.ID, sel.ManufacturerID)
		}
	}
	return governance.Require(tx, a, stage, ownership.Revoke, chain)
}

func scopeOf(sel store.FactorySelector) string {
	if sel.LotID != "" {
		return "lot:" + sel.LotID
	}
	return "manufacturer:" + sel.ManufacturerID
}

func serialOf(hex string) *big.Int {
	n, ok := new(big.Int).SetString(hex, 16)
	if !ok {
		return new(big.Int)
	}
	return n
}

// Cascade lists the items a revocation run recorded.
func (s *Service) Cascade(ctx context.Context, a audit.Actor, runID string) (store.RevocationRun, []store.CascadeItem, error) {
	var run store.RevocationRun
	var items []store.CascadeItem
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		var err error
		if run, err = tx.Revocations().GetRun(runID); err != nil {
			return err
		}
		if ok, err := governance.CanRead(tx, a, run.ManufacturerID); err != nil {
			return err
		} else if !ok {
			return failure.New(failure.NotFound, "revocation run %s: not found", runID)
		}
		items, err = tx.Revocations().ListItems(runID, "", 10000)
		return err
	})
	return run, items, err
}

// caCertRevocation is how a whole-CA revocation revokes the CA's own certificate at its
// parent: the certificate's serial and the reason, with keyCompromise given as cACompromise
// (RFC 5280 section 5.3.1 keeps keyCompromise for end entities). ok is false for a CA
// without a parent here (a root, or an anchor of an outside maker).
func caCertRevocation(c ca.CA, reason string) (serial *big.Int, code revocation.Reason, ok bool) {
	if c.ParentID == "" || c.Cert == nil {
		return nil, 0, false
	}
	code, err := revocation.Parse(revocation.Manufacturing, reason)
	if err != nil {
		code = revocation.Unspecified
	}
	if code == revocation.KeyCompromise {
		code = revocation.CACompromise
	}
	return c.Cert.SerialNumber, code, true
}
