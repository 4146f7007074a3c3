package store

import "time"

// RevokedEntry is one revoked (or held) certificate as a CRL lists it.
type RevokedEntry struct {
	SerialHex string
	RevokedAt time.Time
	Reason    int // RFC 5280 CRLReason; 6 (certificateHold) for a suspension
	NotAfter  time.Time
}

// StatusChange says that the revocation status of one certificate changed (issued, revoked,
// held or released). Seq grows with every change, across all CAs.
type StatusChange struct {
	Seq          int64
	CAID         string
	SerialHex    string
	CRLPartition int // the certificate's CRL partition (0 under an unpartitioned CA)
}

// OCSPResponder is a delegated OCSP responder certificate (RFC 6960 section 4.2.2.2) of an
// issuing CA, with the ID of its key in the key provider.
type OCSPResponder struct {
	SerialHex string
	CAID      string
	KeyID     string
	CertDER   []byte
	NotAfter  time.Time
	CreatedAt time.Time
}

// Status is what the OCSP responder and the CRL builder read and keep.
//
// The change feed is written by the store itself whenever a certificate's state or reason
// changes, whichever code path made the change, so that several responder replicas can poll
// it instead of relying on in-process notifications.
type Status interface {
	// EachRevoked calls fn, in order of CRL partition then serial, for every revoked or held
	// certificate of caID whose notAfter is after now. An error from fn stops the walk and is
	// returned.
	EachRevoked(caID string, now time.Time, fn func(RevokedEntry) error) error
	// EachRevokedInPartition is EachRevoked for the certificates of one CRL partition of
	// caID, in serial order.
	EachRevokedInPartition(caID string, partition int, now time.Time, fn func(RevokedEntry) error) error
	// NextCRLNumber increments caID's CRL number and returns it (1 the first time). It is
	// not identity state and is exempt from the audit rule.
	NextCRLNumber(caID string) (int64, error)
	// CreateResponder records a responder certificate issued in this transaction.
	CreateResponder(r OCSPResponder) error
	// CurrentResponder returns caID's responder with the latest notAfter; ErrNotFound if none.
	CurrentResponder(caID string) (OCSPResponder, error)
	// Changes returns up to limit status changes with Seq > afterSeq, in Seq order.
	Changes(afterSeq int64, limit int) ([]StatusChange, error)
	// LastChange returns the highest Seq (0 when there is none).
	LastChange() (int64, error)
	// PruneChanges deletes changes recorded before the given time; exempt from audit.
	PruneChanges(before time.Time) error
}
