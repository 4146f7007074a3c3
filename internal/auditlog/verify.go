package auditlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"

	"github.com/hallmark-id/hallmark/internal/audit"
)

// BadEntryError names the first entry of an export that fails verification.
type BadEntryError struct {
	// Index is the leaf index (0-based position in the log) of the bad entry; Seq is the
	// seq the entry at that position carries (0 when the entry is missing).
	Index  uint64
	Seq    int64
	Reason string
}

func (e *BadEntryError) Error() string {
	return fmt.Sprintf("audit export: first bad entry at index %d (seq %d): %s", e.Index, e.Seq, e.Reason)
}

// VerifyResult describes an export that verified.
type VerifyResult struct {
	Origin string
	Size   uint64
	Root   []byte
}

// Verify checks an export offline against the checkpoint verifier key vkey: the header's
// checkpoint must carry a valid signature by that key, and the events, each re-encoded with
// audit.MarshalLeaf, must have seqs 1..size in order and hash to the checkpoint's root.
//
// When they do not, Verify returns a *BadEntryError naming the first bad entry. The
// checkpoint alone cannot say which leaf differs, so Verify uses the leaf hashes the export
// recorded: once those are shown to produce the signed root, they are the leaves that were
// signed, and the first event that does not hash to its recorded leaf is the first altered,
// removed or moved one. Other failures (bad signature, malformed file) are plain errors.
func Verify(r io.Reader, vkey string) (VerifyResult, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return VerifyResult{}, fmt.Errorf("audit export: verifier key: %w", err)
	}
	return VerifyKeys(r, []note.Verifier{v})
}

// VerifyKeys is Verify with a key history (ParseVerifierKeys): the checkpoint may be signed
// by any of the keys, as an export made after a checkpoint key rotation is.
func VerifyKeys(r io.Reader, vs []note.Verifier) (VerifyResult, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	line, err := readLine(br)
	if err != nil {
		return VerifyResult{}, fmt.Errorf("audit export: reading the header: %w", err)
	}
	var h ExportHeader
	if err := json.Unmarshal(line, &h); err != nil || h.Format != ExportFormat {
		return VerifyResult{}, fmt.Errorf("audit export: the first line is not a %s header", ExportFormat)
	}
	cp, err := OpenCheckpointKeys([]byte(h.Checkpoint), vs)
	if err != nil {
		return VerifyResult{}, fmt.Errorf("audit export: %w", err)
	}

	computed := rangeFactory.NewEmptyRange(0) // from the events
	recorded := rangeFactory.NewEmptyRange(0) // from the recorded leaf hashes
	recordedOK := true                        // every entry carried a recorded hash
	var firstSeq, firstLeaf *BadEntryError    // first seq problem, first event/leaf mismatch
	var index uint64
	for ; ; index++ {
		line, err := readLine(br)
		if err == io.EOF {
			break
		} else if err != nil {
			return VerifyResult{}, fmt.Errorf("audit export: reading entry %d: %w", index, err)
		}
		if len(line) == 0 {
			index--
			continue
		}
		var x ExportEntry
		if err := json.Unmarshal(line, &x); err != nil {
			return VerifyResult{}, &BadEntryError{Index: index, Reason: "not a JSON audit event: " + err.Error()}
		}
		if firstSeq == nil && uint64(x.Seq) != index+1 {
			reason := fmt.Sprintf("expected seq %d here; ", index+1)
			switch {
			case uint64(x.Seq) == index+2:
				reason += fmt.Sprintf("event %d is missing", index+1)
			case uint64(x.Seq) > index+2:
				reason += fmt.Sprintf("events %d to %d are missing", index+1, x.Seq-1)
			default:
				reason += "the event is out of order or repeated"
			}
			firstSeq = &BadEntryError{Index: index, Seq: x.Seq, Reason: reason}
		}
		leaf, err := audit.LeafHash(x.Event)
		if err != nil {
			return VerifyResult{}, &BadEntryError{Index: index, Seq: x.Seq, Reason: err.Error()}
		}
		_ = computed.Append(leaf, nil)
		if len(x.LeafHash) == 0 {
			recordedOK = false
		} else {
			_ = recorded.Append(x.LeafHash, nil)
			if firstLeaf == nil && !bytes.Equal(leaf, x.LeafHash) {
				firstLeaf = &BadEntryError{Index: index, Seq: x.Seq, Reason: "the event does not hash to the leaf that was signed: it was altered, or another event was put in its place"}
			}
		}
	}

	res := VerifyResult{Origin: cp.Origin, Size: cp.Size, Root: cp.Root}
	if index == cp.Size && firstSeq == nil && bytes.Equal(rootOfRange(computed), cp.Root) {
		return res, nil
	}
	// Something is wrong; name the first bad entry.
	recordedSigned := recordedOK && index == cp.Size && bytes.Equal(rootOfRange(recorded), cp.Root)
	first := firstSeq
	if firstLeaf != nil && (first == nil || firstLeaf.Index < first.Index) {
		first = firstLeaf
	}
	if first != nil {
		if !recordedSigned && first == firstLeaf {
			first.Reason += " (the recorded leaf hashes do not match the checkpoint either, so a later entry may have been changed too)"
		}
		return res, first
	}
	if index < cp.Size {
		return res, &BadEntryError{Index: index, Reason: fmt.Sprintf("the export ends after %d events but the checkpoint covers %d: the events from here on are missing", index, cp.Size)}
	}
	if index > cp.Size {
		return res, &BadEntryError{Index: cp.Size, Seq: int64(cp.Size) + 1, Reason: fmt.Sprintf("the export has %d events but the checkpoint covers %d", index, cp.Size)}
	}
	return res, fmt.Errorf("audit export: the events do not produce the checkpoint's root, and their recorded leaf hashes were rewritten to match them, so no single entry can be named")
}

// rootOfRange is the root of a compact range that starts at leaf 0.
func rootOfRange(r *compact.Range) []byte {
	if r.End() == 0 {
		return hasher.EmptyRoot()
	}
	h, _ := r.GetRootHash(nil)
	return h
}
