package makers

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/maker"
	"github.com/hallmark-id/hallmark/internal/manifest"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// ManifestUpload is a device manifest as uploaded.
type ManifestUpload struct {
	// Format is "dsse" (a signed envelope, active at once) or "csv" (active once approved).
	Format string
	Data   []byte
	// Reason is what the approvers of a CSV read.
	Reason string
}

// ManifestResult is an upload as stored, and the approval a CSV waits for.
type ManifestResult struct {
	Manifest maker.Manifest
	Approval *approval.Request
}

// Keys parses a maker's registered manifest keys.
func Keys(m maker.Maker) ([]manifest.Key, error) {
	out := make([]manifest.Key, 0, len(m.ManifestKeys))
	for _, p := range m.ManifestKeys {
		k, err := manifest.ParseKey([]byte(p))
		if err != nil {
			return nil, fmt.Errorf("maker %s: a stored manifest key: %w", m.ID, err)
		}
		out = append(out, k)
	}
	return out, nil
}

// Parse reads a stored manifest: a signed one is verified again with the maker's keys now
// registered (removing a key retires the manifests it signed).
func Parse(m maker.Maker, mf maker.Manifest, l manifest.Limits) (*manifest.Set, error) {
	switch mf.Format {
	case string(manifest.FormatDSSE):
		keys, err := Keys(m)
		if err != nil {
			return nil, err
		}
		if len(keys) == 0 {
			return nil, failure.New(failure.Denied, "maker %s has no manifest key registered: its signed manifest %s no longer verifies", m.Name, mf.ID)
		}
		return manifest.VerifyDSSE(mf.Content, keys, "", l)
	case string(manifest.FormatCSV):
		return manifest.ParseCSV(mf.Content, l)
	}
	return nil, failure.New(failure.Invalid, "manifest format %q: want dsse or csv", mf.Format)
}

// ImportManifest stores a maker's manifest. A signed one (DSSE) must verify with one of the
// maker's keys and be issued after the active signed one; it replaces the active manifest
// at once. A CSV is stored pending, with an approval request (approval.Manifest) naming its
// SHA-256, over the maker's operator; it replaces the active manifest when approved. Nothing
// is stored when the upload does not parse.
func (s *Service) ImportManifest(ctx context.Context, a audit.Actor, makerID string, u ManifestUpload) (ManifestResult, error) {
	var res ManifestResult
	var m maker.Maker
	if err := s.c.Store.View(ctx, func(tx store.Tx) error {
		var err error
		if m, err = tx.Makers().GetMaker(makerID); err != nil {
			return err
		}
		if ok, err := canSee(tx, a, m.OperatorID); err != nil {
			return err
		} else if !ok {
			return failure.New(failure.NotFound, "maker %s: not found", makerID)
		}
		return requireOwner(tx, a, m.OperatorID)
	}); err != nil {
		return res, err
	}
	var set *manifest.Set
	var err error
	switch strings.ToLower(u.Format) {
	case string(manifest.FormatDSSE):
		keys, err2 := Keys(m)
		if err2 != nil {
			return res, err2
		}
		if len(keys) == 0 {
			return res, failure.New(failure.Invalid, "maker %s has no manifest key: register one (maker update --manifest-key) before importing a signed manifest", m.Name)
		}
		set, err = manifest.VerifyDSSE(u.Data, keys, "", s.c.Manifests)
	case string(manifest.FormatCSV):
		if strings.TrimSpace(u.Reason) == "" {
			return res, failure.New(failure.Invalid, "a CSV manifest carries no signature: give the approvers a reason to trust it")
		}
		set, err = manifest.ParseCSV(u.Data, s.c.Manifests)
	default:
		return res, failure.New(failure.Invalid, "manifest format %q: want dsse (a signed envelope) or csv", u.Format)
	}
	if err != nil {
		return res, err
	}
	now := s.c.Now()
	mf := maker.Manifest{ID: party.NewID("mfs"), MakerID: m.ID, Format: string(set.Format), SHA256: sha256.Sum256(u.Data), Content: u.Data, Entries: set.Len(),
		UploadedBy: a.PrincipalID, UploadedAt: now}
	if set.Format == manifest.FormatDSSE {
		issued := set.IssuedAt
		mf.IssuedAt, mf.State, mf.ActivatedAt = &issued, maker.ManifestActive, &now
	} else {
		mf.State = maker.ManifestPending
	}
	// signed, not mf.State, picks the branch: the function sets mf.State, and Update may run it
	// again (a retry, group commit's re-run), after a run that failed between its two writes.
	signed := mf.State == maker.ManifestActive
	err = s.c.Store.Update(ctx, func(tx store.Tx) error {
		// Stored pending in every run, then activated when signed: activation supersedes the
		// active one.
		mf.State = maker.ManifestPending
		if err := requireOwner(tx, a, m.OperatorID); err != nil {
			return err
		}
		detail := map[string]any{"maker": m.ID, "manifest": mf.ID, "format": mf.Format, "sha256": hexSum(mf.SHA256), "entries": mf.Entries}
		if signed {
			if cur, err := tx.Makers().ActiveManifest(m.ID); err == nil && cur.IssuedAt != nil && !set.IssuedAt.After(*cur.IssuedAt) {
				return failure.New(failure.Conflict, "the signed manifest was issued at %s, not after the active one (%s, issued %s): a maker's older manifest is not taken back",
					set.IssuedAt.Format("2006-01-02T15:04:05Z07:00"), cur.ID, cur.IssuedAt.Format("2006-01-02T15:04:05Z07:00"))
			} else if err != nil && !failure.Is(err, failure.NotFound) {
				return err
			}
			if err := tx.Makers().AddManifest(mf); err != nil {
				return err
			}
			if err := tx.Makers().SetManifestState(mf.ID, maker.ManifestActive, "", now); err != nil {
				return err
			}
			mf.State = maker.ManifestActive
			detail["signed_by_key_sha256"], detail["issued_at"], detail["document_maker"] = hexSum(set.KeySHA256), set.IssuedAt, set.Maker
			_, err := tx.Audit().Append(s.event(a, "maker.manifest.import", m.OperatorID, "maker:"+m.ID, detail))
			return err
		}
		q, err := governance.RequestApproval(tx, a, now, approval.Manifest, operatorChain(m.OperatorID), "manifest:"+mf.ID,
			u.Reason, nil, detail)
		if err != nil {
			return err
		}
		mf.ApprovalID, res.Approval = q.ID, &q
		if err := tx.Makers().AddManifest(mf); err != nil {
			return err
		}
		_, err = tx.Audit().Append(s.event(a, "maker.manifest.upload", m.OperatorID, "maker:"+m.ID, detail))
		return err
	})
	mf.Content = nil
	res.Manifest = mf
	return res, err
}

// ManifestApproved activates the CSV an approved request names, consuming the approval in
// the same transaction (the approval's executor).
func (s *Service) ManifestApproved(ctx context.Context, a audit.Actor, q approval.Request) error {
	id := strings.TrimPrefix(q.Subject, "manifest:")
	now := s.c.Now()
	return s.c.Store.Update(ctx, func(tx store.Tx) error {
		mf, err := tx.Makers().GetManifest(id)
		if err != nil {
			return err
		}
		m, err := tx.Makers().GetMaker(mf.MakerID)
		if err != nil {
			return err
		}
		if _, err := governance.ConsumeApproval(tx, a, now, q.ID, approval.Manifest, q.Subject); err != nil {
			return err
		}
		if err := tx.Makers().SetManifestState(id, maker.ManifestActive, q.ID, now); err != nil {
			return err
		}
		_, err = tx.Audit().Append(s.event(a, "maker.manifest.activate", m.OperatorID, "maker:"+m.ID,
			map[string]any{"maker": m.ID, "manifest": id, "sha256": hexSum(mf.SHA256), "entries": mf.Entries, "approval": q.ID, "approved_by": q.Decisions}))
		return err
	})
}

// ManifestDenied marks the CSV a denied request names as denied.
func (s *Service) ManifestDenied(ctx context.Context, q approval.Request) error {
	id := strings.TrimPrefix(q.Subject, "manifest:")
	return s.c.Store.Update(ctx, func(tx store.Tx) error {
		mf, err := tx.Makers().GetManifest(id)
		if err != nil {
			return err
		}
		m, err := tx.Makers().GetMaker(mf.MakerID)
		if err != nil {
			return err
		}
		if mf.State != maker.ManifestPending {
			return nil
		}
		if err := tx.Makers().SetManifestState(id, maker.ManifestDenied, q.ID, s.c.Now()); err != nil {
			return err
		}
		_, err = tx.Audit().Append(governance.Event(audit.Actor{PartyID: m.OperatorID, PrincipalID: "hallmark:approvals"}, s.c.Now(), "maker.manifest.deny", stage,
			"operator:"+m.OperatorID, "maker:"+m.ID, map[string]any{"manifest": id, "approval": q.ID, "state": q.State}))
		return err
	})
}

// ListManifests returns a maker's uploads, newest first.
func (s *Service) ListManifests(ctx context.Context, a audit.Actor, makerID string) ([]maker.Manifest, error) {
	var out []maker.Manifest
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		m, err := tx.Makers().GetMaker(makerID)
		if err != nil {
			return err
		}
		if ok, err := canSee(tx, a, m.OperatorID); err != nil {
			return err
		} else if !ok {
			return failure.New(failure.NotFound, "maker %s: not found", makerID)
		}
		out, err = tx.Makers().ListManifests(makerID)
		return err
	})
	return out, err
}
