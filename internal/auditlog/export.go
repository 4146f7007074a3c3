package auditlog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/store"
)

// ExportFormat names the export file format (JSON lines): one ExportHeader line, then one
// ExportEntry line per event, in leaf order.
const ExportFormat = "hallmark-audit-export/1"

// ExportHeader is the first line of an export.
type ExportHeader struct {
	Format string `json:"format"`
	// Checkpoint is the signed checkpoint note the export is checked against; the export
	// holds the events of leaves [0, its size).
	Checkpoint string `json:"checkpoint"`
}

// ExportEntry is one event with the leaf hash the server recorded for it.
type ExportEntry struct {
	audit.Event
	LeafHash []byte `json:"leaf_hash,omitempty"`
}

// Source is what Export reads; the API client implements it, and so does Service.Source.
type Source interface {
	// Checkpoint returns a signed checkpoint (a fresh one when fresh is set).
	Checkpoint(ctx context.Context, fresh bool) ([]byte, error)
	// Events returns the next events with seq above after, in seq order (empty at the end).
	Events(ctx context.Context, after int64) ([]audit.Event, error)
	// LeafHashes returns the recorded hashes of leaves [start, start+n), nil for a leaf
	// with none.
	LeafHashes(ctx context.Context, start uint64, n int) ([][]byte, error)
}

// Export writes the events covered by a checkpoint from src to w, and returns the number of
// events written. It does not judge what it reads: Verify does.
func Export(ctx context.Context, src Source, w io.Writer, fresh bool) (int, error) {
	signed, err := src.Checkpoint(ctx, fresh)
	if err != nil {
		return 0, fmt.Errorf("auditlog: export: fetching the checkpoint: %w", err)
	}
	cp, err := ParseCheckpoint(noteText(signed))
	if err != nil {
		return 0, fmt.Errorf("auditlog: export: %w", err)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(ExportHeader{Format: ExportFormat, Checkpoint: string(signed)}); err != nil {
		return 0, err
	}
	n := 0
	var after int64
	for {
		evs, err := src.Events(ctx, after)
		if err != nil {
			return n, fmt.Errorf("auditlog: export: events after %d: %w", after, err)
		}
		for len(evs) > 0 && uint64(evs[len(evs)-1].Seq) > cp.Size {
			evs = evs[:len(evs)-1]
		}
		if len(evs) == 0 {
			break
		}
		first := uint64(evs[0].Seq - 1)
		span := int(uint64(evs[len(evs)-1].Seq) - first)
		leaves, err := src.LeafHashes(ctx, first, span)
		if err != nil {
			return n, fmt.Errorf("auditlog: export: leaf hashes from %d: %w", first, err)
		}
		for _, e := range evs {
			x := ExportEntry{Event: e}
			if i := uint64(e.Seq-1) - first; e.Seq > 0 && i < uint64(len(leaves)) {
				x.LeafHash = leaves[i]
			}
			if err := enc.Encode(x); err != nil {
				return n, err
			}
			n++
		}
		after = evs[len(evs)-1].Seq
	}
	return n, bw.Flush()
}

// Source returns the Service's store as an export Source (for tests and local tools; the CLI
// exports through the API).
func (s *Service) Source() Source { return serviceSource{s} }

type serviceSource struct{ s *Service }

func (x serviceSource) Checkpoint(ctx context.Context, fresh bool) ([]byte, error) {
	if fresh {
		return x.s.Checkpoint(ctx)
	}
	return x.s.Latest(ctx)
}

func (x serviceSource) Events(ctx context.Context, after int64) ([]audit.Event, error) {
	var evs []audit.Event
	err := x.s.st.View(ctx, func(tx store.Tx) error {
		var err error
		evs, err = tx.Audit().List(after, 1000)
		return err
	})
	return evs, err
}

func (x serviceSource) LeafHashes(ctx context.Context, start uint64, n int) ([][]byte, error) {
	return x.s.LeafHashes(ctx, start, n)
}

// MaxLeafHashes bounds one LeafHashes call.
const MaxLeafHashes = 10000

// LeafHashes returns the recorded hashes of leaves [start, start+n) (n at most
// MaxLeafHashes), nil for a leaf that has none, cut at the tree size.
func (s *Service) LeafHashes(ctx context.Context, start uint64, n int) ([][]byte, error) {
	n = min(max(n, 0), MaxLeafHashes)
	var out [][]byte
	err := s.st.View(ctx, func(tx store.Tx) error {
		head, err := tx.AuditTree().Head()
		if err != nil {
			return err
		}
		// Set whole on every path: a read may run again.
		out = [][]byte{}
		if start >= head.Size {
			return nil
		}
		k := int(min(uint64(n), head.Size-start))
		out = make([][]byte, k)
		// Read past holes: LeafHashes stops at one, so ask again after it.
		for i := 0; i < k; {
			got, err := tx.AuditTree().LeafHashes(start+uint64(i), k-i)
			if err != nil {
				return err
			}
			copy(out[i:], got)
			i += len(got) + 1
		}
		return nil
	})
	return out, err
}

// readLines splits an export into lines without a length limit.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadBytes('\n')
	if err == io.EOF && len(line) > 0 {
		err = nil
	}
	return bytes.TrimSpace(line), err
}
