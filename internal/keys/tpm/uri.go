package tpm

import (
	"strings"

	kmsuri "go.step.sm/crypto/kms/uri"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/keys"
)

// Scheme is the scheme of TPM key URIs, the one go.step.sm/crypto's tpmkms uses.
const Scheme = "tpmkms"

// URI is a parsed TPM key URI: tpmkms:name=NAME[;device=PATH][;storage-directory=DIR].
// Name is the key's name in the backend's storage; Device and StorageDirectory say which TPM
// and which storage folder, and are for the ceremony commands (a server uses its own).
type URI struct {
	Name             string
	Device           string
	StorageDirectory string
}

// ParseURI parses a TPM key URI. Only name, device and storage-directory are understood;
// any other attribute (tpmkms's attestation options, ak, a pin) is refused rather than
// ignored, and the name must be a valid key ID (keys.ValidID) so that it is safe as a file
// name in the storage folder.
func ParseURI(s string) (URI, error) {
	if !kmsuri.HasScheme(Scheme, s) {
		return URI{}, failure.New(failure.Invalid, "keys/tpm: %q is not a TPM key URI (want %s:name=NAME)", clip(s), Scheme)
	}
	u, err := kmsuri.ParseWithScheme(Scheme, s)
	if err != nil {
		return URI{}, failure.New(failure.Invalid, "keys/tpm: parsing the key URI %q: %v", clip(s), err)
	}
	var out URI
	for k, v := range kmsuri.Values(u) {
		if len(v) != 1 {
			return URI{}, failure.New(failure.Invalid, "keys/tpm: the key URI gives %s %d times", k, len(v))
		}
		switch k {
		case "name":
			out.Name = v[0]
		case "device":
			out.Device = v[0]
		case "storage-directory":
			out.StorageDirectory = v[0]
		default:
			return URI{}, failure.New(failure.Invalid, "keys/tpm: the key URI attribute %q is not supported (use name, device and storage-directory)", k)
		}
	}
	for k, v := range map[string]string{"device": out.Device, "storage-directory": out.StorageDirectory} {
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return URI{}, failure.New(failure.Invalid, "keys/tpm: the key URI's %s holds a control character", k)
		}
	}
	if out.Name == "" {
		return URI{}, failure.New(failure.Invalid, "keys/tpm: the key URI names no key: give name=NAME, e.g. %s:name=acme-issuing-2026", Scheme)
	}
	if err := keys.ValidID(out.Name); err != nil {
		return URI{}, failure.New(failure.Invalid, "keys/tpm: the key URI's name: %v", err)
	}
	return out, nil
}

// String returns the URI in canonical form: name first, then device and storage-directory
// when set.
func (u URI) String() string {
	var b strings.Builder
	b.WriteString(Scheme + ":name=" + u.Name)
	if u.Device != "" {
		b.WriteString(";device=" + escape(u.Device))
	}
	if u.StorageDirectory != "" {
		b.WriteString(";storage-directory=" + escape(u.StorageDirectory))
	}
	return b.String()
}

// KeyOnly returns the URI without device and storage-directory: the form a server records.
func (u URI) KeyOnly() URI { return URI{Name: u.Name} }

// escape percent-encodes what would end an attribute or be read as an escape.
func escape(s string) string {
	r := strings.NewReplacer("%", "%25", ";", "%3B", "&", "%26", "+", "%2B", "?", "%3F", "#", "%23", " ", "%20")
	return r.Replace(s)
}

// clip shortens outside input quoted in an error.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
