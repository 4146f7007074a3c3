package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// Format says where a Set came from.
type Format string

// The formats.
const (
	FormatDSSE Format = "dsse" // signed by a registered key
	FormatCSV  Format = "csv"  // unsigned: trust it only with an approval
)

// Entry is one listed device. At least one of Serial and SPKI is set.
type Entry struct {
	// Serial is the device serial as the maker writes it (for an IDevID, the
	// hardwareModuleName hwSerialNum or the subject serialNumber, as text); "" if not listed.
	Serial string
	// SPKI is the SHA-256 of the device key's DER SubjectPublicKeyInfo, valid if HasSPKI.
	SPKI    [32]byte
	HasSPKI bool
}

// Set is a parsed manifest: the listed devices with lookups by serial and by key.
type Set struct {
	Format Format
	// Digest is the SHA-256 of the input bytes (the envelope or the CSV file): what an
	// approval of an upload names.
	Digest [32]byte
	// Maker and IssuedAt are the signed document's; empty and zero for a CSV.
	Maker    string
	IssuedAt time.Time
	// KeySHA256 is the SHA-256 of the DER SubjectPublicKeyInfo of the registered key whose
	// signature verified; zero for a CSV.
	KeySHA256 [32]byte

	entries  []Entry
	bySerial map[string]int
	bySPKI   map[[32]byte]int
}

// Len is the number of listed devices.
func (s *Set) Len() int { return len(s.entries) }

// Entries returns a copy of the listed devices in the order of the input.
func (s *Set) Entries() []Entry { return append([]Entry(nil), s.entries...) }

// BySerial returns the entry listing serial.
func (s *Set) BySerial(serial string) (Entry, bool) {
	i, ok := s.bySerial[serial]
	if !ok || serial == "" {
		return Entry{}, false
	}
	return s.entries[i], true
}

// BySPKI returns the entry listing the key whose SubjectPublicKeyInfo has SHA-256 sum.
func (s *Set) BySPKI(sum [32]byte) (Entry, bool) {
	i, ok := s.bySPKI[sum]
	if !ok {
		return Entry{}, false
	}
	return s.entries[i], true
}

// The rules Check applies; a NotListed names the one that failed.
const (
	// RuleNotListed: neither the device's key nor its serial is in the manifest.
	RuleNotListed = "manifest.device_not_listed"
	// RuleKeyMismatch: the device's serial is listed with a different key.
	RuleKeyMismatch = "manifest.key_mismatch"
	// RuleSerialMismatch: the device's key is listed with a different serial.
	RuleSerialMismatch = "manifest.serial_mismatch"
)

// NotListed is the refusal of a device by a manifest. It is failure.Denied.
type NotListed struct {
	Rule   string   // one of the Rule constants
	Serial string   // the device's serial as checked
	SPKI   [32]byte // the device's key digest as checked
	Msg    string
}

func (e *NotListed) Error() string { return e.Msg }

// FailureKind classifies the refusal.
func (e *NotListed) FailureKind() failure.Kind { return failure.Denied }

// FailureRule names the manifest check that failed (one of the Rule constants).
func (e *NotListed) FailureRule() string { return e.Rule }

// Check decides whether the device with this serial ("" if it has none) and key digest (the
// SHA-256 of its certificate's RawSubjectPublicKeyInfo) is listed. The device is listed when
// an entry names its key and, if that entry also names a serial, the same serial; or when no
// entry names its key but an entry names its serial and no key. Any other case is a
// *NotListed naming the rule: an entry that names the device's serial with another key is a
// key mismatch (the listed device had a different key), never a pass.
func (s *Set) Check(serial string, spki [32]byte) error {
	if e, ok := s.BySPKI(spki); ok {
		if e.Serial != "" && e.Serial != serial {
			return &NotListed{Rule: RuleSerialMismatch, Serial: serial, SPKI: spki,
				Msg: fmt.Sprintf("%s: the device key (SPKI sha256 %x) is listed for serial %q, not %q", RuleSerialMismatch, spki, e.Serial, serial)}
		}
		return nil
	}
	if e, ok := s.BySerial(serial); ok {
		if e.HasSPKI {
			return &NotListed{Rule: RuleKeyMismatch, Serial: serial, SPKI: spki,
				Msg: fmt.Sprintf("%s: serial %q is listed with key sha256 %x, but the device has key sha256 %x", RuleKeyMismatch, serial, e.SPKI, spki)}
		}
		return nil
	}
	return &NotListed{Rule: RuleNotListed, Serial: serial, SPKI: spki,
		Msg: fmt.Sprintf("%s: neither the device key (SPKI sha256 %x) nor serial %q is in the maker's manifest", RuleNotListed, spki, serial)}
}

// builder accumulates entries and refuses duplicates.
type builder struct {
	set   *Set
	limit int
	where []string // where each entry came from, for duplicate messages
}

func newBuilder(f Format, input []byte, limit, capHint int) *builder {
	capHint = min(capHint, limit)
	return &builder{
		set: &Set{
			Format:   f,
			Digest:   sha256.Sum256(input),
			bySerial: make(map[string]int, capHint),
			bySPKI:   make(map[[32]byte]int, capHint),
		},
		limit: limit,
	}
}

// add checks and adds one entry; at names it in messages ("line 7", "devices[3]").
func (b *builder) add(at, serial, spkiHex string) error {
	if len(b.set.entries) >= b.limit {
		return failure.New(failure.TooLarge, "manifest: more than %d devices", b.limit)
	}
	if serial == "" && spkiHex == "" {
		return failure.New(failure.Invalid, "manifest: %s: neither a serial nor an spki_sha256", at)
	}
	e := Entry{Serial: serial}
	if serial != "" {
		if err := checkSerial(serial); err != nil {
			return failure.New(failure.Invalid, "manifest: %s: serial: %v", at, err)
		}
		if j, dup := b.set.bySerial[serial]; dup {
			return failure.New(failure.Invalid, "manifest: %s: serial %q is listed again (first at %s)", at, serial, b.where[j])
		}
	}
	if spkiHex != "" {
		sum, err := parseSPKIHex(spkiHex)
		if err != nil {
			return failure.New(failure.Invalid, "manifest: %s: spki_sha256: %v", at, err)
		}
		if j, dup := b.set.bySPKI[sum]; dup {
			return failure.New(failure.Invalid, "manifest: %s: spki_sha256 %x is listed again (first at %s)", at, sum, b.where[j])
		}
		e.SPKI, e.HasSPKI = sum, true
	}
	i := len(b.set.entries)
	b.set.entries = append(b.set.entries, e)
	b.where = append(b.where, at)
	if serial != "" {
		b.set.bySerial[serial] = i
	}
	if e.HasSPKI {
		b.set.bySPKI[e.SPKI] = i
	}
	return nil
}

func (b *builder) done() (*Set, error) {
	if len(b.set.entries) == 0 {
		return nil, failure.New(failure.Invalid, "manifest: lists no devices")
	}
	return b.set, nil
}

// checkSerial accepts 1 to MaxSerialLen bytes of UTF-8 without control or space characters
// at either end, so that a serial reads the same in a log line, a table and a CSV cell.
func checkSerial(s string) error {
	if len(s) > MaxSerialLen {
		return fmt.Errorf("%d bytes; at most %d are allowed", len(s), MaxSerialLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("not UTF-8")
	}
	for i, r := range s {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("control character at byte %d", i)
		}
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return fmt.Errorf("%q starts or ends with a space", s)
	}
	return nil
}

// parseSPKIHex reads 64 hex digits (either case: spreadsheets and tools differ).
func parseSPKIHex(s string) ([32]byte, error) {
	var sum [32]byte
	if len(s) != 64 {
		return sum, fmt.Errorf("%d characters; want 64 hex digits (the SHA-256 of the DER SubjectPublicKeyInfo)", len(s))
	}
	if _, err := hex.Decode(sum[:], []byte(s)); err != nil {
		return sum, fmt.Errorf("not hex")
	}
	return sum, nil
}
