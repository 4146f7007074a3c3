package store

import "time"

// Lease is a named, time-bounded lease (leadership among replicas, see internal/leader).
// Epoch grows by one every time the lease is taken rather than renewed, so a write fenced
// by (Holder, Epoch) fails once anyone else has held the lease since.
type Lease struct {
	Name   string
	Holder string
	Epoch  int64
	// ExpiresAt is measured on the store's clock (the database server's), never a
	// replica's, so that clock skew between replicas does not matter.
	ExpiresAt time.Time
	// AcquiredAt is when the current epoch began, on the store's clock.
	AcquiredAt time.Time
}

// Leases stores leases. Lease rows are coordination state, not identity state: their writes
// are exempt from the audit rule.
type Leases interface {
	// Acquire takes name for holder for ttl (from the store's clock, now): it succeeds when
	// nobody holds it, the holder's lease expired, or holder holds it already (a renewal,
	// which keeps the epoch). Otherwise it returns the current lease and ErrConflict.
	Acquire(name, holder string, ttl time.Duration) (Lease, error)
	// Check is the fence: nil when holder holds name at epoch and it has not expired,
	// ErrConflict otherwise. Run it in the transaction that writes as the lease's holder.
	Check(name, holder string, epoch int64) error
	// Release ends holder's lease at epoch at once, so another replica takes it without
	// waiting for it to expire; releasing a lease one does not hold does nothing.
	Release(name, holder string, epoch int64) error
	// GetLease returns the lease; ErrNotFound when it was never taken.
	GetLease(name string) (Lease, error)
}

// StoredCRL is a CRL as the leader signed it, which every replica serves.
type StoredCRL struct {
	CAID       string
	Number     int64
	ThisUpdate time.Time
	NextUpdate time.Time
	DER        []byte
	// Holder and Epoch name the lease term that signed it.
	Holder string
	Epoch  int64
}

// CRLs stores the latest signed CRL of each CA. Its writes are exempt from the audit rule
// (a CRL is derived from certificate states, which are audited).
type CRLs interface {
	// PutCRL stores c as its CA's latest CRL; ErrConflict when a CRL with the same or a
	// higher number is stored (CRL numbers only grow).
	PutCRL(c StoredCRL) error
	// LatestCRL returns the CA's stored CRL if its number is above afterNumber;
	// ErrNotFound otherwise.
	LatestCRL(caID string, afterNumber int64) (StoredCRL, error)
}
