// Package strictjson closes the gaps encoding/json leaves in documents that are signed or
// compiled: it matches field names case-insensitively ("Expr" for "expr", even "ſerial" for
// "serial") and lets the last of two duplicate fields win, while other readers of the same
// bytes may take the first. A document two readers can see differently must be refused.
// No well-kept module does this for encoding/json, hence this package.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CheckKeys refuses any object key of data that is not in known, spelled exactly, and any key
// given twice in one object, naming the first such key in document order. data should be
// valid JSON; for data that is not, CheckKeys returns what walkTokens finds first, which for
// a syntax error is encoding/json's own error.
//
// Valid JSON (json.Valid, which allocates nothing) is read by scan, a byte loop over its
// structure; the rest by walkTokens, encoding/json's token reader, which is how CheckKeys
// read everything before and boxes every token in an interface: 62 µs and 452 allocations
// for a 1 KiB build-record statement against 8 µs and 38 (BenchmarkCheckKeys), more than
// decoding it, on every onboarding and every check of a record not verified before
// (FuzzCheckKeys holds the two to the same answers).
func CheckKeys(data []byte, known map[string]bool) error {
	if !json.Valid(data) {
		return walkTokens(data, known)
	}
	return scan(data, known)
}

// scan is CheckKeys for data that json.Valid accepts, which is all it relies on: a string
// starts and ends with an unescaped quote, and everything outside strings is structure,
// white space, numbers and literals.
func scan(data []byte, known map[string]bool) error {
	type frame struct {
		object  bool
		keyNext bool // in an object, the next string is a key
		seen    int  // where this frame's keys start in keys (an array has none of its own)
	}
	var stack []frame
	var keys []string // the keys of the open objects, innermost last
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '{':
			stack = append(stack, frame{object: true, keyNext: true, seen: len(keys)})
		case '[':
			stack = append(stack, frame{seen: len(keys)})
		case '}', ']':
			keys = keys[:stack[len(stack)-1].seen]
			stack = stack[:len(stack)-1]
		case ',':
			if top := len(stack) - 1; stack[top].object {
				stack[top].keyNext = true
			}
		case '"':
			end := stringEnd(data, i)
			if top := len(stack) - 1; top >= 0 && stack[top].keyNext {
				key, err := keyText(data[i : end+1])
				if err != nil {
					return err
				}
				if !known[key] {
					return fmt.Errorf("unknown field %q", key)
				}
				if slices.Contains(keys[stack[top].seen:], key) {
					return fmt.Errorf("duplicate field %q", key)
				}
				keys = append(keys, key)
				stack[top].keyNext = false
			}
			i = end
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			end := i + 1
			for end < len(data) && strings.IndexByte("0123456789.eE+-", data[end]) >= 0 {
				end++
			}
			// The token walk reads numbers as float64 and fails on one beyond its range
			// (1e400): where a number does, it gives the answer, which is that error unless
			// a key before the number is refused first.
			if _, err := strconv.ParseFloat(string(data[i:end]), 64); err != nil {
				return walkTokens(data, known)
			}
			i = end - 1
		}
	}
	return nil
}

// stringEnd is the index of the quote that closes the string whose opening quote is at
// data[start].
func stringEnd(data []byte, start int) int {
	for i := start + 1; ; i++ {
		switch data[i] {
		case '\\':
			i++ // the escaped character, a quote or backslash among them
		case '"':
			return i
		}
	}
}

// keyText is the key the quoted JSON string q decodes to, as encoding/json decodes it:
// escapes resolved and invalid UTF-8 replaced by U+FFFD. A plain ASCII key is its own text.
func keyText(q []byte) (string, error) {
	for _, c := range q[1 : len(q)-1] {
		if c == '\\' || c >= utf8.RuneSelf {
			var s string
			err := json.Unmarshal(q, &s)
			return s, err
		}
	}
	return string(q[1 : len(q)-1]), nil
}

// walkTokens walks the JSON tokens of data with encoding/json's decoder and refuses what
// CheckKeys refuses; a syntax error comes back as the decoder gives it.
func walkTokens(data []byte, known map[string]bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object  bool
		seen    map[string]bool
		keyNext bool // in an object, the next token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if len(stack) > 0 || dec.InputOffset() == 0 {
				return io.ErrUnexpectedEOF
			}
			return nil
		}
		if err != nil {
			return err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.keyNext {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			key, _ := tok.(string)
			if !known[key] {
				return fmt.Errorf("unknown field %q", key)
			}
			if top.seen[key] {
				return fmt.Errorf("duplicate field %q", key)
			}
			top.seen[key] = true
			top.keyNext = false
			continue
		}
		if top != nil && top.object {
			top.keyNext = true // this token is a value; a key follows
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, seen: map[string]bool{}, keyNext: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}
