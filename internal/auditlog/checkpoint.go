// Package auditlog makes the audit log tamper-evident: every audit event is a leaf of an
// append-only RFC 6962 Merkle tree (built by the store in the event's own transaction), and
// this package signs checkpoints of that tree in the C2SP signed-note format
// (https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note), serves inclusion and
// consistency proofs, writes exports and verifies them offline.
//
// Invariants:
//   - A checkpoint is signed only over a root computed from the store's tree head of that
//     size, and stored before it is returned.
//   - The pure parts (checkpoint text, note signer, export verification) do no I/O beyond the
//     io.Reader and io.Writer they are given; the Service reaches the database only through
//     store.Store.
package auditlog

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// Checkpoint is the body of a C2SP tlog checkpoint: the log's origin, the tree size and the
// RFC 6962 root hash of the first Size leaves.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
}

// Text is the checkpoint body: "<origin>\n<size>\n<base64 root>\n".
func (c Checkpoint) Text() string {
	return c.Origin + "\n" + strconv.FormatUint(c.Size, 10) + "\n" + base64.StdEncoding.EncodeToString(c.Root) + "\n"
}

// ParseCheckpoint parses a checkpoint body (the text of a signed note). Extension lines after
// the root are allowed and ignored, as the C2SP format says.
func ParseCheckpoint(text string) (Checkpoint, error) {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) < 3 || !strings.HasSuffix(text, "\n") {
		return Checkpoint{}, failure.New(failure.Invalid, "auditlog: a checkpoint has an origin, a size and a root hash line")
	}
	origin := strings.TrimSuffix(lines[0], "\n")
	size, err := strconv.ParseUint(strings.TrimSuffix(lines[1], "\n"), 10, 64)
	if origin == "" || err != nil || (len(lines[1]) > 2 && lines[1][0] == '0') {
		return Checkpoint{}, failure.New(failure.Invalid, "auditlog: bad checkpoint origin or size line")
	}
	root, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(lines[2], "\n"))
	if err != nil || len(root) != 32 {
		return Checkpoint{}, failure.New(failure.Invalid, "auditlog: the checkpoint root is not a base64 SHA-256 hash")
	}
	return Checkpoint{Origin: origin, Size: size, Root: root}, nil
}

// OpenCheckpoint verifies a signed checkpoint note with v and parses it. It fails unless v's
// signature is on the note and the origin line equals v's name.
func OpenCheckpoint(signed []byte, v note.Verifier) (Checkpoint, error) {
	return OpenCheckpointKeys(signed, []note.Verifier{v})
}

// OpenCheckpointKeys is OpenCheckpoint with a key history: the note must carry a valid
// signature by one of vs (a signature names its key by name and key hash), and the origin
// line must equal the name of a key whose signature verified.
func OpenCheckpointKeys(signed []byte, vs []note.Verifier) (Checkpoint, error) {
	if len(vs) == 0 {
		return Checkpoint{}, failure.New(failure.Invalid, "auditlog: no checkpoint verifier key")
	}
	n, err := note.Open(signed, note.VerifierList(vs...))
	if err != nil {
		return Checkpoint{}, failure.Wrap(failure.Invalid, err, "auditlog: checkpoint signature")
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	for _, sig := range n.Sigs {
		if sig.Name == c.Origin {
			return c, nil
		}
	}
	return Checkpoint{}, failure.New(failure.Invalid, "auditlog: checkpoint origin %q is not the name of a key that signed it (%q)", c.Origin, n.Sigs[0].Name)
}

// Sign signs c as a note with s, and with also (a retired key, after a rotation); every
// signer's name must be c's origin.
func Sign(c Checkpoint, s note.Signer, also ...note.Signer) ([]byte, error) {
	all := append([]note.Signer{s}, also...)
	for _, x := range all {
		if x.Name() != c.Origin {
			return nil, fmt.Errorf("auditlog: signer %q cannot sign a checkpoint of origin %q", x.Name(), c.Origin)
		}
	}
	return note.Sign(&note.Note{Text: c.Text()}, all...)
}

// noteText returns the body of a signed note without verifying it.
func noteText(signed []byte) string {
	i := bytes.Index(signed, []byte("\n\n"))
	if i < 0 {
		return ""
	}
	return string(signed[:i+1])
}
