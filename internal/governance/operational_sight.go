package governance

import (
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/grant"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/store"
)

// OperationalSight says which operational records of devices an actor may see
// (docs/governance.md, Visibility). A device's maker, its holder and auditors see the device
// (CanSeeDevice) and its manufacturing records: identity, state, custody chain, factory
// certificates, build record. Its operational records — the environment it is in, its
// operational certificates and their serials, the lineage of their issuance, and the support
// grants that reach it — belong to the operator of the environment they were made in: only
// that operator and auditors see them, and a support grant also its requester. So a maker keeps
// the manufacturing view of its devices after custody leaves it, and the party a device is
// handed to does not see what earlier operators did with it.
//
// It reads each environment and CA once per transaction.
type OperationalSight struct {
	tx    store.Tx
	all   bool
	party string
	envs  map[string]bool // environment ID → operated by the actor
	cas   map[string]bool // CA ID → the actor's
}

// OperationalSightOf returns the actor's sight in tx.
func OperationalSightOf(tx store.Tx, a audit.Actor) (*OperationalSight, error) {
	all, err := IsAuditor(tx, a)
	return &OperationalSight{tx: tx, all: all, party: a.PartyID, envs: map[string]bool{}, cas: map[string]bool{}}, err
}

// All reports whether the actor sees every operational record (auditors).
func (v *OperationalSight) All() bool { return v.all }

// Environment reports whether the actor may see the records of environment id ("" is no
// environment: false unless the actor sees all).
func (v *OperationalSight) Environment(id string) (bool, error) {
	if v.all || id == "" {
		return v.all, nil
	}
	if ok, seen := v.envs[id]; seen {
		return ok, nil
	}
	e, err := v.tx.Environments().GetEnvironment(id)
	if failure.Is(err, failure.NotFound) {
		v.envs[id] = false
		return false, nil
	}
	if err != nil {
		return false, err
	}
	v.envs[id] = e.OperatorID == v.party
	return v.envs[id], nil
}

// Certificate reports whether the actor may see a certificate of a device it may see: an
// operational certificate when its issuing CA is the actor's, any other (the factory
// certificates) always.
func (v *OperationalSight) Certificate(c ca.Cert) (bool, error) {
	if v.all || c.Profile != string(issuance.ProfileOperational) {
		return true, nil
	}
	if ok, seen := v.cas[c.CAID]; seen {
		return ok, nil
	}
	issuer, err := v.tx.CAs().GetCA(c.CAID)
	if failure.Is(err, failure.NotFound) {
		v.cas[c.CAID] = false
		return false, nil
	}
	if err != nil {
		return false, err
	}
	v.cas[c.CAID] = issuer.PartyID == v.party
	return v.cas[c.CAID], nil
}

// Grant reports whether the actor may see a support grant: its operator's and its requester's.
func (v *OperationalSight) Grant(g grant.Grant) bool {
	return v.all || g.OperatorID == v.party || g.RequesterParty == v.party
}
