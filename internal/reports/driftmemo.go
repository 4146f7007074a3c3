package reports

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/store"
)

// The drift report is the one report that reads device by device (every other report is a
// few aggregate statements), and the console's snapshot rounds ask every party for it in
// every round. Two memories make a round cost what changed rather than the fleet:
//
//   - Per scope, for callers that accept it (ReuseUnchanged: the snapshot rounds), the last
//     report with the change mark it was read under (driftMark: the audit
//     tree's size, the governance and build-records epochs, read first in the report's transaction). Every
//     change Hallmark makes is audited in its own transaction (the store refuses an unaudited
//     change, store.ErrUnaudited), and the tree's size moves with every committed event, so an
//     unchanged mark means unchanged inputs: the report is the last one, with a new
//     GeneratedAt. The governance epoch and the build-records epoch move also with SQL run by
//     hand on the signing keys, models and lots (migration 0027's triggers) and on the build
//     records (0029's): a record rewritten in the database is read and verified again in the
//     next report. A report older than driftRecheck is read again all the same, so a row of
//     another table changed by hand in SQL, outside any audited transaction, is seen within
//     driftRecheck.
//   - Per device, what the device added to a report (driftMemo), under a digest of everything
//     that went into it: the row the store returned (the device, its evidence, the certificate
//     before, the factory certificate's bytes and state, the newest build record's bytes), the
//     manufacturer's key history and, for a device whose policy is evaluated, its environment
//     and the current policy versions. A report read again (the mark moved) still reads every
//     row, but decodes, verifies and evaluates only the devices whose digest is new.
//
// A third, per snapshot round (driftround.go), makes the reports a round asks for after the
// mark moved one read of the fleet, not one per party.
//
// None of them changes a report's content: a digest names every input of a device's
// findings, and device() is a function of them alone (no clock: a policy is evaluated at the
// admission's time).

type reuseKey struct{}

// ReuseUnchanged returns a context under which the drift report (alone, or inside the
// standards mapping) may be the scope's last one when its change mark has not moved since it
// was read, less than driftRecheck ago: for background callers, the console's snapshot
// rounds. Without it (the API's /v1/reports/*, live and exact) the rows are always read, and
// only the per-device memory applies, which compares every byte read.
func ReuseUnchanged(ctx context.Context) context.Context {
	return context.WithValue(ctx, reuseKey{}, true)
}

func reusing(ctx context.Context) bool {
	v, _ := ctx.Value(reuseKey{}).(bool)
	return v
}

// driftRecheck bounds how long a report is reused without reading the rows again.
const driftRecheck = 15 * time.Minute

// maxDriftMemo bounds the per-device memory: 1,048,576 digests of 16 bytes with a byte of
// flags each in two generations (driftMemo), 38 MiB when full with 1% of the devices holding a
// finding (measured: about 38 bytes a device with the maps' overhead). A fleet of up to
// 524,288 devices is remembered whole; of a larger one, the devices read most recently.
const maxDriftMemo = 1 << 20

// maxDriftScopes bounds the reports remembered per scope (one per party asking).
const maxDriftScopes = 4096

// driftMark is what a report was read under; an equal mark means equal inputs.
type driftMark struct {
	auditSize    uint64
	governance   int64
	buildRecords int64
}

func readDriftMark(tx store.Tx) (driftMark, error) {
	h, err := tx.AuditTree().Head()
	if err != nil {
		return driftMark{}, err
	}
	g, err := tx.Epochs().Epoch(store.GovernanceEpoch)
	if err != nil {
		return driftMark{}, err
	}
	b, err := tx.Epochs().Epoch(store.BuildRecordsEpoch)
	if err != nil {
		return driftMark{}, err
	}
	return driftMark{auditSize: h.Size, governance: g, buildRecords: b}, nil
}

// lastDrift is a scope's last report and when and under what mark it was read.
type lastDrift struct {
	mark   driftMark
	readAt time.Time
	report DriftReport
}

// DriftWork counts what the drift reports of a Service did, for tests and benchmarks.
type DriftWork struct {
	Reused  int64 // reports answered from the last one (unchanged mark)
	Shared  int64 // reports answered from their snapshot round's shared read (driftround.go)
	Read    int64 // reports read from the store
	Rows    int64 // device rows read
	Decoded int64 // devices computed (build record decoded and verified, policy evaluated)
}

// driftCache holds the two memories and the counters.
type driftCache struct {
	mu     sync.Mutex
	scopes map[store.ReportScope]lastDrift
	memo   *driftMemo

	reused, shared, read, rows, decoded atomic.Int64
}

func newDriftCache() *driftCache {
	return &driftCache{scopes: map[store.ReportScope]lastDrift{}, memo: newDriftMemo(maxDriftMemo)}
}

// last returns the scope's last report when it was read under mark less than driftRecheck
// before now.
func (c *driftCache) last(sc store.ReportScope, mark driftMark, now time.Time) (DriftReport, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.scopes[sc]
	if !ok || l.mark != mark || now.Sub(l.readAt) >= driftRecheck || now.Before(l.readAt) {
		return DriftReport{}, false
	}
	return l.report.clone(), true
}

func (c *driftCache) keep(sc store.ReportScope, mark driftMark, now time.Time, r DriftReport) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.scopes[sc]; !ok && len(c.scopes) >= maxDriftScopes {
		clear(c.scopes)
	}
	c.scopes[sc] = lastDrift{mark: mark, readAt: now, report: r.clone()}
}

// clone copies the lists, so that a caller changing its report changes no remembered one.
func (r DriftReport) clone() DriftReport {
	r.Items = append([]Drift{}, r.Items...)
	r.Policy = append([]PolicyDrift{}, r.Policy...)
	return r
}

// Work returns the counts of the drift reports so far.
func (c *driftCache) work() DriftWork {
	return DriftWork{Reused: c.reused.Load(), Shared: c.shared.Load(), Read: c.read.Load(), Rows: c.rows.Load(), Decoded: c.decoded.Load()}
}

// driftMemo remembers what a device added to a report by the digest of its inputs. The
// common finding (checked and evaluated, nothing found) is a byte of flags; a device with
// findings keeps them in found. Two generations bound it: when the current one holds max/2
// digests it becomes the previous one (the one before is dropped), and a digest found in the
// previous one moves to the current: the digests of devices still read stay, those of
// devices changed since (their old inputs) age out.
type driftMemo struct {
	mu        sync.Mutex
	max       int
	cur, prev memoGen
}

type memoGen struct {
	flags map[[16]byte]uint8
	found map[[16]byte]deviceDrift
}

func newMemoGen() memoGen {
	return memoGen{flags: map[[16]byte]uint8{}, found: map[[16]byte]deviceDrift{}}
}

const (
	memoChecked = 1 << iota
	memoEvaluated
	memoFound
)

func newDriftMemo(max int) *driftMemo {
	return &driftMemo{max: max, cur: newMemoGen(), prev: newMemoGen()}
}

func (m *driftMemo) get(k [16]byte) (deviceDrift, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d, ok := m.cur.get(k); ok {
		return d, true
	}
	d, ok := m.prev.get(k)
	if ok {
		m.putLocked(k, d)
	}
	return d, ok
}

func (g memoGen) get(k [16]byte) (deviceDrift, bool) {
	f, ok := g.flags[k]
	if !ok {
		return deviceDrift{}, false
	}
	if f&memoFound != 0 {
		return g.found[k], true
	}
	return deviceDrift{checked: f&memoChecked != 0, evaluated: f&memoEvaluated != 0}, true
}

func (m *driftMemo) put(k [16]byte, d deviceDrift) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putLocked(k, d)
}

func (m *driftMemo) putLocked(k [16]byte, d deviceDrift) {
	if len(m.cur.flags) >= m.max/2 {
		m.prev, m.cur = m.cur, newMemoGen()
	}
	var f uint8
	if d.checked {
		f |= memoChecked
	}
	if d.evaluated {
		f |= memoEvaluated
	}
	if len(d.items) > 0 || d.policy != nil {
		f |= memoFound
		m.cur.found[k] = d
	}
	m.cur.flags[k] = f
}

// digest names every input of device(ad): the row, the manufacturer's key history and, when
// the device's policy is evaluated, its environment with its current policies.
func (st *driftState) digest(ad *store.Admission) ([16]byte, bool) {
	h := sha256.New()
	var n [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	row := *ad
	row.FactoryDER, row.BuildRecord, row.Facts = nil, nil, nil
	meta, err := json.Marshal(row) // every other field, present and future
	if err != nil {
		return [16]byte{}, false
	}
	field(meta)
	field(ad.Facts)
	field(ad.FactoryDER)
	field(ad.BuildRecord)
	k := st.keys[ad.Device.ManufacturerID]
	h.Write(k.fingerprint[:])
	if ad.Device.State == device.Active && ad.Device.OperationalCert == ad.Serial {
		if ep := st.envs[ad.Device.EnvironmentID]; ep != nil {
			h.Write([]byte{1})
			h.Write(ep.fingerprint[:])
		} else {
			h.Write([]byte{0})
		}
	}
	var out [16]byte
	copy(out[:], h.Sum(nil))
	return out, true
}

// envFingerprint names an environment and its current policy versions.
func envFingerprint(e environment.Environment, pvs []environment.PolicyVersion) [32]byte {
	h := sha256.New()
	b, _ := json.Marshal(e)
	h.Write(b)
	for _, pv := range pvs {
		b, _ := json.Marshal(struct {
			Kind    environment.PolicyKind
			Version int
			Spec    []byte
		}{pv.Kind, pv.Version, pv.Spec})
		h.Write([]byte{0})
		h.Write(b)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}
