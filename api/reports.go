package api

import "time"

// The security reports under /v1/reports. Every report is computed live over what the caller
// may see (auditors: everything; deployment administrators: no device, but Hallmark's own
// credentials).

// CertSummary is one certificate of a device as reports show it.
type CertSummary struct {
	Serial   string    `json:"serial"`
	State    string    `json:"state"` // as Certificate.State
	NotAfter time.Time `json:"not_after"`
}

// InventoryRow is one device with both identity stages.
type InventoryRow struct {
	DeviceID       string       `json:"device_id"`
	Serial         string       `json:"serial"`
	ManufacturerID string       `json:"manufacturer_id"`
	State          string       `json:"state"` // as Device.State
	CustodianID    string       `json:"custodian_id"`
	EnvironmentID  string       `json:"environment_id,omitempty"`
	Factory        *CertSummary `json:"factory,omitempty"`
	Operational    *CertSummary `json:"operational,omitempty"`
}

// InventoryPage is one page of the inventory report (GET /v1/reports/inventory). NextAfter is
// set when there may be more.
type InventoryPage struct {
	Items     []InventoryRow `json:"items"`
	NextAfter string         `json:"next_after,omitempty"`
}

// Rotation is the rotation compliance report (GET /v1/reports/rotation).
type Rotation struct {
	GeneratedAt  time.Time     `json:"generated_at"`
	Active       int           `json:"active"`
	Compliant    int           `json:"compliant"`
	Share        float64       `json:"share"`
	Environments []RotationEnv `json:"environments"`
	// Overdue lists at most 1000 overdue identities, those never issued or issued longest ago
	// first; OverdueCount counts them all (Active − Compliant).
	Overdue      []Overdue `json:"overdue"`
	OverdueCount int       `json:"overdue_count"`
	// Trend is compliance at past instants, oldest first, when asked for (since and every).
	Trend []TrendPoint `json:"trend,omitempty"`
	// Credentials are Hallmark's own: principal tokens and CA certificates, the caller's
	// party's (all for auditors and deployment administrators).
	Credentials Credentials `json:"credentials"`
}

// Credentials is the part of the rotation report on Hallmark's own credentials.
type Credentials struct {
	MaxLifetime Duration `json:"max_lifetime"` // the deployment's longest token lifetime
	IdleAfter   Duration `json:"idle_after"`   // a valid token unused this long is idle
	Tokens      int      `json:"tokens"`       // tokens valid now
	Compliant   int      `json:"compliant"`    // of them, neither long-lived nor idle
	// Offenders lists at most 1000 token issues (one entry per token and issue), long-lived
	// first, then idle, then lapsed; OffenderCount counts them all.
	Offenders     []TokenOffender `json:"offenders"`
	OffenderCount int             `json:"offender_count"`
	CAs           []CACredential  `json:"cas"`
	CAIssues      int             `json:"ca_issues"` // CAs that still issue and have ended or end within 90 days
}

// TokenOffender is a principal token with an issue: long-lived (valid, and its lifetime
// exceeds the deployment maximum), idle (valid and unused for idle_after) or lapsed (an
// enabled principal whose tokens all expired unrotated; the entry is its newest token).
type TokenOffender struct {
	TokenID     string     `json:"token_id"`
	PrincipalID string     `json:"principal_id"`
	PartyID     string     `json:"party_id"`
	Name        string     `json:"name"`
	Kind        string     `json:"kind"`
	Issue       string     `json:"issue"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	LastUsedAt  *time.Time `json:"last_used_at,omitempty"`
	Lifetime    Duration   `json:"lifetime"`
}

// CACredential is one CA certificate and how long it has left.
type CACredential struct {
	CAID      string    `json:"ca_id"`
	PartyID   string    `json:"party_id"`
	Name      string    `json:"name"`
	Stage     string    `json:"stage"`
	Role      string    `json:"role"`
	NotAfter  time.Time `json:"not_after"`
	Remaining Duration  `json:"remaining"` // negative: ended
	Retired   bool      `json:"retired"`
	Issue     string    `json:"issue,omitempty"` // expired or expiring, for a CA that still issues
}

// RotationEnv is rotation compliance of one environment.
type RotationEnv struct {
	EnvironmentID string   `json:"environment_id"`
	Name          string   `json:"name"`
	OperatorID    string   `json:"operator_id"`
	MaxAge        Duration `json:"max_age"`
	Active        int      `json:"active"`
	Compliant     int      `json:"compliant"`
	Share         float64  `json:"share"` // compliant / active; 1 when there are no active devices
}

// Overdue is an active device whose operational certificate is older than its environment's
// maximum age.
type Overdue struct {
	DeviceID      string    `json:"device_id"`
	EnvironmentID string    `json:"environment_id"`
	Serial        string    `json:"serial"`
	IssuedAt      time.Time `json:"issued_at"`
	Age           Duration  `json:"age"`
	MaxAge        Duration  `json:"max_age"`
}

// TrendPoint is rotation compliance at one past instant, computed from certificate history.
type TrendPoint struct {
	At           time.Time  `json:"at"`
	Active       int        `json:"active"`
	Compliant    int        `json:"compliant"`
	Share        float64    `json:"share"`
	Environments []TrendEnv `json:"environments"`
}

// TrendEnv is one environment's compliance at a trend instant.
type TrendEnv struct {
	EnvironmentID string  `json:"environment_id"`
	Active        int     `json:"active"`
	Compliant     int     `json:"compliant"`
	Share         float64 `json:"share"`
}

// Summary is the inventory summary (GET /v1/reports/summary): device counts by state, with
// rotation compliance over all environments.
type Summary struct {
	GeneratedAt time.Time      `json:"generated_at"`
	Devices     int            `json:"devices"`
	ByState     map[string]int `json:"by_state"`
	Active      int            `json:"active"`
	Compliant   int            `json:"compliant"`
	Share       float64        `json:"share"`
	// Expiring24h counts current operational certificates ending within 24 hours.
	Expiring24h int `json:"expiring_24h"`
}

// ExpiringReport lists current, unrevoked operational certificates that end before
// GeneratedAt + Within, grouped by environment and operator (GET /v1/reports/expiring). Count
// counts them all; Truncated says that only the 1000 soonest are listed.
type ExpiringReport struct {
	GeneratedAt time.Time       `json:"generated_at"`
	Within      Duration        `json:"within"`
	Count       int             `json:"count"`
	Truncated   bool            `json:"truncated,omitempty"`
	Groups      []ExpiringGroup `json:"groups"`
}

// ExpiringGroup is the expiring certificates of one environment and its operator.
type ExpiringGroup struct {
	EnvironmentID string     `json:"environment_id"`
	Name          string     `json:"name"`
	OperatorID    string     `json:"operator_id"`
	Count         int        `json:"count"` // all of this group's, listed or not
	Items         []Expiring `json:"items"`
}

// Expiring is one operational certificate that ends within the window.
type Expiring struct {
	DeviceID      string    `json:"device_id"`
	Serial        string    `json:"serial"`
	NotAfter      time.Time `json:"not_after"`
	Remaining     Duration  `json:"remaining"` // negative: already expired
	DeviceState   string    `json:"device_state"`
	EnvironmentID string    `json:"environment_id"`
	OperatorID    string    `json:"operator_id"`
}

// DriftReport lists drift from the build record (Items) and from the environments' current
// policies (Policy) (GET /v1/reports/drift).
type DriftReport struct {
	GeneratedAt time.Time `json:"generated_at"`
	Checked     int       `json:"checked"` // devices with reported facts and a build record
	// PolicyChecked is true when active devices were evaluated under their environment's
	// current policy; PolicyEvaluated counts them.
	PolicyChecked   bool          `json:"policy_checked"`
	PolicyEvaluated int           `json:"policy_evaluated"`
	Items           []Drift       `json:"items"`
	Policy          []PolicyDrift `json:"policy"`
}

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
// admit, evaluated on the inputs that admitted it.
type PolicyDrift struct {
	DeviceID        string    `json:"device_id"`
	EnvironmentID   string    `json:"environment_id"`
	Serial          string    `json:"serial"`      // the current operational certificate
	PolicyKind      string    `json:"policy_kind"` // onboarding or renewal
	AdmittedVersion int       `json:"admitted_version"`
	CurrentVersion  int       `json:"current_version"`
	AdmittedAt      time.Time `json:"admitted_at"`
	// Failed names every rule of the current version that denies; a rule named "_inputs"
	// means the inputs could not be built (such as a build record that no longer verifies).
	Failed []PolicyFailure `json:"failed"`
	// ApprovalRequired: every rule holds but the current version requires an approval.
	ApprovalRequired bool `json:"approval_required,omitempty"`
}

// PolicyFailure is one policy rule that denied.
type PolicyFailure struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`         // the rule's message, or its expression
	Error   string `json:"error,omitempty"` // set when the rule failed to evaluate
}

// StandardsReport is the standards mapping with live evidence (GET /v1/reports/standards).
type StandardsReport struct {
	GeneratedAt time.Time      `json:"generated_at"`
	Rows        []StandardsRow `json:"rows"`
}

// StandardsRow is one risk or outcome of a framework, the Hallmark control that addresses
// it, and what this deployment shows for it.
type StandardsRow struct {
	Framework string            `json:"framework"` // "OWASP NHI Top 10 2025" or "NIST CSF 2.0"
	ID        string            `json:"id"`
	Title     string            `json:"title"`
	Coverage  string            `json:"coverage"` // addressed, partial or not-addressed
	Control   string            `json:"control"`
	Evidence  StandardsEvidence `json:"evidence"`
}

// StandardsEvidence is what this deployment shows for one standards row.
type StandardsEvidence struct {
	Count     int       `json:"count"`            // offenders (or, for inventory-style checks, items)
	Total     int       `json:"total"`            // population checked
	Oldest    string    `json:"oldest,omitempty"` // the oldest offender, if any
	Note      string    `json:"note"`             // what Count means
	CheckedAt time.Time `json:"checked_at"`
	Status    string    `json:"status"` // ok, attention, no data (nothing was checked) or n/a
	// Offenders names at most 20 of the offenders Count counts (devices are not named to a
	// deployment administrator).
	Offenders []string `json:"offenders,omitempty"`
}

// GapsReport lists the governance gaps of a deployment, or of the caller's own scopes and
// principals for a party that is not an auditor (GET /v1/reports/gaps).
type GapsReport struct {
	GeneratedAt time.Time `json:"generated_at"`
	IdleAfter   string    `json:"idle_after"`
	// Unowned are the scopes where a duty resolves to nobody.
	Unowned []UnownedDuty `json:"unowned"`
	// Devices are devices whose current stage has no renewal or revocation owner.
	Devices []DevicesWithoutOwner `json:"devices_without_owner"`
	// Lifetimes are environments whose certificate lifetime exceeds a maximum.
	Lifetimes []LifetimeGap `json:"lifetimes"`
	// Grants are active support grants without a bound the environment still allows.
	Grants []GrantGap `json:"support_grants"`
	// Idle are principals not used within IdleAfter (or never).
	Idle []IdlePrincipal `json:"idle_principals"`
	// SelfApproval are duties whose approvals are decided inside the party that acts.
	SelfApproval []SelfApproval `json:"self_approval"`
	Total        int            `json:"total"`
	// CAExpiry are CAs in service ending within 90 days, or ended, without a successor.
	CAExpiry []CAExpiryGap `json:"ca_expiry"`
	// MakerSources are revocation sources of makers that do not run Hallmark whose last
	// fetch failed, or that hold no CRL valid now.
	MakerSources []MakerSourceGap `json:"maker_sources"`
	// ChangeRules are parties' change rules that no change can meet.
	ChangeRules []ChangeRuleGap `json:"change_rules"`
	// Handover are enabled principals of parties whose only working tokens a deployment
	// administrator minted: the hand-over was never completed by a rotation of the party's.
	Handover []HandoverGap `json:"handover"`
	// TrustDomains are environments whose SPIFFE trust domain another operator holds: both
	// named it before trust domains were claimed.
	TrustDomains []TrustDomainGap `json:"trust_domains"`
}

// TrustDomainGap is an environment whose SPIFFE trust domain another operator holds (the
// first to name it): its SPIFFE IDs are in that operator's domain. The environment's operator
// sees the environment, not the holder; the holder sees the domain, not the environment;
// auditors see both.
type TrustDomainGap struct {
	TrustDomain   string `json:"trust_domain"`
	EnvironmentID string `json:"environment_id,omitempty"`
	Name          string `json:"name,omitempty"`
	OperatorID    string `json:"operator_id,omitempty"`
	HolderID      string `json:"holder_id,omitempty"` // the operator that holds the domain
	Why           string `json:"why"`
}

// HandoverGap is an enabled principal of a party whose only working tokens were minted by a
// deployment administrator (its first administrator's token, or one minted under
// break-glass): the deployment administrator, who was shown the token, holds a working token
// of a party it does not belong to until the party rotates it or it expires.
type HandoverGap struct {
	PartyID     string `json:"party_id"`
	PrincipalID string `json:"principal_id"`
	Name        string `json:"name"`
	Admin       bool   `json:"admin"`
	// TokenID, MintedBy, MintedAt and ExpiresAt are of the hand-over token that works longest.
	TokenID   string    `json:"token_id"`
	MintedBy  string    `json:"minted_by"` // the deployment administrator's principal ID
	MintedAt  time.Time `json:"minted_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Auditor is set when the party owns an audit cell over the deployment scope: whoever holds
	// the token reads every device.
	Auditor bool   `json:"auditor"`
	Why     string `json:"why"`
}

// ChangeRuleGap is a party's rule for one kind of governance change that no change can meet:
// whichever of the party's enabled principals proposes, the quorum needs more approvers than
// the party holds besides the proposer and independent of it, so every such change is
// refused (e.g. an operator with one principal cannot change its policies).
type ChangeRuleGap struct {
	PartyID string `json:"party_id"`
	Kind    string `json:"kind"`   // a governance change kind, e.g. policy-change
	Quorum  string `json:"quorum"` // e.g. "1 of *"
	Stored  bool   `json:"stored"` // false: the built-in default rule
	Why     string `json:"why"`
}

// MakerSourceGap is a CRL distribution point or OCSP responder of a registered maker that
// gives no usable answer, or (a CRL) whose last good CRL is past its nextUpdate: the status of
// the maker's devices rests on an older answer, or on none, since Since.
type MakerSourceGap struct {
	MakerID    string `json:"maker_id"`
	MakerName  string `json:"maker_name"`
	OperatorID string `json:"operator_id"`
	Kind       string `json:"kind"` // crl or ocsp
	URL        string `json:"url"`
	Issuer     string `json:"issuer"` // the subject of the maker's CA it answers for
	// Outcome and Error are of the last fetch: ok, stale, bad_signature, oversized,
	// unreachable, parse_error, invalid or responder_error.
	Outcome     string    `json:"outcome"`
	Error       string    `json:"error,omitempty"`
	Since       time.Time `json:"since"`
	LastAttempt time.Time `json:"last_attempt"`
	// LastOK is the last good fetch; HeldUntil the nextUpdate of the CRL still in use.
	LastOK    *time.Time `json:"last_ok,omitempty"`
	HeldUntil *time.Time `json:"held_until,omitempty"`
	Why       string     `json:"why"`
}

// UnownedDuty is a stage and duty over a scope that no party owns.
type UnownedDuty struct {
	Scope string `json:"scope"`
	Stage string `json:"stage"`
	Duty  string `json:"duty"`
}

// DevicesWithoutOwner counts the devices of one scope whose current stage lacks an owner.
type DevicesWithoutOwner struct {
	Scope   string `json:"scope"`
	Stage   string `json:"stage"`
	Duty    string `json:"duty"`
	Devices int    `json:"devices"`
}

// LifetimeGap is an environment whose certificate lifetime exceeds a maximum.
type LifetimeGap struct {
	EnvironmentID string `json:"environment_id"`
	Name          string `json:"name"`
	OperatorID    string `json:"operator_id"`
	Lifetime      string `json:"lifetime"`
	Limit         string `json:"limit"`
	Why           string `json:"why"`
}

// GrantGap is an active support grant without a time bound the environment allows.
type GrantGap struct {
	GrantID       string    `json:"grant_id"`
	EnvironmentID string    `json:"environment_id"`
	Requester     string    `json:"requester_party"`
	NotAfter      time.Time `json:"not_after"`
	Window        string    `json:"window"`
	Limit         string    `json:"limit"`
}

// IdlePrincipal is a principal without recent use.
type IdlePrincipal struct {
	PrincipalID string     `json:"principal_id"`
	PartyID     string     `json:"party_id"`
	Name        string     `json:"name"`
	Admin       bool       `json:"admin"`
	LastUsedAt  *time.Time `json:"last_used_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

// SelfApproval is a duty whose approval requests are decided by the same party that owns it,
// under a rule that does not ask for another party: only the person differs.
type SelfApproval struct {
	Scope   string `json:"scope"`
	Kind    string `json:"approval_kind"`
	Duty    string `json:"duty"`
	PartyID string `json:"party_id"`
}

// SignedReport is what a report route answers with ?signed=1: a DSSE envelope
// (https://github.com/secure-systems-lab/dsse) of payloadType
// application/vnd.hallmark.report+json, signed with the audit log's checkpoint key. Its
// payload (base64) is a JSON statement {type, report, query, checkpoint, log_size_before,
// signed_at, body}: body is the report as the unsigned request returns it, checkpoint the
// signed audit checkpoint (a C2SP note) it was computed at. "hallmark report verify" checks it
// offline with the checkpoint key history.
type SignedReport struct {
	PayloadType string          `json:"payloadType"`
	Payload     string          `json:"payload"`
	Signatures  []DSSESignature `json:"signatures"`
}

// DSSESignature is one signature of a DSSE envelope: keyid names the checkpoint key as
// "<origin>+<key hash>"; sig is base64.
type DSSESignature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}
