package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// LeafVersion is the version byte that starts every leaf encoding. A new encoding gets a new
// version; leaves already in the tree keep the one they were appended with.
const LeafVersion byte = 1

// MarshalLeaf returns the canonical encoding of e that the audit Merkle tree hashes as a
// leaf (version 1). It is, in order:
//
//	byte     version (1)
//	uint64   seq, big-endian
//	int64    at, microseconds since the Unix epoch (UTC), big-endian
//	7 times  uint32 big-endian length, then that many bytes:
//	         party_id, principal_id, action, stage, scope, subject, detail
//
// Strings are their UTF-8 bytes. detail is the canonical JSON of Event.Detail (see
// CanonicalDetail), empty when there is none. Times finer than a microsecond are truncated,
// as the store keeps microseconds. Every field of Event is covered, so changing any of them,
// or the seq, changes the leaf.
func MarshalLeaf(e Event) ([]byte, error) {
	detail, err := CanonicalDetail(e.Detail)
	if err != nil {
		return nil, fmt.Errorf("audit: event %d: %w", e.Seq, err)
	}
	fields := [...][]byte{[]byte(e.PartyID), []byte(e.PrincipalID), []byte(e.Action), []byte(e.Stage), []byte(e.Scope), []byte(e.Subject), detail}
	n := 1 + 8 + 8
	for _, f := range fields {
		n += 4 + len(f)
	}
	b := make([]byte, 0, n)
	b = append(b, LeafVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(e.At.UTC().UnixMicro()))
	for _, f := range fields {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b, nil
}

// LeafHash is the RFC 6962 section 2.1 leaf hash of e: SHA-256(0x00 || MarshalLeaf(e)).
func LeafHash(e Event) ([]byte, error) {
	leaf, err := MarshalLeaf(e)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(leaf)
	return h.Sum(nil), nil
}

// CanonicalDetail returns the canonical form of a detail JSON value: decoded (numbers kept
// as written) and encoded again by encoding/json, so object keys are sorted, insignificant
// white space is gone and strings are escaped one way (with <, > and & as \u003c, \u003e,
// \u0026). Re-indenting or re-escaping a detail in transit (as JSON encoders do) does not
// change it. Empty or JSON null gives empty.
func CanonicalDetail(d json.RawMessage) ([]byte, error) {
	if len(bytes.TrimSpace(d)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(d))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("detail is not JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("detail has data after the JSON value")
	}
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}

// StoredTime is t as the store keeps it (microseconds, UTC), so an event built in memory and
// the same event read back encode to the same leaf.
func StoredTime(t time.Time) time.Time { return time.UnixMicro(t.UTC().UnixMicro()).UTC() }
