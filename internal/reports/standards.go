package reports

import (
	"context"
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/grant"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Coverage says how far a Hallmark control addresses a risk or outcome.
type Coverage string

// Coverage levels.
const (
	Addressed    Coverage = "addressed"
	Partial      Coverage = "partial"
	NotAddressed Coverage = "not-addressed"
)

// Mapping is one row of the standards table: a risk or outcome, the Hallmark control that
// addresses it, and the name of the live check that measures it here.
type Mapping struct {
	Framework string   `json:"framework"` // "OWASP NHI Top 10 2025" or "NIST CSF 2.0"
	ID        string   `json:"id"`
	Title     string   `json:"title"`
	Coverage  Coverage `json:"coverage"`
	Control   string   `json:"control"`
	check     string
}

// Standards maps every OWASP Non-Human Identity Top 10 (2025) risk and the NIST CSF 2.0
// subcategories Hallmark bears on to the Hallmark control addressing it. Coverage is honest:
// Hallmark issues and governs device identities; it does not scan for leaked keys, configure
// clouds or watch how a credential is used after issuance, so those rows say partial or
// not-addressed. Each row names a check (checks below) computed from this deployment's data.
var Standards = []Mapping{
	{"OWASP NHI Top 10 2025", "NHI1", "Improper Offboarding", Addressed,
		"Runtime revocation, release and manufacturing-revocation cascade revoke the operational certificate with the device state change (OCSP/CRL publish it). Principal tokens are revoked at once and principals disabled or deleted by their party's administrators; the check also counts valid tokens unused for 30 days and principals whose tokens lapsed without being rotated or offboarded.", "offboarding"},
	{"OWASP NHI Top 10 2025", "NHI2", "Secret Leakage", Partial,
		"Device keys are generated on the device and never sent: issuance takes a CSR and a signed challenge. Hallmark does not scan for leaked keys; keyCompromise revocations are counted.", "key-compromise"},
	{"OWASP NHI Top 10 2025", "NHI3", "Vulnerable Third-Party NHI", Partial,
		"Signed build records list components and firmware digests; onboarding/renewal policies may compare reported facts with them. No vulnerability feed is consulted.", "drift"},
	{"OWASP NHI Top 10 2025", "NHI4", "Insecure Authentication", Addressed,
		"Onboarding needs proof of possession of the factory key (origin proof) and renewal of the current key; operational certificates are X.509 for mTLS.", "issuance-proofs"},
	{"OWASP NHI Top 10 2025", "NHI5", "Overprivileged NHI", Partial,
		"Each environment names the services its identities are for; parties act only on their ownership-matrix cells. Relying parties enforce the services.", "environment-services"},
	{"OWASP NHI Top 10 2025", "NHI6", "Insecure Cloud Deployment Configurations", NotAddressed,
		"No Hallmark control: cloud and CI/CD configuration is outside its scope.", ""},
	{"OWASP NHI Top 10 2025", "NHI7", "Long-Lived Secrets", Addressed,
		"Environment lifetime and max_age bound operational certificates; every principal token expires (at most principals.token_lifetime, 90 days by default) and rotates with a bounded overlap. The check counts identities not renewed within max_age and valid tokens whose lifetime exceeds the maximum (tokens from before tokens expired). CA keys are long-lived by design and are not counted here.", "long-lived"},
	{"OWASP NHI Top 10 2025", "NHI8", "Environment Isolation", Addressed,
		"Each environment has its own issuing CA, trust domain and SPIFFE path; a device holds one environment at a time.", "isolation"},
	{"OWASP NHI Top 10 2025", "NHI9", "NHI Reuse", Addressed,
		"One device, one current operational certificate: renewal supersedes and revokes the previous one; the identity names the device ID.", "reuse"},
	{"OWASP NHI Top 10 2025", "NHI10", "Human Use of NHI", Partial,
		"Vendor engineers never use a device's credential: support grants give each one a certificate of their own, approved by the operator, scoped to named devices or a lot and valid only for the approved window; humans use their own principals for the API. Hallmark cannot see who uses a device key after issuance.", "support"},
	{"NIST CSF 2.0", "ID.AM-01", "Inventories of hardware are maintained", Addressed,
		"Every device is registered with its factory identity, lot, custodian and environment (inventory report).", "inventory"},
	{"NIST CSF 2.0", "ID.AM-08", "Assets are managed throughout their life cycles", Addressed,
		"The device lifecycle state machine (registered, active, quarantined, suspended, released, factory-revoked).", "lifecycle"},
	{"NIST CSF 2.0", "PR.AA-01", "Identities and credentials are managed", Addressed,
		"Factory and operational certificates issued, renewed and revoked by Hallmark; Hallmark's own credentials too: principal tokens issued with an expiry, rotated, revoked and listed with their last use, and CA certificates watched for their end.", "credentials"},
	{"NIST CSF 2.0", "PR.AA-02", "Identities are proofed and bound to credentials", Addressed,
		"Origin proof with the factory certificate and key, bound to a signed build record.", "issuance-proofs"},
	{"NIST CSF 2.0", "PR.AA-03", "Users, services and hardware are authenticated", Addressed,
		"X.509 operational certificates for mTLS, with OCSP and CRLs.", "issuance-proofs"},
	{"NIST CSF 2.0", "PR.AA-05", "Access permissions are defined, managed and enforced (least privilege)", Partial,
		"Ownership matrix per stage and duty, principals limited to some of their party's duties, separation-of-duties rules checked on every action; environment services scope identities.", "environment-services"},
	{"NIST CSF 2.0", "DE.CM-09", "Computing hardware, software and their data are monitored", Partial,
		"Reported facts compared with build records at each issuance (drift report); no runtime monitoring.", "drift"},
	{"NIST CSF 2.0", "GV.RR-02", "Roles, responsibilities and authorities are established", Addressed,
		"The ownership matrix names who may act and who audits each stage; the governance gaps report lists every duty nobody owns.", "roles"},
	{"NIST CSF 2.0", "RS.MI-01", "Incidents are contained", Addressed,
		"Runtime revocation (quarantine) and lot-level manufacturing revocation with cascade.", "containment"},
}

// Evidence is what this deployment shows for one mapping row.
type Evidence struct {
	Count     int       `json:"count"`            // offenders (or, for inventory-style checks, items)
	Total     int       `json:"total"`            // population checked
	Oldest    string    `json:"oldest,omitempty"` // the oldest offender, if any
	Note      string    `json:"note"`             // what Count means
	CheckedAt time.Time `json:"checked_at"`       // when this was computed (now: reports are live)
	Status    string    `json:"status"`           // ok, attention, no data (Total 0) or n/a
	// Offenders names at most MaxEvidenceOffenders of the offenders Count counts (devices are
	// not named to a deployment administrator, who reads no party's devices).
	Offenders []string `json:"offenders,omitempty"`
}

// MaxEvidenceOffenders bounds the offenders one standards row names.
const MaxEvidenceOffenders = 20

func (e *Evidence) name(offenders ...string) {
	for _, o := range offenders {
		if len(e.Offenders) < MaxEvidenceOffenders {
			e.Offenders = append(e.Offenders, o)
		}
	}
}

// NoData is the status of a check whose population is empty: nothing was checked, so it is
// neither ok nor in need of attention.
const NoData = "no data"

// StandardsRow is a mapping row with its live evidence.
type StandardsRow struct {
	Mapping
	Evidence Evidence `json:"evidence"`
}

// StandardsReport is the standards mapping with live evidence.
type StandardsReport struct {
	GeneratedAt time.Time      `json:"generated_at"`
	Rows        []StandardsRow `json:"rows"`
}

// StandardsFor computes the standards report; only auditors and deployment administrators
// may read it. A deployment administrator gets the same counts, but the devices among the
// offenders are not named to it.
func (s *Service) StandardsFor(ctx context.Context, a audit.Actor) (StandardsReport, error) {
	now := s.now()
	out := StandardsReport{GeneratedAt: now, Rows: []StandardsRow{}}
	err := s.st.View(ctx, func(tx store.Tx) error {
		// Store.View may run this function again (after a lost connection): start over.
		out.Rows = []StandardsRow{}
		auditor, err := governance.IsAuditor(tx, a)
		if err != nil {
			return err
		}
		if !auditor && !governance.IsDeploymentAdmin(a) {
			return failure.New(failure.Denied, "the standards report is for auditors and deployment administrators")
		}
		checks, err := s.checks(ctx, tx, store.ReportScope{All: true, PartyID: a.PartyID}, now, auditor)
		if err != nil {
			return err
		}
		for _, m := range Standards {
			ev := Evidence{CheckedAt: now, Status: "n/a", Note: "no Hallmark control"}
			if m.check != "" {
				ev = checks[m.check]
				ev.CheckedAt = now
				if ev.Total == 0 { // nothing was checked: neither ok nor attention
					ev.Status = NoData
				}
			}
			out.Rows = append(out.Rows, StandardsRow{Mapping: m, Evidence: ev})
		}
		return nil
	})
	return out, err
}

func status(offenders int) string {
	if offenders > 0 {
		return "attention"
	}
	return "ok"
}

// checks computes every live check with aggregate queries; devices says whether device IDs
// may be named.
func (s *Service) checks(ctx context.Context, tx store.Tx, sc store.ReportScope, now time.Time, devices bool) (map[string]Evidence, error) {
	c := map[string]Evidence{}
	var rot Rotation
	if err := rot.compute(tx, sc, now); err != nil {
		return nil, err
	}
	cred, err := credentials(tx, "", "", s.tokenLifetime, now)
	if err != nil {
		return nil, err
	}
	var overdue []string
	if devices {
		for _, o := range rot.Overdue {
			overdue = append(overdue, "device "+o.DeviceID+" ("+time.Duration(o.Age).String()+" old)")
		}
	}
	long := cred.count(IssueLongLived)
	longEv := Evidence{Count: rot.OverdueCount + long, Total: rot.Active + cred.Tokens,
		Note: "active operational identities older than their environment's max_age, and valid principal tokens whose lifetime exceeds the deployment maximum", Status: status(rot.OverdueCount + long)}
	if len(rot.Overdue) > 0 && devices {
		longEv.Oldest = rot.Overdue[0].DeviceID + " (" + time.Duration(rot.Overdue[0].Age).String() + ")"
	}
	longEv.name(cred.names(IssueLongLived)...)
	longEv.name(overdue...)
	c["long-lived"] = longEv

	credCount := rot.OverdueCount + cred.OffenderCount + cred.CAIssues
	credEv := Evidence{Count: credCount, Total: rot.Active + cred.Tokens + len(cred.CAs),
		Note: "operational identities not renewed within max_age, principal tokens long-lived, idle or lapsed, and CA certificates that still issue but end within 90 days or have ended", Status: status(credCount)}
	credEv.name(cred.names(IssueLongLived, IssueIdle, IssueLapsed)...)
	for _, ca := range cred.CAs {
		if ca.Issue != "" {
			credEv.name(fmt.Sprintf("CA %s (%s, %s): %s, not after %s", ca.CAID, ca.PartyID, ca.Name, ca.Issue, ca.NotAfter.Format(time.DateOnly)))
		}
	}
	credEv.name(overdue...)
	c["credentials"] = credEv

	sum, err := tx.Reports().Summary(sc, now)
	if err != nil {
		return nil, err
	}
	idle, lapsed := cred.count(IssueIdle), cred.count(IssueLapsed)
	offCount := sum.OffboardedValid + sum.HandedOffValid + idle + lapsed
	offEv := Evidence{Count: offCount, Total: sum.Offboarded + sum.HandedOff + cred.Tokens,
		Note: "released, quarantined or factory-revoked devices and devices handed off to another deployment (custody voucher) still holding a valid operational certificate, valid principal tokens unused for 30 days, and principals whose tokens lapsed unrotated", Status: status(offCount)}
	if devices {
		offEv.Oldest = sum.OldestOffboardedValid
		if sum.OldestOffboardedValid != "" {
			offEv.name("device " + sum.OldestOffboardedValid + " (the oldest of its kind)")
		}
		if sum.OldestHandedOffValid != "" {
			if offEv.Oldest == "" {
				offEv.Oldest = sum.OldestHandedOffValid
			}
			offEv.name("device " + sum.OldestHandedOffValid + " (handed off: the oldest of its kind)")
		}
	}
	offEv.name(cred.names(IssueIdle, IssueLapsed)...)
	c["offboarding"] = offEv
	c["key-compromise"] = Evidence{Count: sum.KeyCompromise, Total: sum.Devices, Note: "certificates revoked for keyCompromise", Status: "ok"}
	c["issuance-proofs"] = Evidence{Count: sum.Issuances, Total: sum.Issuances, Note: "operational issuances, each recorded with its proof of possession and policy version", Status: "ok"}
	c["reuse"] = Evidence{Count: sum.Reused, Total: sum.Devices, Note: "devices with more than one valid operational certificate", Status: status(sum.Reused)}
	c["containment"] = Evidence{Count: sum.ByState[device.Quarantined] + sum.ByState[device.Suspended], Total: sum.Devices, Note: "devices quarantined or suspended (contained)", Status: "ok"}
	c["inventory"] = Evidence{Count: sum.Devices, Total: sum.Devices, Note: "devices in the inventory", Status: "ok"}
	c["lifecycle"] = Evidence{Count: sum.ByState[device.Active], Total: sum.Devices, Note: "active devices of all registered devices", Status: "ok"}

	dr := DriftReport{GeneratedAt: s.now(), Items: []Drift{}, Policy: []PolicyDrift{}, PolicyChecked: true}
	if err := s.driftIn(ctx, tx, sc, &dr); err != nil {
		return nil, err
	}
	n := len(dr.Items) + len(dr.Policy)
	dEv := Evidence{Count: n, Total: dr.Checked, Note: "differences between reported facts and build records, and active devices their environment's current policy would not admit", Status: status(n)}
	if len(dr.Items) > 0 && devices {
		dEv.Oldest = dr.Items[0].DeviceID
	} else if len(dr.Policy) > 0 && devices {
		dEv.Oldest = dr.Policy[0].DeviceID
	}
	c["drift"] = dEv

	envs, err := environments(tx, sc)
	if err != nil {
		return nil, err
	}
	noServices, cas := 0, map[string]int{}
	for _, e := range envs {
		if len(e.Services) == 0 {
			noServices++
		}
		cas[e.IssuingCAID]++
	}
	c["environment-services"] = Evidence{Count: noServices, Total: len(envs), Note: "environments naming no services", Status: status(noServices)}
	shared := 0
	for _, n := range cas {
		if n > 1 {
			shared += n
		}
	}
	c["isolation"] = Evidence{Count: shared, Total: len(envs), Note: "environments sharing an issuing CA with another environment", Status: status(shared)}
	cells, err := tx.Ownership().ListCells()
	if err != nil {
		return nil, err
	}
	w, err := loadWorld(tx)
	if err != nil {
		return nil, err
	}
	all := func(string) bool { return true }
	var gaps GapsReport
	gaps.unowned(w, all)
	c["roles"] = Evidence{Count: len(gaps.Unowned), Total: len(cells), Note: "duties over a scope that no party owns (governance gaps; total: cells assigned)", Status: status(len(gaps.Unowned))}
	if err := gaps.grants(tx, w, all, now); err != nil {
		return nil, err
	}
	active, err := tx.SupportGrants().ListGrants(store.GrantFilter{State: grant.Active, Limit: 1000})
	if err != nil {
		return nil, err
	}
	c["support"] = Evidence{Count: len(gaps.Grants), Total: len(active), Note: "active support grants whose window is longer than their environment now allows", Status: status(len(gaps.Grants))}
	return c, nil
}
