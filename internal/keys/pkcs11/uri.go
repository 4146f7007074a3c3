package pkcs11

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// MaxURILen bounds a key URI.
const MaxURILen = 2048

// URI is a PKCS#11 URI (RFC 7512) as Hallmark uses it: the token and key it names, and the
// query attributes that say how to reach them. Standard attributes Hallmark does not use
// (manufacturer, model, library-*, slot-*) are accepted and dropped; unknown ones are
// refused unless vendor-specific ("x-" prefix, RFC 7512 section 2.3).
type URI struct {
	Token  string // token label
	Serial string // token serial number
	Object string // CKA_LABEL
	ID     []byte // CKA_ID
	Type   string // object class: empty, "private" or "public"

	ModulePath string // module-path: the PKCS#11 library
	ModuleName string // module-name
	PinSource  string // pin-source, e.g. "file:/etc/hallmark/hsm.pin"
	PinValue   bool   // whether pin-value was present (its value is never kept)
}

// ParseURI parses a PKCS#11 URI. Every refusal is a failure.Invalid error that does not repeat
// a pin-value.
func ParseURI(s string) (URI, error) {
	var u URI
	if len(s) > MaxURILen {
		return u, failure.New(failure.Invalid, "keys/pkcs11: key URI is %d bytes long, more than %d", len(s), MaxURILen)
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || !strings.EqualFold(scheme, "pkcs11") {
		return u, failure.New(failure.Invalid, "keys/pkcs11: %q is not a PKCS#11 URI: it must start with \"pkcs11:\"", redactPin(s))
	}
	path, query, _ := strings.Cut(rest, "?")
	seen := map[string]bool{}
	if path != "" {
		for _, attr := range strings.Split(path, ";") {
			name, val, err := splitAttr(attr, "path")
			if err != nil {
				return URI{}, err
			}
			if seen[name] {
				return URI{}, failure.New(failure.Invalid, "keys/pkcs11: attribute %q appears twice in the key URI (RFC 7512 section 2.3)", name)
			}
			seen[name] = true
			switch name {
			case "token":
				u.Token = string(val)
			case "serial":
				u.Serial = string(val)
			case "object":
				u.Object = string(val)
			case "id":
				u.ID = val
			case "type":
				u.Type = string(val)
				if u.Type != "private" && u.Type != "public" {
					return URI{}, failure.New(failure.Invalid, "keys/pkcs11: key URI type %q names no key; use \"private\" or leave it out", u.Type)
				}
			case "manufacturer", "model", "library-manufacturer", "library-description", "library-version",
				"slot-description", "slot-manufacturer", "slot-id":
			default:
				if !strings.HasPrefix(name, "x-") {
					return URI{}, failure.New(failure.Invalid, "keys/pkcs11: unknown key URI path attribute %q", name)
				}
			}
		}
	}
	if query != "" {
		for _, attr := range strings.Split(query, "&") {
			name, val, err := splitAttr(attr, "query")
			if err != nil {
				return URI{}, err
			}
			if seen["?"+name] {
				return URI{}, failure.New(failure.Invalid, "keys/pkcs11: query attribute %q appears twice in the key URI", name)
			}
			seen["?"+name] = true
			switch name {
			case "module-path":
				u.ModulePath = string(val)
			case "module-name":
				u.ModuleName = string(val)
			case "pin-source":
				u.PinSource = string(val)
			case "pin-value":
				u.PinValue = true
				clear(val)
			default:
				if !strings.HasPrefix(name, "x-") {
					return URI{}, failure.New(failure.Invalid, "keys/pkcs11: unknown key URI query attribute %q", name)
				}
			}
		}
	}
	// The bound holds for the canonical form too, which is what Hallmark records and parses
	// again: it percent-encodes every byte outside RFC 3986's unreserved set, so a URI that
	// writes '@', ':' or '=' plainly can grow up to three times when formatted.
	if n := len(u.String()); n > MaxURILen {
		return URI{}, failure.New(failure.Invalid, "keys/pkcs11: key URI is %d bytes long in canonical form (every reserved byte percent-encoded), more than %d", n, MaxURILen)
	}
	return u, nil
}

// splitAttr splits "name=value" and percent-decodes the value.
func splitAttr(attr, part string) (string, []byte, error) {
	name, val, ok := strings.Cut(attr, "=")
	if !ok || name == "" {
		return "", nil, failure.New(failure.Invalid, "keys/pkcs11: key URI %s attribute %q is not name=value", part, redactPin(attr))
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return "", nil, failure.New(failure.Invalid, "keys/pkcs11: key URI attribute name %q is not lowercase letters, digits and '-'", name)
		}
	}
	b, err := unescape(val)
	if err != nil {
		if name == "pin-value" {
			return "", nil, failure.New(failure.Invalid, "keys/pkcs11: the key URI's pin-value is not percent-encoded correctly")
		}
		return "", nil, failure.Wrap(failure.Invalid, err, fmt.Sprintf("keys/pkcs11: key URI attribute %q: %v", name, err))
	}
	return name, b, nil
}

func unescape(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) {
				return nil, fmt.Errorf("a '%%' at byte %d is not followed by two hex digits", i)
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("a '%%' at byte %d is not followed by two hex digits", i)
			}
			out = append(out, hi<<4|lo)
			i += 2
		case c < 0x21 || c > 0x7e || strings.IndexByte(`"<>\^{}|#`, c) >= 0:
			return nil, fmt.Errorf("byte %d (%q) must be percent-encoded", i, c)
		default:
			out = append(out, c)
		}
	}
	return out, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// String formats u canonically: path attributes token, serial, id, object, type in that order,
// then query attributes module-path, module-name, pin-source. A pin-value is never written.
func (u URI) String() string {
	var b strings.Builder
	b.WriteString("pkcs11:")
	sep := ""
	put := func(name string, v []byte) {
		b.WriteString(sep)
		b.WriteString(name)
		b.WriteByte('=')
		if name == "id" && !unreservedOnly(v) {
			escapeAll(&b, v) // a binary id reads best as %xx throughout
			return
		}
		escape(&b, v)
	}
	for _, a := range []struct {
		name string
		v    []byte
	}{{"token", []byte(u.Token)}, {"serial", []byte(u.Serial)}, {"id", u.ID}, {"object", []byte(u.Object)}, {"type", []byte(u.Type)}} {
		if len(a.v) > 0 {
			put(a.name, a.v)
			sep = ";"
		}
	}
	sep = "?"
	for _, a := range []struct {
		name string
		v    []byte
	}{{"module-path", []byte(u.ModulePath)}, {"module-name", []byte(u.ModuleName)}, {"pin-source", []byte(u.PinSource)}} {
		if len(a.v) > 0 {
			put(a.name, a.v)
			sep = "&"
		}
	}
	return b.String()
}

// escape writes v with every byte outside RFC 3986's unreserved set percent-encoded.
func escape(b *strings.Builder, v []byte) {
	const hexdig = "0123456789abcdef"
	for _, c := range v {
		if isUnreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func unreservedOnly(v []byte) bool {
	for _, c := range v {
		if !isUnreserved(c) {
			return false
		}
	}
	return true
}

func escapeAll(b *strings.Builder, v []byte) {
	const hexdig = "0123456789abcdef"
	for _, c := range v {
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
}

// KeyOnly returns u without its query attributes: the part that names the key, which is what
// a server records and accepts over its API.
func (u URI) KeyOnly() URI {
	return URI{Token: u.Token, Serial: u.Serial, Object: u.Object, ID: bytes.Clone(u.ID), Type: u.Type}
}

// redactPin replaces a pin-value in s, for error messages.
func redactPin(s string) string {
	i := strings.Index(s, "pin-value=")
	if i < 0 {
		return s
	}
	j := strings.IndexAny(s[i:], "&;")
	if j < 0 {
		return s[:i] + "pin-value=[redacted]"
	}
	return s[:i] + "pin-value=[redacted]" + s[i+j:]
}
