// Package operational is the operational stage: operational CAs, environments with versioned
// CEL policies, onboarding (origin proof exchanged for environment trust), renewal under
// policy, runtime revocation and re-admission.
//
// Invariants: an operational certificate is issued only to a device the operator holds, on a
// factory identity that chains to a registered manufacturer anchor, is not revoked, and is
// bound to a build record that verifies, after the environment's policy allowed it; every
// issuance records the evidence it was issued on and the policy version used. Runtime
// revocation never touches the factory identity.
package operational

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/authority"
	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/manifest"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/policy"
	"github.com/hallmark-id/hallmark/internal/sigmemo"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Config holds the collaborators.
type Config struct {
	Store     store.Store
	Authority *authority.Authority
	// RootLife and IssuingLife bound new operational CAs.
	RootLife, IssuingLife time.Duration
	// MaxLifetime caps an environment's certificate lifetime ("hours to days").
	MaxLifetime time.Duration
	// StatusURLs, when set, returns the OCSP and CRL URLs an operational certificate of CA c
	// for device deviceID carries (nil: none).
	StatusURLs func(c ca.CA, deviceID string) (ocsp, crl []string)
	// Policies compiles environment policies under the deployment's cost budget and keeps
	// them (nil: policy.NewCache with the defaults).
	Policies *policy.Cache
	// MaxLiveChallenges caps the challenges a principal holds that have not expired, used or
	// not (default DefaultMaxLiveChallenges; config limits.challenges).
	MaxLiveChallenges int
	// MakerStatus checks the revocation status of devices of makers that do not run Hallmark
	// (nil: such devices cannot onboard).
	MakerStatus MakerStatus
	// Manifests bounds the makers' manifests read at onboarding (zero: manifest's defaults).
	Manifests manifest.Limits
}

// Service is the operational stage.
type Service struct {
	c Config
	// issued and refusals count challenges and refused proofs of possession
	// (PossessionCounts); refusals has every reason from New on.
	issued   atomic.Int64
	refusals map[string]*atomic.Int64
	// manifests keeps the makers' parsed active manifests (external.go).
	manifests manifestCache
	// records remembers the build records that verified, by their bytes and their maker's
	// key history, so that a renewal does not verify its device's unchanged record again
	// (inputRead).
	records *buildrecord.VerifiedCache
	// keys remembers the makers' key histories, parsed (issue.go).
	keys keySets
	// sigs remembers certificate signatures that verified (Signatures).
	sigs *sigmemo.Memo
}

// New returns a Service.
func New(c Config) *Service {
	if c.RootLife == 0 {
		c.RootLife = 20 * 365 * 24 * time.Hour
	}
	if c.IssuingLife == 0 {
		c.IssuingLife = 10 * 365 * 24 * time.Hour
	}
	if c.MaxLifetime == 0 {
		c.MaxLifetime = 30 * 24 * time.Hour
	}
	if c.Policies == nil {
		c.Policies, _ = policy.NewCache(0, 0) // the defaults are valid
	}
	if c.MaxLiveChallenges <= 0 {
		c.MaxLiveChallenges = DefaultMaxLiveChallenges
	}
	return &Service{c: c, refusals: newRefusalCounters(), records: buildrecord.NewVerifiedCache(0, 0), sigs: sigmemo.New(0)}
}

// Signatures is the memory of certificate signatures that verified which the factory chain
// check of an onboarding consults (chainverify.Options.Signatures). The EST listener's TLS
// handshake fills it (est.NewCheckedIssuerSet), so that the factory certificate's signature,
// checked there, is not computed again by the same enrollment; every other check of the chain
// still runs (chainverify's direct path).
func (s *Service) Signatures() *sigmemo.Memo { return s.sigs }

const stage = ownership.Operational

// MaxLifetime is the deployment's cap on an environment's certificate lifetime.
func (s *Service) MaxLifetime() time.Duration { return s.c.MaxLifetime }

func (s *Service) now() time.Time { return s.c.Authority.Now() }

func (s *Service) event(a audit.Actor, action, scope, subject string, detail any) audit.Event {
	return governance.Event(a, s.now(), action, stage, scope, subject, detail)
}

// EnvChain is an environment's scope and its operator.
func EnvChain(e environment.Environment) ownership.Chain {
	return ownership.Chain{{Kind: ownership.Environment, ID: e.ID}, {Kind: ownership.Operator, ID: e.OperatorID}}
}

func operatorChain(id string) ownership.Chain {
	return ownership.Chain{{Kind: ownership.Operator, ID: id}}
}

func requireOperator(tx store.Tx, id string) (party.Party, error) {
	return governance.RequireKind(tx, id, party.Operator)
}

// CreateHierarchyRequest asks for an operational root and issuing CA.
type CreateHierarchyRequest struct {
	OperatorID string         `json:"operator_id"`
	Name       string         `json:"name"`
	Algorithm  keys.Algorithm `json:"algorithm,omitempty"`
	// CRLPartitions is the issuing CA's CRL partition count (1 to 1024, fixed for its life);
	// 0 takes the default, 16. See docs/revocation-status.md.
	CRLPartitions int `json:"crl_partitions,omitempty"`
}

// CreateHierarchy creates an operator's operational root and issuing CA.
func (s *Service) CreateHierarchy(ctx context.Context, a audit.Actor, r CreateHierarchyRequest) (root, issuing ca.CA, err error) {
	return s.c.Authority.CreateOwnedHierarchy(ctx, a, authority.OwnedHierarchy{
		PartyID: r.OperatorID, Kind: party.Operator, Stage: stage, Scope: ownership.Scope{Kind: ownership.Operator, ID: r.OperatorID},
		Name: r.Name, Algorithm: r.Algorithm, RootLife: s.c.RootLife, IssuingLife: s.c.IssuingLife, CRLPartitions: r.CRLPartitions,
	})
}

// program returns the compiled policy of an environment, compiling each version once.
func (s *Service) program(ctx context.Context, pv environment.PolicyVersion) (*policy.Program, error) {
	p, err := s.c.Policies.Program(ctx, fmt.Sprintf("%s/%s/%d", pv.EnvironmentID, pv.Kind, pv.Version), pv.Version, pv.Spec)
	if err != nil {
		return nil, fmt.Errorf("stored %s policy v%d of %s: %w", pv.Kind, pv.Version, pv.EnvironmentID, err)
	}
	return p, nil
}

// compileSpec validates a policy given by a caller, including its worst-case cost against the
// budget; nothing is stored when it fails.
func (s *Service) compileSpec(raw json.RawMessage, kind environment.PolicyKind) (json.RawMessage, error) {
	var spec *policy.Spec
	if len(raw) == 0 || string(raw) == "null" {
		if kind == environment.Onboarding {
			spec = policy.DefaultOnboarding()
		} else {
			spec = policy.DefaultRenewal()
		}
		b, err := json.Marshal(spec)
		if err != nil {
			return nil, err
		}
		raw = b
	}
	spec, err := policy.ParseSpec(raw)
	if err != nil {
		return nil, fmt.Errorf("%s policy: %w", kind, err)
	}
	if _, err := s.c.Policies.Compile(spec); err != nil {
		return nil, fmt.Errorf("%s policy: %w", kind, err)
	}
	return raw, nil
}
