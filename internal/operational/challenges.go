package operational

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// ChallengeLife is how long a device has to sign a challenge.
const ChallengeLife = 5 * time.Minute

// DefaultMaxLiveChallenges is how many live challenges a principal may hold when
// Config.MaxLiveChallenges is 0 (config limits.challenges).
const DefaultMaxLiveChallenges = 256

// ChallengeRequest asks for a challenge. It names what the proof will be used for, so that
// a proof serves that one request: the purpose, the environment (for onboarding) or the
// certificate to renew (whose device's environment it is), and the key of the CSR.
type ChallengeRequest struct {
	Purpose Purpose `json:"purpose"`
	// EnvironmentID is the environment to onboard into (purpose onboard only).
	EnvironmentID string `json:"environment_id,omitempty"`
	// CertificateSerial is the hex serial of the operational certificate to renew (purpose
	// renew only).
	CertificateSerial string `json:"certificate_serial,omitempty"`
	// CSRKeySHA256 is the hex SHA-256 of the DER SubjectPublicKeyInfo of the key in the CSR
	// the proof will be sent with (KeySHA256).
	CSRKeySHA256 string `json:"csr_key_sha256"`
}

// Challenge is a fresh nonce bound to a principal, a purpose, an environment and a CSR key.
// The device signs its ProofMessage with the key it proves: the factory key at onboarding,
// the current operational key at renewal.
type Challenge struct {
	ID            string    `json:"id"`
	Nonce         string    `json:"nonce"` // base64 of 32 random bytes, as it goes into the proof message
	Purpose       Purpose   `json:"purpose"`
	EnvironmentID string    `json:"environment_id"`
	CSRKeySHA256  string    `json:"csr_key_sha256"`
	ExpiresAt     time.Time `json:"expires_at"`
}

// challengeInput is a ChallengeRequest checked: what the store is asked.
type challengeInput struct {
	purpose Purpose
	envID   string
	serial  *big.Int
	keyHash []byte
}

// parseChallengeRequest checks a request from outside; nothing is read before it passes.
func parseChallengeRequest(r ChallengeRequest) (challengeInput, error) {
	var in challengeInput
	key, err := hex.DecodeString(r.CSRKeySHA256)
	if err != nil || len(key) != 32 {
		return in, failure.New(failure.Invalid, "csr_key_sha256 must be the 64 hex digits of the SHA-256 of the CSR key's DER SubjectPublicKeyInfo")
	}
	in.purpose, in.keyHash = r.Purpose, key
	switch r.Purpose {
	case PurposeOnboard:
		if r.CertificateSerial != "" {
			return in, failure.New(failure.Invalid, "certificate_serial is for purpose renew; purpose onboard names environment_id")
		}
		if r.EnvironmentID == "" || len(r.EnvironmentID) > 64 {
			return in, failure.New(failure.Invalid, "purpose onboard needs environment_id, the environment to onboard into")
		}
		in.envID = r.EnvironmentID
	case PurposeRenew:
		if r.EnvironmentID != "" {
			return in, failure.New(failure.Invalid, "environment_id is for purpose onboard; purpose renew names certificate_serial, and the environment is its device's")
		}
		bad := failure.New(failure.Invalid, "purpose renew needs certificate_serial, the hex serial of the operational certificate to renew")
		if len(r.CertificateSerial) > 42 {
			return in, bad
		}
		serial, ok := new(big.Int).SetString(strings.TrimPrefix(strings.ToLower(r.CertificateSerial), "0x"), 16)
		if !ok || serial.Sign() <= 0 {
			return in, bad
		}
		in.serial = serial
	default:
		return in, failure.New(failure.Invalid, "purpose %q is not onboard or renew", r.Purpose)
	}
	return in, nil
}

// NewChallenge issues a challenge to the caller. The caller's party must own the duty the
// proof serves over the environment: operational/issue to onboard, operational/renew to
// renew. A renewal challenge names the certificate to renew; one the caller may not renew,
// or that does not exist, is refused alike (not found). The principal may hold at most
// Config.MaxLiveChallenges challenges that have not expired, used or not, so the cap is also a
// rate (that many per ChallengeLife). Creating a challenge writes no audit event: the purge
// records it (PurgeChallenges). Nothing is stored when any check fails.
func (s *Service) NewChallenge(ctx context.Context, a audit.Actor, r ChallengeRequest) (Challenge, error) {
	in, err := parseChallengeRequest(r)
	if err != nil {
		return Challenge{}, err
	}
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		return Challenge{}, err
	}
	now := s.now()
	c := store.Challenge{ID: party.NewID("chl"), Nonce: nonce, Purpose: string(in.purpose), PrincipalID: a.PrincipalID, PartyID: a.PartyID,
		KeySHA256: in.keyHash, CreatedAt: now, ExpiresAt: now.Add(ChallengeLife)}
	// The refusal is counted once Update returned: it may run this function more than once.
	var refused string
	err = s.c.Store.Update(ctx, func(tx store.Tx) error {
		refused = ""
		env, err := s.challengeEnvironment(tx, a, in, &refused)
		if err != nil {
			return err
		}
		c.EnvironmentID = env.ID
		n, err := tx.Challenges().LiveChallenges(a.PrincipalID, now, s.c.MaxLiveChallenges)
		if err != nil {
			return err
		}
		if n >= s.c.MaxLiveChallenges {
			refused = refusedLimit
			return failure.New(failure.Denied, "principal %s holds %d challenges issued in the last %s, the limit (limits.challenges): wait for the oldest to expire", a.PrincipalID, n, ChallengeLife)
		}
		return tx.Challenges().CreateChallenge(c)
	})
	if err != nil && refused != "" {
		s.refusals[refused].Add(1)
	}
	if err != nil {
		return Challenge{}, err
	}
	s.issued.Add(1)
	return Challenge{ID: c.ID, Nonce: base64.StdEncoding.EncodeToString(nonce), Purpose: in.purpose, EnvironmentID: c.EnvironmentID,
		CSRKeySHA256: hex.EncodeToString(c.KeySHA256), ExpiresAt: c.ExpiresAt}, nil
}

// challengeEnvironment is the environment a challenge is for, once the caller's duty over it
// is checked. A refusal sets *refused to its reason (counted by the caller).
func (s *Service) challengeEnvironment(tx store.Tx, a audit.Actor, in challengeInput, refused *string) (environment.Environment, error) {
	if in.purpose == PurposeOnboard {
		env, err := tx.Environments().GetEnvironment(in.envID)
		if err != nil {
			return env, err
		}
		if err := governance.Require(tx, a, stage, ownership.Issue, EnvChain(env)); err != nil {
			*refused = refusedDuty
			return env, err
		}
		return env, nil
	}
	// Renewal: whether the certificate exists or belongs elsewhere is not the caller's to
	// learn, so both are one answer.
	none := func() (environment.Environment, error) {
		*refused = refusedDuty
		return environment.Environment{}, failure.New(failure.NotFound, "no operational certificate %s that you may renew", in.serial.Text(16))
	}
	rec, err := tx.Certificates().GetCert(in.serial)
	if failure.Is(err, failure.NotFound) || err == nil && (rec.Profile != string(issuance.ProfileOperational) || rec.DeviceID == "") {
		return none()
	} else if err != nil {
		return environment.Environment{}, err
	}
	d, err := tx.Devices().GetDevice(rec.DeviceID)
	if err != nil {
		return environment.Environment{}, err
	}
	if d.EnvironmentID == "" {
		return none()
	}
	env, err := tx.Environments().GetEnvironment(d.EnvironmentID)
	if err != nil {
		return env, err
	}
	if err := governance.Require(tx, a, stage, ownership.Renew, EnvChain(env)); err != nil {
		if failure.Is(err, failure.Denied) {
			return none()
		}
		return env, err
	}
	if d.CustodianID != env.OperatorID { // custody ends trust: it renews only where it is held
		return none()
	}
	return env, nil
}

// purgeBatch is how many expired challenges one purge transaction deletes; purgeBatches
// bounds the transactions of one PurgeChallenges call.
const (
	purgeBatch   = 1000
	purgeBatches = 100
)

// PurgeChallenges deletes the challenges that have expired, oldest first, by the expires_at
// index, a batch per transaction, and records each batch in the audit log in the same
// transaction, coalesced: one "challenge.expire" event per principal and environment, saying
// how many challenges it was issued and how many it used. Every challenge thus reaches the
// audit log once, within ChallengeLife and a purge interval of its creation, without one
// event per challenge, which would let any principal with the duty grow the audit tree at
// its request rate. fence, when set, runs first in each transaction (the leader's term). It
// returns how many challenges it deleted.
func (s *Service) PurgeChallenges(ctx context.Context, fence func(store.Tx) error) (int, error) {
	total := 0
	for range purgeBatches {
		n := 0
		err := s.c.Store.Update(ctx, func(tx store.Tx) error {
			if fence != nil {
				if err := fence(tx); err != nil {
					return err
				}
			}
			now := s.now()
			gone, err := tx.Challenges().PurgeChallenges(now, purgeBatch)
			if err != nil {
				return err
			}
			n = len(gone)
			for _, e := range summarize(gone) {
				if _, err := tx.Audit().Append(governance.Event(audit.Actor{PartyID: e.partyID, PrincipalID: purgePrincipal}, now, "challenge.expire", stage,
					"environment:"+e.EnvironmentID, "principal:"+e.PrincipalID, e)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("purging expired challenges: %w", err)
		}
		total += n
		if n < purgeBatch {
			break
		}
	}
	return total, nil
}

// purgePrincipal is the actor of the purge's audit events.
const purgePrincipal = "hallmark:challenges"

// challengeSummary is the detail of a "challenge.expire" audit event.
type challengeSummary struct {
	partyID       string
	PrincipalID   string    `json:"principal_id"`
	EnvironmentID string    `json:"environment_id"`
	Issued        int       `json:"issued"`
	Used          int       `json:"used"`
	Onboard       int       `json:"onboard"`
	Renew         int       `json:"renew"`
	FirstIssued   time.Time `json:"first_issued"`
	LastIssued    time.Time `json:"last_issued"`
}

// summarize groups purged challenges by principal and environment, in a stable order.
func summarize(cs []store.Challenge) []*challengeSummary {
	by := map[[2]string]*challengeSummary{}
	var out []*challengeSummary
	for _, c := range cs {
		k := [2]string{c.PrincipalID, c.EnvironmentID}
		e := by[k]
		if e == nil {
			e = &challengeSummary{partyID: c.PartyID, PrincipalID: c.PrincipalID, EnvironmentID: c.EnvironmentID, FirstIssued: c.CreatedAt, LastIssued: c.CreatedAt}
			by[k] = e
			out = append(out, e)
		}
		e.Issued++
		if c.UsedAt != nil {
			e.Used++
		}
		if Purpose(c.Purpose) == PurposeRenew {
			e.Renew++
		} else {
			e.Onboard++
		}
		if c.CreatedAt.Before(e.FirstIssued) {
			e.FirstIssued = c.CreatedAt
		}
		if c.CreatedAt.After(e.LastIssued) {
			e.LastIssued = c.CreatedAt
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].PrincipalID != out[j].PrincipalID {
			return out[i].PrincipalID < out[j].PrincipalID
		}
		return out[i].EnvironmentID < out[j].EnvironmentID
	})
	return out
}

// PossessionCounts reports, since the service started, the challenges it issued and the
// challenges and proofs of possession it refused, by reason (every reason present).
func (s *Service) PossessionCounts() (issued int64, refused map[string]int64) {
	refused = make(map[string]int64, len(s.refusals))
	for r, n := range s.refusals {
		refused[r] = n.Load()
	}
	return s.issued.Load(), refused
}

func newRefusalCounters() map[string]*atomic.Int64 {
	m := make(map[string]*atomic.Int64, len(refusalReasons))
	for _, r := range refusalReasons {
		m[r] = new(atomic.Int64)
	}
	return m
}
