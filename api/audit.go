package api

import (
	"encoding/json"
	"time"
)

// AuditEvent is one record of the audit log (GET /v1/audit/events). Leaf index i of the
// log's Merkle tree is the event with Seq i+1.
type AuditEvent struct {
	Seq         int64     `json:"seq"`
	At          time.Time `json:"at"`
	PartyID     string    `json:"party_id"`
	PrincipalID string    `json:"principal_id"`
	Action      string    `json:"action"` // dotted, e.g. "factory.issue", "custody.accept"
	Stage       string    `json:"stage,omitempty"`
	Scope       string    `json:"scope,omitempty"`   // e.g. "lot:lot_abc"
	Subject     string    `json:"subject,omitempty"` // e.g. "device:dev_abc"
	// Detail is the action's own record, a JSON object.
	Detail json.RawMessage `json:"detail,omitempty"`
}

// InclusionProof is an RFC 6962 section 2.1.1 audit path for leaf Index in the tree of Size
// leaves (GET /v1/audit/proofs/inclusion). Hashes are base64 in JSON.
type InclusionProof struct {
	Index    uint64   `json:"index"`
	Size     uint64   `json:"size"`
	LeafHash []byte   `json:"leaf_hash"`
	Root     []byte   `json:"root"`
	Hashes   [][]byte `json:"hashes"`
}

// ConsistencyProof is an RFC 6962 section 2.1.2 proof that the tree of size From is a prefix
// of the tree of size To (GET /v1/audit/proofs/consistency).
type ConsistencyProof struct {
	From     uint64   `json:"from"`
	To       uint64   `json:"to"`
	FromRoot []byte   `json:"from_root"`
	ToRoot   []byte   `json:"to_root"`
	Hashes   [][]byte `json:"hashes"`
}

// LeafHashes is a page of the recorded leaf hashes from Start (GET /v1/audit/leaves); a null
// entry is a leaf with none recorded.
type LeafHashes struct {
	Start  uint64   `json:"start"`
	Hashes [][]byte `json:"hashes"`
}

// Reconciliation is the result of POST /v1/audit/reconcile: every certificate's state
// recomputed from the audit events and compared with the rows, each device's operational
// certificate checked against it, and each maker's device's origin (its maker, the factory
// certificate it holds, whether the maker revoked it) compared with the events that wrote it.
// Disagreements lists each row that says something the log does not; the OCSP responder
// answers tryLater for the certificates among them.
type Reconciliation struct {
	At            time.Time      `json:"at"`
	AfterSeq      int64          `json:"after_seq"` // 0: every event was read
	Events        int            `json:"events"`    // events read, up to LastSeq
	LastSeq       int64          `json:"last_seq"`
	Certificates  int            `json:"certificates"` // certificate rows compared
	Devices       int            `json:"devices"`      // device rows compared
	Origins       int            `json:"origins"`      // origin rows of makers' devices compared
	Uncovered     int            `json:"uncovered"`    // certificate rows of CA profiles, not covered
	Disagreements []Disagreement `json:"disagreements"`
	Truncated     bool           `json:"truncated,omitempty"` // more disagree than are listed (1000)
}

// Disagreement is one row that disagrees with the audit log: which row, what it says, what
// the log says, and the last event that named it.
type Disagreement struct {
	Kind string `json:"kind"` // certificate, device or origin
	ID   string `json:"id"`   // serial (hex), or device ID (device, origin)
	Row  string `json:"row"`
	Log  string `json:"log"`
	Seq  int64  `json:"seq,omitempty"`
}
