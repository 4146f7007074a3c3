package store

// GovernanceEpoch names the epoch that moves, in the same transaction, with every change to
// parties, principals, their tokens and duty limits, the ownership matrix, separation-of-duties
// rules, models, lots, CAs and signing keys (migration 0027 keeps it with triggers, so no
// writer can forget it). Recording a use (TouchToken, TouchPrincipal) does not move it.
const GovernanceEpoch = "governance"

// Epochs reads cache epochs: counters that only grow, so that a process can tell that what it
// cached under one value may be stale once it reads another (internal/readcache).
type Epochs interface {
	// Epoch returns the current value of the named epoch as this transaction sees it
	// (including its own changes); ErrNotFound when there is no such epoch.
	Epoch(name string) (int64, error)
}

// BuildRecordsEpoch names the epoch that moves, in the same transaction, with every update or
// delete of a stored build record (migration 0029's triggers), by hand in SQL included.
// Inserts leave it alone: each one Hallmark makes is audited, so the audit tree's size moves.
const BuildRecordsEpoch = "build_records"
