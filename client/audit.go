package client

import (
	"context"
	"strconv"
	"strings"

	"github.com/hallmark-id/hallmark/api"
)

// AuditKey returns the checkpoint verifier key (a note verifier key; public).
func (c *Client) AuditKey(ctx context.Context) (string, error) {
	var b []byte
	err := c.do(ctx, "GET", "/v1/audit/key", nil, &b)
	return strings.TrimSpace(string(b)), err
}

// AuditCheckpoint returns the latest signed checkpoint, or with fresh one of the current
// size (signed now unless one of that size is stored).
func (c *Client) AuditCheckpoint(ctx context.Context, fresh bool) ([]byte, error) {
	var b []byte
	method := "GET"
	if fresh {
		method = "POST"
	}
	return b, c.do(ctx, method, "/v1/audit/checkpoint", nil, &b)
}

// AuditInclusionProof proves leaf index (seq - 1) is in the tree of size (0: current).
func (c *Client) AuditInclusionProof(ctx context.Context, index, size uint64) (api.InclusionProof, error) {
	var p api.InclusionProof
	return p, c.do(ctx, "GET", withQuery("/v1/audit/proofs/inclusion", "index", strconv.FormatUint(index, 10), "size", strconv.FormatUint(size, 10)), nil, &p)
}

// AuditConsistencyProof proves the tree of size from is a prefix of the tree of size to
// (0: current).
func (c *Client) AuditConsistencyProof(ctx context.Context, from, to uint64) (api.ConsistencyProof, error) {
	var p api.ConsistencyProof
	return p, c.do(ctx, "GET", withQuery("/v1/audit/proofs/consistency", "from", strconv.FormatUint(from, 10), "to", strconv.FormatUint(to, 10)), nil, &p)
}

// AuditLeafHashes returns the recorded hashes of leaves [start, start+n) (nil for a leaf
// with none), cut at the tree size and at the server's page limit.
func (c *Client) AuditLeafHashes(ctx context.Context, start uint64, n int) ([][]byte, error) {
	var p api.LeafHashes
	err := c.do(ctx, "GET", withQuery("/v1/audit/leaves", "start", strconv.FormatUint(start, 10), "count", strconv.Itoa(n)), nil, &p)
	return p.Hashes, err
}

// AuditReconcile recomputes state from the audit log on the server and lists the rows that
// disagree (auditors only).
func (c *Client) AuditReconcile(ctx context.Context) (api.Reconciliation, error) {
	var r api.Reconciliation
	return r, c.do(ctx, "POST", "/v1/audit/reconcile", nil, &r)
}
