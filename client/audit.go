package client

import (
	"context"
	"strconv"
	"strings"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/auditlog"
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
func (c *Client) AuditInclusionProof(ctx context.Context, index, size uint64) (auditlog.InclusionProof, error) {
	var p auditlog.InclusionProof
	return p, c.do(ctx, "GET", withQuery("/v1/audit/proofs/inclusion", "index", strconv.FormatUint(index, 10), "size", strconv.FormatUint(size, 10)), nil, &p)
}

// AuditConsistencyProof proves the tree of size from is a prefix of the tree of size to
// (0: current).
func (c *Client) AuditConsistencyProof(ctx context.Context, from, to uint64) (auditlog.ConsistencyProof, error) {
	var p auditlog.ConsistencyProof
	return p, c.do(ctx, "GET", withQuery("/v1/audit/proofs/consistency", "from", strconv.FormatUint(from, 10), "to", strconv.FormatUint(to, 10)), nil, &p)
}

// AuditLeafHashes returns the recorded hashes of leaves [start, start+n) (nil for a leaf
// with none), cut at the tree size and at the server's page limit.
func (c *Client) AuditLeafHashes(ctx context.Context, start uint64, n int) ([][]byte, error) {
	var p struct {
		Hashes [][]byte `json:"hashes"`
	}
	err := c.do(ctx, "GET", withQuery("/v1/audit/leaves", "start", strconv.FormatUint(start, 10), "count", strconv.Itoa(n)), nil, &p)
	return p.Hashes, err
}

// AuditSource is the client as an auditlog.Source, for auditlog.Export.
func (c *Client) AuditSource() auditlog.Source { return auditSource{c} }

type auditSource struct{ c *Client }

func (s auditSource) Checkpoint(ctx context.Context, fresh bool) ([]byte, error) {
	return s.c.AuditCheckpoint(ctx, fresh)
}

func (s auditSource) Events(ctx context.Context, after int64) ([]audit.Event, error) {
	return s.c.AuditEvents(ctx, after)
}

// LeafHashes pages through the server's limit until it has n hashes or the tree ends.
func (s auditSource) LeafHashes(ctx context.Context, start uint64, n int) ([][]byte, error) {
	var out [][]byte
	for len(out) < n {
		got, err := s.c.AuditLeafHashes(ctx, start+uint64(len(out)), n-len(out))
		if err != nil {
			return nil, err
		}
		if len(got) == 0 {
			break
		}
		out = append(out, got...)
	}
	return out, nil
}
