package sqlstore

import "github.com/hallmark-id/hallmark/internal/store"

// Epochs reads cache_epochs (migration 0027), whose triggers (migrations 0027, 0029 and 0030)
// move the epochs.
func (t *tx) Epochs() store.Epochs { return epochs{t} }

type epochs struct{ t *tx }

func (e epochs) Epoch(name string) (int64, error) {
	var v int64
	err := e.t.queryRow(`SELECT epoch FROM cache_epochs WHERE name = ?`, name).Scan(&v)
	return v, notFound(err, "epoch "+name)
}

// Unmoved reports that this transaction has made no write that an epoch trigger follows, so
// that every epoch is still what the transaction found (readcache's Update then need not read
// it). It is conservative: every write through exec counts, except those of the statements
// that write only tables no epoch trigger is on (noEpochWrite: a certificate's reservation,
// completion and revocation, a new or updated device, a new build record, new evidence: what
// factory issuance, EST enrollment and renewal write); writes outside exec are to such tables too
// (the audit tree, leases, CRL numbers, report snapshots). storetest's EpochsUnmoved checks
// both directions on each dialect.
func (e epochs) Unmoved() bool { return !e.t.epochWrite }

// noEpochWrite is deferred by a store method whose statements write only tables no epoch
// trigger is on: it puts back whether an epoch may have moved as it was before the method.
//
//	defer t.noEpochWrite()()
func (t *tx) noEpochWrite() func() {
	was := t.epochWrite
	return func() { t.epochWrite = was }
}
