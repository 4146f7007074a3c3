package manifest

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// CSV column names.
const (
	ColumnSerial = "serial"
	ColumnSPKI   = "spki_sha256"
)

// ParseCSV reads an unsigned manifest: RFC 4180 CSV whose first record is a header naming
// "serial", "spki_sha256" or both (in either order, exactly spelled, each once, no other
// column), followed by one record per device with at least one of its cells set. A UTF-8 byte
// order mark before the header is skipped; blank lines are skipped; comments are not allowed.
//
// A CSV proves nothing about who wrote it. A caller must require an operator's approval of the
// upload (naming Set.Digest) before it lets the Set admit devices, and must never treat a CSV
// Set as the maker's signed word.
func ParseCSV(data []byte, l Limits) (*Set, error) {
	l = l.withDefaults()
	if len(data) > l.MaxBytes {
		return nil, failure.New(failure.TooLarge, "manifest CSV: %d bytes is over the limit of %d", len(data), l.MaxBytes)
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	r.ReuseRecord = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, failure.New(failure.Invalid, "manifest CSV: empty; the first line must be a header naming %q and/or %q", ColumnSerial, ColumnSPKI)
	}
	if err != nil {
		return nil, csvError(err)
	}
	serialCol, spkiCol := -1, -1
	for i, name := range header {
		switch name {
		case ColumnSerial:
			if serialCol >= 0 {
				return nil, failure.New(failure.Invalid, "manifest CSV: line 1: column %q appears twice", name)
			}
			serialCol = i
		case ColumnSPKI:
			if spkiCol >= 0 {
				return nil, failure.New(failure.Invalid, "manifest CSV: line 1: column %q appears twice", name)
			}
			spkiCol = i
		default:
			return nil, failure.New(failure.Invalid, "manifest CSV: line 1: unknown column %q; the header names %q and/or %q", truncate(name), ColumnSerial, ColumnSPKI)
		}
	}
	// A device costs at least 2 bytes (a 1-byte serial and a newline).
	b := newBuilder(FormatCSV, data, l.MaxEntries, len(data)/66)
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(err)
		}
		line, _ := r.FieldPos(0)
		var serial, spki string
		if serialCol >= 0 {
			serial = rec[serialCol]
		}
		if spkiCol >= 0 {
			spki = rec[spkiCol]
		}
		if err := b.add(fmt.Sprintf("line %d", line), serial, spki); err != nil {
			return nil, err
		}
	}
	return b.done()
}

// csvError turns an encoding/csv error (which names the line and column) into an Invalid.
func csvError(err error) error {
	return failure.Wrap(failure.Invalid, err, "manifest CSV: malformed")
}

// truncate keeps a hostile header cell from flooding a message.
func truncate(s string) string {
	if len(s) > 64 {
		return strings.ToValidUTF8(s[:64], "") + "..."
	}
	return s
}
