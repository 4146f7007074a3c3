package auditlog

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/revocation"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Reconciliation: the audit log covers events, and the rows that OCSP and the API serve are
// derived from them. Reconcile recomputes every covered certificate's state from the events
// (logstate.go) and compares it with the rows, checks each device's operational certificate
// against it, and compares each maker's device's origin with the events that wrote it
// (originstate.go); ReconcileSince does the same for the certificates the events since
// the last checkpoint name (bounded work, run at start). Both put the certificates whose rows
// disagree into the Disputes set (disputes.go), which every replica's OCSP responder reads: it
// never answers good for them.

// Disagreement is one row that says something the log does not.
type Disagreement struct {
	Kind string `json:"kind"` // "certificate", "device" or "origin"
	ID   string `json:"id"`   // the certificate's serial (hex), or the device's ID (device, origin)
	Row  string `json:"row"`  // what the row says
	Log  string `json:"log"`  // what the log says
	Seq  int64  `json:"seq,omitempty"`
}

// Reconciliation is the result of one reconciliation.
type Reconciliation struct {
	At time.Time `json:"at"`
	// AfterSeq is 0 for a full reconciliation; otherwise only the events after it were read
	// (the last checkpoint's size) and only the certificates they name were compared.
	AfterSeq int64 `json:"after_seq"`
	// Events is how many events were read, up to sequence number LastSeq.
	Events  int   `json:"events"`
	LastSeq int64 `json:"last_seq"`
	// Certificates, Devices and Origins count the rows compared (devices and origins by a
	// full reconciliation only); Uncovered the certificate rows of profiles reconciliation
	// does not cover (CoveredProfile).
	Certificates  int            `json:"certificates"`
	Devices       int            `json:"devices"`
	Origins       int            `json:"origins"`
	Uncovered     int            `json:"uncovered"`
	Disagreements []Disagreement `json:"disagreements"`
	// Truncated says more than MaxDisagreements rows disagree; the first are listed, every
	// disputed certificate still enters the Disputes set.
	Truncated bool `json:"truncated,omitempty"`
}

// MaxDisagreements bounds the disagreements one reconciliation lists.
const MaxDisagreements = 1000

// Reconcile recomputes, for a (an auditor), every covered certificate's state from the whole
// log and compares it with every certificate and device row; the Disputes set becomes the
// certificates found to disagree.
func (s *Service) Reconcile(ctx context.Context, a audit.Actor) (Reconciliation, error) {
	if err := s.st.View(ctx, func(tx store.Tx) error {
		return requireAuditor(tx, a, "reconciling state with the audit log needs an audit cell")
	}); err != nil {
		return Reconciliation{}, err
	}
	return s.reconcile(ctx, a, true)
}

// ReconcileSince compares the certificates that the events after the latest checkpoint name
// with what those events say (all events when there is no checkpoint), and adds the ones that
// disagree to the Disputes set. The server runs it at start: its work is bounded by the
// events since the last checkpoint, not by the log.
func (s *Service) ReconcileSince(ctx context.Context) (Reconciliation, error) {
	return s.reconcile(ctx, ReconcileActor, false)
}

// ReconcileActor is who the start-up reconciliation's audit event names.
var ReconcileActor = audit.Actor{PartyID: party.Deployment, PrincipalID: "hallmark:reconcile"}

func (s *Service) reconcile(ctx context.Context, a audit.Actor, full bool) (Reconciliation, error) {
	r := Reconciliation{At: s.now(), Disagreements: []Disagreement{}}
	ls := NewLogState()
	bad := map[string]Disagreement{}
	var origins map[string]Disagreement // disputed origins, by device ID; nil unless full
	if full {
		origins = map[string]Disagreement{}
	}
	var checked []string
	err := s.st.View(ctx, func(tx store.Tx) error {
		// Store.View may run this function again (after a lost connection): start over.
		r, ls, checked = Reconciliation{At: r.At, Disagreements: []Disagreement{}}, NewLogState(), nil
		clear(bad)
		clear(origins)
		if !full {
			c, err := tx.AuditTree().LatestCheckpoint()
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			r.AfterSeq = int64(c.Size)
		}
		if err := readEvents(tx, ls, &r); err != nil {
			return err
		}
		if full {
			return compareAll(tx, ls, &r, bad, origins)
		}
		for serial := range ls.Certs {
			checked = append(checked, serial)
		}
		sort.Strings(checked)
		return compareNamed(tx, ls, checked, &r, bad)
	})
	if err != nil {
		return r, fmt.Errorf("auditlog: reconciling: %w", err)
	}
	if len(r.Disagreements) > 0 {
		// Reads are not one snapshot on every store: a change committed during the read may
		// show in its row but not in the events read. Read the events since, and keep what
		// still disagrees.
		if r, bad, origins, err = s.recheck(ctx, ls, r, bad, origins); err != nil {
			return r, fmt.Errorf("auditlog: reconciling: %w", err)
		}
	}
	if err := s.record(ctx, a, full, checked, bad, origins, r); err != nil {
		return r, fmt.Errorf("auditlog: recording the disputed certificates: %w", err)
	}
	return r, nil
}

// readEvents folds the events after r.AfterSeq into ls, then the holds of legacy runs.
func readEvents(tx store.Tx, ls *LogState, r *Reconciliation) error {
	after := r.AfterSeq
	for {
		evs, err := tx.Audit().List(after, MaxEvents)
		if err != nil {
			return fmt.Errorf("reading events after %d: %w", after, err)
		}
		for _, e := range evs {
			ls.Apply(e)
			after = e.Seq
		}
		r.Events += len(evs)
		if len(evs) < MaxEvents {
			break
		}
	}
	r.LastSeq = after
	for run, seq := range ls.Legacy {
		if err := legacyHolds(tx, ls, run, seq); err != nil {
			return err
		}
		delete(ls.Legacy, run)
	}
	return nil
}

// legacyHolds applies the holds of a revocation run whose factory.revoke events predate the
// "held" list, from the run's cascade items.
func legacyHolds(tx store.Tx, ls *LogState, run string, seq int64) error {
	after := ""
	for {
		items, err := tx.Revocations().ListItems(run, after, 1000)
		if err != nil {
			return fmt.Errorf("reading the cascade of run %s: %w", run, err)
		}
		for _, it := range items {
			if it.Action == "operational-suspended" {
				ls.ApplyHold(it.Serial, seq)
			}
			after = it.Serial
		}
		if len(items) < 1000 {
			return nil
		}
	}
}

// compareAll compares every certificate row, every device row and every origin row with ls;
// the certificates that disagree go into bad, the origins into origins.
func compareAll(tx store.Tx, ls *LogState, r *Reconciliation, bad, origins map[string]Disagreement) error {
	seen := make(map[string]struct{}, len(ls.Certs))
	err := eachPage("certificates", tx.StateRows().CertStates, func(row store.CertStateRow) string {
		seen[row.SerialHex] = struct{}{}
		if !CoveredProfile(row.Profile) {
			r.Uncovered++
			return row.SerialHex
		}
		r.Certificates++
		lc, ok := ls.Certs[row.SerialHex]
		compareCert(row, lc, ok, r, bad)
		return row.SerialHex
	})
	if err != nil {
		return err
	}
	for serial, lc := range ls.Certs {
		if _, ok := seen[serial]; !ok {
			d := Disagreement{Kind: "certificate", ID: serial, Row: "no row", Log: lc.String(), Seq: lc.Seq}
			r.add(d)
			bad[serial] = d
		}
	}
	devices := func(after string, limit int) ([]device.Device, error) {
		return tx.Devices().ListDevices(store.DeviceFilter{After: after, Limit: limit})
	}
	if err := eachPage("devices", devices, func(d device.Device) string {
		r.Devices++
		compareDevice(d, ls, r)
		return d.ID
	}); err != nil {
		return err
	}
	return compareOrigins(tx, ls, r, origins)
}

// pageSize is how many rows a reconciliation reads at a time.
const pageSize = 1000

// eachPage calls fn for every row read reads, a page at a time in key order; fn returns the
// row's key, which the next page starts after.
func eachPage[T any](what string, read func(after string, limit int) ([]T, error), fn func(T) string) error {
	after := ""
	for {
		rows, err := read(after, pageSize)
		if err != nil {
			return fmt.Errorf("reading %s after %q: %w", what, after, err)
		}
		for _, row := range rows {
			after = fn(row)
		}
		if len(rows) < pageSize {
			return nil
		}
	}
}

// compareOrigins compares every origin row of a maker's device with what the log says of it
// (originstate.go), and reports the origins the log recorded that have no row; those that
// disagree go into bad, by device ID.
func compareOrigins(tx store.Tx, ls *LogState, r *Reconciliation, bad map[string]Disagreement) error {
	seen := make(map[string]bool, len(ls.Origins))
	if err := eachPage("origins", tx.StateRows().OriginStates, func(row store.OriginStateRow) string {
		seen[row.DeviceID] = true
		r.Origins++
		lo, ok := ls.Origins[row.DeviceID]
		compareOrigin(row, lo, ok, r, bad)
		return row.DeviceID
	}); err != nil {
		return err
	}
	for _, id := range slices.Sorted(maps.Keys(ls.Origins)) {
		if !seen[id] {
			noOriginRow(id, ls.Origins[id], r, bad)
		}
	}
	return nil
}

// noOriginRow reports an origin the log recorded that has no row.
func noOriginRow(id string, lo LogOrigin, r *Reconciliation, bad map[string]Disagreement) {
	d := Disagreement{Kind: "origin", ID: id, Row: "no row", Log: lo.String(), Seq: lo.Seq}
	r.add(d)
	bad[id] = d
}

// compareOrigin compares one origin row with what the log says (logged false: nothing). A
// certificate the log names only by serial, or not at all (events written before the
// reconciliation of origins), is compared as far as it is named.
func compareOrigin(row store.OriginStateRow, lo LogOrigin, logged bool, r *Reconciliation, bad map[string]Disagreement) {
	sha := hex.EncodeToString(row.FactorySHA256[:])
	d := Disagreement{Kind: "origin", ID: row.DeviceID, Row: originText(row.MakerID, lower(row.FactorySerial), sha, row.State), Log: lo.String(), Seq: lo.Seq}
	switch {
	case !logged:
		d.Log = "no event recorded this origin"
	case row.MakerID == lo.Maker && (lo.Serial == "" || lo.Serial == lower(row.FactorySerial)) &&
		(lo.SHA256 == "" || lo.SHA256 == sha) && row.State == string(lo.State):
		return
	}
	r.add(d)
	bad[row.DeviceID] = d
}

// compareNamed compares the rows of the given certificates with ls.
func compareNamed(tx store.Tx, ls *LogState, serials []string, r *Reconciliation, bad map[string]Disagreement) error {
	for _, serial := range serials {
		lc := ls.Certs[serial]
		n, ok := ca.ParseSerialHex(serial)
		if !ok {
			r.add(Disagreement{Kind: "certificate", ID: serial, Row: "no row", Log: lc.String(), Seq: lc.Seq})
			continue
		}
		c, err := tx.Certificates().GetCert(n)
		if errors.Is(err, store.ErrNotFound) || err == nil && !CoveredProfile(c.Profile) {
			d := Disagreement{Kind: "certificate", ID: serial, Row: "no row", Log: lc.String(), Seq: lc.Seq}
			r.add(d)
			bad[serial] = d
			continue
		} else if err != nil {
			return fmt.Errorf("reading certificate %s: %w", serial, err)
		}
		r.Certificates++
		_, logged := ls.Certs[serial]
		compareCert(store.CertStateRow{SerialHex: c.SerialHex, Profile: c.Profile, State: c.State, Reason: c.Reason, DeviceID: c.DeviceID}, lc, logged, r, bad)
	}
	return nil
}

// compareCert compares one certificate row with what the log says (logged false: nothing).
func compareCert(row store.CertStateRow, lc LogCert, logged bool, r *Reconciliation, bad map[string]Disagreement) {
	rowText := stateText(row.State, reasonOf(row.Reason))
	d := Disagreement{Kind: "certificate", ID: row.SerialHex, Row: rowText, Log: lc.String(), Seq: lc.Seq}
	switch {
	case !logged && row.State == ca.Reserved:
		return // a reservation never signed: no event names it
	case !logged:
		d.Log = "no event issued it"
	case row.State == lc.State && (lc.State != ca.Revoked || reasonOf(row.Reason) == lc.Reason) &&
		(lc.DeviceID == "" || lc.DeviceID == row.DeviceID):
		return
	case lc.DeviceID != "" && lc.DeviceID != row.DeviceID:
		d.Row, d.Log = "device "+row.DeviceID, "device "+lc.DeviceID
	}
	r.add(d)
	bad[row.SerialHex] = d
}

// compareDevice checks that a device's operational certificate is one the log issued to it,
// in the state the device's own state implies: active → issued, suspended → held.
func compareDevice(d device.Device, ls *LogState, r *Reconciliation) {
	if d.OperationalCert == "" {
		return
	}
	lc, ok := ls.Certs[d.OperationalCert]
	switch {
	case !ok:
		r.add(Disagreement{Kind: "device", ID: d.ID, Row: "operational certificate " + d.OperationalCert, Log: "no event issued it"})
	case lc.DeviceID != "" && lc.DeviceID != d.ID:
		r.add(Disagreement{Kind: "device", ID: d.ID, Row: "operational certificate " + d.OperationalCert, Log: "issued to device " + lc.DeviceID, Seq: lc.Seq})
	case d.State == device.Active && lc.State != ca.Issued:
		r.add(Disagreement{Kind: "device", ID: d.ID, Row: "active", Log: "operational certificate " + d.OperationalCert + " " + lc.String(), Seq: lc.Seq})
	case d.State == device.Suspended && (lc.State != ca.Revoked || lc.Reason != int(revocation.CertificateHold)):
		r.add(Disagreement{Kind: "device", ID: d.ID, Row: "suspended", Log: "operational certificate " + d.OperationalCert + " " + lc.String(), Seq: lc.Seq})
	}
}

// recheck reads the events after r.LastSeq and compares again the certificates and origins
// that disagreed (origins nil: none were compared); device disagreements whose certificate
// changed since are dropped.
func (s *Service) recheck(ctx context.Context, ls *LogState, r Reconciliation, bad, origins map[string]Disagreement) (Reconciliation, map[string]Disagreement, map[string]Disagreement, error) {
	more := Reconciliation{AfterSeq: r.LastSeq}
	prev := make(map[string]int64, len(ls.Certs))
	for k, c := range ls.Certs {
		prev[k] = c.Seq
	}
	var out []Disagreement
	again := map[string]Disagreement{}
	var originsAgain map[string]Disagreement
	if origins != nil {
		originsAgain = map[string]Disagreement{}
	}
	err := s.st.View(ctx, func(tx store.Tx) error {
		clear(again)
		clear(originsAgain)
		if err := readEvents(tx, ls, &more); err != nil {
			return err
		}
		var serials []string
		for _, d := range r.Disagreements {
			if d.Kind == "certificate" {
				serials = append(serials, d.ID)
			}
		}
		chk := Reconciliation{}
		if err := compareNamed(tx, ls, serials, &chk, again); err != nil {
			return err
		}
		out = chk.Disagreements
		for _, d := range r.Disagreements {
			if d.Kind != "device" {
				continue
			}
			if dv, err := tx.Devices().GetDevice(d.ID); err == nil {
				c := Reconciliation{}
				compareDevice(dv, ls, &c)
				out = append(out, c.Disagreements...)
			}
		}
		// Every disputed origin, not only the listed ones: the set is recorded whole.
		c := Reconciliation{}
		for _, id := range slices.Sorted(maps.Keys(origins)) {
			row, err := tx.StateRows().OriginState(id)
			lo, logged := ls.Origins[id]
			switch {
			case err == nil:
				compareOrigin(row, lo, logged, &c, originsAgain)
			case !errors.Is(err, store.ErrNotFound):
				return fmt.Errorf("reading the origin of device %s: %w", id, err)
			case logged:
				noOriginRow(id, lo, &c, originsAgain)
			}
		}
		out = append(out, c.Disagreements...)
		return nil
	})
	if err != nil {
		return r, bad, origins, err
	}
	rechecked := map[string]bool{}
	for _, d := range r.Disagreements {
		rechecked[d.ID] = d.Kind == "certificate"
	}
	for k, d := range bad {
		if _, ok := again[k]; ok || rechecked[k] {
			continue
		}
		if c, named := ls.Certs[k]; !named || c.Seq == prev[k] {
			again[k] = d // beyond the listed ones, not re-read, and no event since: still disputed
		}
	}
	r.Events += more.Events
	r.LastSeq = more.LastSeq
	if len(out) > MaxDisagreements {
		out, r.Truncated = out[:MaxDisagreements], true
	}
	r.Disagreements = append([]Disagreement{}, out...)
	return r, again, originsAgain, nil
}

func (r *Reconciliation) add(d Disagreement) {
	if len(r.Disagreements) >= MaxDisagreements {
		r.Truncated = true
		return
	}
	r.Disagreements = append(r.Disagreements, d)
}

func reasonOf(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}
