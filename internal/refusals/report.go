package refusals

import (
	"context"
	"encoding/json"
	"sort"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Entry is one refusal event as the report shows it.
type Entry struct {
	Seq         int64
	At          time.Time
	PartyID     string
	PrincipalID string
	Scope       string
	Subject     string
	Detail
}

// ReasonCount is the number of refusals of one reason in a report.
type ReasonCount struct {
	Reason string
	Count  int64
}

// Report lists refusal events, newest first, and totals their counts by reason.
type Report struct {
	Since    time.Time
	Entries  []Entry
	ByReason []ReasonCount // by count, highest first
}

// Query selects a report.
type Query struct {
	DeviceID string    // only refusals about this device
	Since    time.Time // zero: the last seven days
	Limit    int       // 1-1000; 0 means 1000
}

// Reader reads refusal events for callers.
type Reader struct {
	st  store.Store
	now func() time.Time
}

// NewReader returns a Reader; now defaults to time.Now.
func NewReader(st store.Store, now func() time.Time) *Reader {
	if now == nil {
		now = time.Now
	}
	return &Reader{st: st, now: now}
}

// Report returns the refusals a sees: auditors see every refusal; any other party sees the
// refusals of its own principals and, with DeviceID, those about a device it may see (its
// device's history). A deployment administrator, which reads no party's devices (refusals
// name them), sees its own principals' refusals only (party "*"). A device it may not see is
// not found.
func (r *Reader) Report(ctx context.Context, a audit.Actor, q Query) (Report, error) {
	if q.Limit < 0 || q.Limit > 1000 {
		return Report{}, failure.New(failure.Invalid, "limit must be 1-1000")
	}
	if q.Since.IsZero() {
		q.Since = r.now().Add(-7 * 24 * time.Hour)
	}
	out := Report{Since: q.Since, Entries: []Entry{}, ByReason: []ReasonCount{}}
	err := r.st.View(ctx, func(tx store.Tx) error {
		// Store.View may run this function again (after a lost connection): start over.
		out.Entries, out.ByReason = []Entry{}, []ReasonCount{}
		f := store.RefusalFilter{Since: q.Since, Limit: q.Limit}
		auditor, err := governance.IsAuditor(tx, a)
		if err != nil {
			return err
		}
		if q.DeviceID != "" {
			d, err := tx.Devices().GetDevice(q.DeviceID)
			if err != nil {
				return err
			}
			if ok, err := governance.CanSeeDevice(tx, a, d); err != nil {
				return err
			} else if !ok {
				return failure.New(failure.NotFound, "device %s: not found", q.DeviceID)
			}
			f.Subject = "device:" + d.ID
		} else if !auditor {
			f.PartyID = a.PartyID
		}
		evs, err := tx.Refusals().ListRefusals(f)
		if err != nil {
			return err
		}
		totals := map[string]int64{}
		for _, e := range evs {
			en := Entry{Seq: e.Seq, At: e.At, PartyID: e.PartyID, PrincipalID: e.PrincipalID, Scope: e.Scope, Subject: e.Subject}
			if err := json.Unmarshal(e.Detail, &en.Detail); err != nil {
				return err
			}
			totals[en.Reason] += en.Count
			out.Entries = append(out.Entries, en)
		}
		for k, v := range totals {
			out.ByReason = append(out.ByReason, ReasonCount{k, v})
		}
		sort.Slice(out.ByReason, func(i, j int) bool {
			if out.ByReason[i].Count != out.ByReason[j].Count {
				return out.ByReason[i].Count > out.ByReason[j].Count
			}
			return out.ByReason[i].Reason < out.ByReason[j].Reason
		})
		return nil
	})
	return out, err
}
