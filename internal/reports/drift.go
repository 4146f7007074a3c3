package reports

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/policy"
	"github.com/hallmark-id/hallmark/internal/policyinput"
	"github.com/hallmark-id/hallmark/internal/revocation"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Drift is one difference between what a device reported at its newest issuance and its
// signed build record.
type Drift struct {
	DeviceID      string    `json:"device_id"`
	EnvironmentID string    `json:"environment_id,omitempty"`
	Field         string    `json:"field"` // firmware_digest, hardware_revision or build_record
	Recorded      string    `json:"recorded"`
	Reported      string    `json:"reported"`
	ReportedAt    time.Time `json:"reported_at"`
	Serial        string    `json:"serial"` // the operational certificate issued on these facts
}

// PolicyDrift is an active device that its environment's current policy would no longer
// admit: the decision that issued its current operational certificate, evaluated again with
// the same inputs (facts reported then, the device's situation then, the time of the
// decision) under the current version of the same policy kind.
type PolicyDrift struct {
	DeviceID        string                 `json:"device_id"`
	EnvironmentID   string                 `json:"environment_id"`
	Serial          string                 `json:"serial"` // the current operational certificate
	PolicyKind      environment.PolicyKind `json:"policy_kind"`
	AdmittedVersion int                    `json:"admitted_version"` // the version that admitted the device
	CurrentVersion  int                    `json:"current_version"`
	AdmittedAt      time.Time              `json:"admitted_at"`
	// Failed names every rule of the current version that denies; a rule named "_inputs"
	// means the inputs could not be built (such as a build record that no longer verifies).
	Failed []policy.Failure `json:"failed"`
	// ApprovalRequired: every rule holds but the current version requires an approval.
	ApprovalRequired bool `json:"approval_required,omitempty"`
}

// DriftReport lists drift from the build record (Items) and from the environments' current
// policies (Policy).
type DriftReport struct {
	GeneratedAt time.Time `json:"generated_at"`
	Checked     int       `json:"checked"` // devices with reported facts and a build record
	// PolicyChecked is true: active devices were evaluated under their environment's current
	// policy; PolicyEvaluated counts them.
	PolicyChecked   bool          `json:"policy_checked"`
	PolicyEvaluated int           `json:"policy_evaluated"`
	Items           []Drift       `json:"items"`
	Policy          []PolicyDrift `json:"policy"`
}

// Drift compares each device's newest reported facts with its verified build record, and
// evaluates the current policy of each active device's environment on what the device was
// admitted with.
func (s *Service) Drift(ctx context.Context, a audit.Actor) (DriftReport, error) {
	out := DriftReport{GeneratedAt: s.now(), Items: []Drift{}, Policy: []PolicyDrift{}, PolicyChecked: true}
	err := s.st.View(ctx, func(tx store.Tx) error {
		sc, err := opScopeOf(tx, a)
		if err != nil {
			return err
		}
		return s.driftIn(ctx, tx, sc, &out)
	})
	return out, err
}

// driftIn fills out (made with its GeneratedAt) with scope sc's drift: for a caller that
// accepts it (ReuseUnchanged), the scope's last report when nothing changed since it was read;
// else by reading the rows (driftmemo.go).
func (s *Service) driftIn(ctx context.Context, tx store.Tx, sc store.ReportScope, out *DriftReport) error {
	sc = normalScope(sc)
	round := roundOf(ctx)
	if rep, ok := round.report(sc); ok {
		s.drift.shared.Add(1)
		*out = rep
		return nil
	}
	// The mark first: rows read after it are at least as new.
	mark, err := readDriftMark(tx)
	if err != nil {
		return err
	}
	at := out.GeneratedAt
	if last, ok := s.drift.last(sc, mark, at); ok && reusing(ctx) {
		s.drift.reused.Add(1)
		last.GeneratedAt = at
		*out = last
		return nil
	}
	if round != nil {
		shared, err := s.share(tx, round, sc, mark, at)
		if err != nil {
			return err
		}
		if shared {
			rep, _ := round.report(sc)
			*out = rep
			return nil
		}
	}
	s.drift.read.Add(1)
	if err := s.newDriftState(tx).pass(sc, func(_ *store.Admission, f *deviceDrift) { out.add(f) }); err != nil {
		return err
	}
	s.drift.keep(sc, mark, at, *out)
	return nil
}

// DriftWork returns what the Service's drift reports did so far (driftmemo.go).
func (s *Service) DriftWork() DriftWork { return s.drift.work() }

// driftState is what a drift run caches: manufacturers' build-record keys, environments and
// their current compiled policies.
type driftState struct {
	tx       store.Tx
	keys     map[string]keyOrErr
	envs     map[string]*envPolicies
	verified *verifiedSet // the Service's, shared by every report
	cache    *driftCache  // the Service's per-device memory and counters; nil: none
}

type keyOrErr struct {
	keys        []crypto.PublicKey // the manufacturer's key history, current first
	fingerprint [32]byte           // buildrecord.HistoryDigest of the keys, for verifiedSet keys
	err         error
}

type envPolicies struct {
	env         environment.Environment
	programs    map[environment.PolicyKind]*policy.Program
	fingerprint [32]byte // the environment and its current policies (envFingerprint)
}

// newDriftState is a drift run in tx with the Service's memories.
func (s *Service) newDriftState(tx store.Tx) *driftState {
	return &driftState{tx: tx, keys: map[string]keyOrErr{}, envs: map[string]*envPolicies{}, verified: s.verified, cache: s.drift}
}

// add adds one device's findings to the report.
func (r *DriftReport) add(f *deviceDrift) {
	if f.checked {
		r.Checked++
	}
	r.Items = append(r.Items, f.items...)
	if f.evaluated {
		r.PolicyEvaluated++
	}
	if f.policy != nil {
		r.Policy = append(r.Policy, *f.policy)
	}
}

// pass pages through the devices with evidence of scope sc, in one statement per page, and
// gives each device's findings to fold, in device order. Each page's manufacturer keys and
// environments are read first, in the transaction; then its devices are checked in parallel
// (a build-record signature check and a policy evaluation each, most of a report's time: 72%
// of it was the signature checks alone), and folded in page order, so a report is the same
// as a serial run's.
func (st *driftState) pass(sc store.ReportScope, fold func(*store.Admission, *deviceDrift)) error {
	after := ""
	found := make([]deviceDrift, driftPage)
	for {
		page, err := st.tx.Reports().Admissions(sc, after, driftPage)
		if err != nil {
			return err
		}
		if err := st.load(page); err != nil {
			return err
		}
		found = found[:len(page)]
		inParallel(len(page), func(i int) { found[i] = st.remembered(&page[i]) })
		for i := range found {
			fold(&page[i], &found[i])
			found[i] = deviceDrift{}
		}
		if len(page) < driftPage {
			return nil
		}
		after = page[len(page)-1].Device.ID
	}
}

// driftPage is how many devices one statement of the drift report reads.
const driftPage = 1000

// deviceDrift is what one device adds to a drift report.
type deviceDrift struct {
	checked, evaluated bool
	items              []Drift
	policy             *PolicyDrift
}

// inParallel runs f(0) … f(n-1) on as many goroutines as there are CPUs to run them.
func inParallel(n int, f func(int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// load reads, in the transaction, the build-record keys and environments a page of devices
// needs, so that device() only reads the caches and may run in parallel.
func (st *driftState) load(page []store.Admission) error {
	for i := range page {
		ad := &page[i]
		if ad.BuildRecord != nil {
			if err := st.loadKey(ad.Device.ManufacturerID); err != nil {
				return err
			}
		}
		if ad.Device.State == device.Active && ad.Device.OperationalCert == ad.Serial {
			if _, err := st.env(ad.Device.EnvironmentID); err != nil {
				return err
			}
		}
	}
	return nil
}

// remembered is device(ad) from the per-device memory when its inputs' digest is known, else
// computed and remembered.
func (st *driftState) remembered(ad *store.Admission) deviceDrift {
	if st.cache == nil {
		return st.device(ad)
	}
	st.cache.rows.Add(1)
	k, ok := st.digest(ad)
	if ok {
		if d, ok := st.cache.memo.get(k); ok {
			return d
		}
	}
	st.cache.decoded.Add(1)
	d := st.device(ad)
	if ok {
		st.cache.memo.put(k, d)
	}
	return d
}

// device checks one device against the caches load filled; it reads no store and changes no
// shared state.
func (st *driftState) device(ad *store.Admission) deviceDrift {
	var out deviceDrift
	var rec *buildrecord.Record
	var recErr error
	if ad.BuildRecord != nil {
		rec, recErr = st.verify(ad)
	}
	if facts, ok := factsOf(ad.Facts); ok && ad.BuildRecord != nil {
		out.checked = true
		base := Drift{DeviceID: ad.Device.ID, EnvironmentID: ad.Device.EnvironmentID, ReportedAt: ad.AdmittedAt, Serial: ad.Serial}
		switch {
		case recErr != nil:
			d := base
			d.Field, d.Reported = "build_record", recErr.Error()
			out.items = append(out.items, d)
		default:
			if facts.FirmwareDigest != "" && facts.FirmwareDigest != rec.FirmwareDigest.SHA256 {
				d := base
				d.Field, d.Recorded, d.Reported = "firmware_digest", rec.FirmwareDigest.SHA256, facts.FirmwareDigest
				out.items = append(out.items, d)
			}
			if facts.HardwareRevision != "" && facts.HardwareRevision != rec.HardwareRevision {
				d := base
				d.Field, d.Recorded, d.Reported = "hardware_revision", rec.HardwareRevision, facts.HardwareRevision
				out.items = append(out.items, d)
			}
		}
	}
	if ad.Device.State != device.Active || ad.Device.OperationalCert != ad.Serial {
		return out
	}
	ep := st.envs[ad.Device.EnvironmentID] // loaded; nil when the environment does not exist
	if ep == nil {
		return out
	}
	kind := environment.PolicyKind(ad.PolicyKind)
	prog, ok := ep.programs[kind]
	if !ok {
		return out
	}
	out.evaluated = true
	pd := PolicyDrift{DeviceID: ad.Device.ID, EnvironmentID: ad.Device.EnvironmentID, Serial: ad.Serial, PolicyKind: kind,
		AdmittedVersion: ad.PolicyVersion, CurrentVersion: prog.Version(), AdmittedAt: ad.AdmittedAt}
	in, err := admissionInput(ad, ep.env, rec, recErr)
	if err != nil {
		pd.Failed = []policy.Failure{{Rule: "_inputs", Message: "building the policy inputs", Error: err.Error()}}
		out.policy = &pd
		return out
	}
	dec := prog.Evaluate(in)
	if dec.Allowed {
		return out
	}
	pd.Failed, pd.ApprovalRequired = dec.Failed, dec.ApprovalRequired
	if pd.Failed == nil {
		pd.Failed = []policy.Failure{}
	}
	out.policy = &pd
	return out
}

// admissionInput rebuilds the input of the decision that issued the device's current
// operational certificate, as onboarding or renewal built it then: the facts reported, the
// time of the decision, the device's state before it and the operational certificate it
// presented (renewal) or held (onboarding).
func admissionInput(ad *store.Admission, env environment.Environment, rec *buildrecord.Record, recErr error) (policy.Input, error) {
	if ad.BuildRecord == nil {
		return policy.Input{}, failure.New(failure.NotFound, "the device has no build record")
	}
	if recErr != nil {
		return policy.Input{}, recErr
	}
	factory, err := x509.ParseCertificate(ad.FactoryDER)
	if err != nil {
		return policy.Input{}, fmt.Errorf("the factory certificate does not parse: %w", err)
	}
	var facts environment.Facts
	if len(ad.Facts) > 0 {
		if err := json.Unmarshal(ad.Facts, &facts); err != nil {
			return policy.Input{}, fmt.Errorf("the stored facts do not parse: %w", err)
		}
	}
	d := ad.Device
	var op *policy.Operational
	prev := ad.Previous
	switch {
	case ad.Kind == "renew":
		d.State = device.Active
		if prev != nil {
			op = &policy.Operational{Serial: prev.Serial, NotAfter: prev.NotAfter, Renewals: ad.Renewals}
		}
	case prev == nil:
		d.State = device.Registered // first onboarding
	case prev.RevokedAt != nil && prev.RevokedAt.Before(ad.AdmittedAt) && (prev.Reason == nil || *prev.Reason != int(revocation.Superseded)):
		d.State = device.Registered // quarantined earlier, then re-admitted: the device held no identity
	default:
		d.State = device.Active // onboarding again over a lapsed (or still valid) identity
		op = &policy.Operational{Serial: prev.Serial, NotAfter: prev.NotAfter}
	}
	if op != nil && prev.IssuedAt != nil {
		op.IssuedAt = *prev.IssuedAt
	}
	factRec := ca.Cert{SerialHex: d.FactoryCert, State: ad.FactoryState}
	return policyinput.Build(ad.AdmittedAt, d, ad.ModelName, ad.LotName, factory, factRec, rec, env, facts, op), nil
}

// env returns an environment with its current compiled policies; nil when it does not exist.
func (st *driftState) env(id string) (*envPolicies, error) {
	if ep, ok := st.envs[id]; ok {
		return ep, nil
	}
	e, err := st.tx.Environments().GetEnvironment(id)
	if failure.Is(err, failure.NotFound) {
		st.envs[id] = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ep := &envPolicies{env: e, programs: map[environment.PolicyKind]*policy.Program{}}
	var pvs []environment.PolicyVersion
	for _, kind := range []environment.PolicyKind{environment.Onboarding, environment.Renewal} {
		pv, err := st.tx.Environments().LatestPolicy(id, kind)
		if failure.Is(err, failure.NotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		spec, err := policy.ParseSpec(pv.Spec)
		if err != nil {
			return nil, fmt.Errorf("stored %s policy v%d of %s: %w", kind, pv.Version, id, err)
		}
		prog, err := policy.Compile(spec, pv.Version)
		if err != nil {
			return nil, fmt.Errorf("stored %s policy v%d of %s: %w", kind, pv.Version, id, err)
		}
		ep.programs[kind] = prog
		pvs = append(pvs, pv)
	}
	ep.fingerprint = envFingerprint(e, pvs)
	st.envs[id] = ep
	return ep, nil
}

// loadKey reads a manufacturer's build-record key into the cache, once; a key that is missing
// or does not parse is cached as the error every device of that manufacturer reports.
func (st *driftState) loadKey(mfr string) error {
	if _, ok := st.keys[mfr]; ok {
		return nil
	}
	var k keyOrErr
	history, err := st.tx.KeyHistory().SigningKeys(mfr, "build-record")
	if err != nil {
		return err
	}
	if len(history) == 0 {
		k.err = failure.New(failure.NotFound, "build-record key of %s: not found", mfr)
	}
	for _, sk := range history { // the key history: old records verify with the key that signed them
		pub, err := x509.ParsePKIXPublicKey(sk.PublicKeyDER)
		if err != nil {
			k.err = err
			break
		}
		k.keys = append(k.keys, pub)
	}
	ders := make([][]byte, len(history))
	for i, sk := range history {
		ders[i] = sk.PublicKeyDER
	}
	k.fingerprint = buildrecord.HistoryDigest(ders)
	if k.err != nil {
		k.err = failure.Wrap(failure.Invalid, k.err, "the manufacturer's build-record key")
	}
	st.keys[mfr] = k
	return nil
}

// verify checks the device's newest build record with its manufacturer's build-record key
// (loaded by loadKey).
func (st *driftState) verify(ad *store.Admission) (*buildrecord.Record, error) {
	k := st.keys[ad.Device.ManufacturerID]
	if k.err != nil {
		return nil, k.err
	}
	env, err := buildrecord.ParseEnvelope(ad.BuildRecord)
	if err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "the build record does not parse")
	}
	key := buildrecord.CacheKey(ad.BuildRecord, k.fingerprint)
	if st.verified != nil && st.verified.has(key) {
		v, err := buildrecord.Reverify(env)
		if err != nil {
			return nil, failure.Wrap(failure.Invalid, err, "the build record does not verify")
		}
		return v.Record, nil
	}
	v, err := buildrecord.VerifyKeys(env, k.keys)
	if err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "the build record does not verify")
	}
	if st.verified != nil {
		st.verified.add(key)
	}
	return v.Record, nil
}
