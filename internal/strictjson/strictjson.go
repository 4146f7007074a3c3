// Package strictjson closes the gaps encoding/json leaves in documents that are signed or
// compiled: it matches field names case-insensitively ("Expr" for "expr", even "ſerial" for
// "serial") and lets the last of two duplicate fields win, while other readers of the same
// bytes may take the first. A document two readers can see differently must be refused.
// No well-kept module does this for encoding/json, hence these few lines.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// CheckKeys walks the JSON tokens of data and refuses any object key that is not in known,
// spelled exactly, and any key given twice in one object. data should be valid JSON; a
// syntax error is returned as it is.
func CheckKeys(data []byte, known map[string]bool) error {
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
