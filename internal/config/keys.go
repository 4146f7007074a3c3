package config

import (
	"time"
)

// TPM says which TPM 2.0 holds keys and where their wrapped blobs are kept (docs/keys.md).
type TPM struct {
	// Device is the TPM's resource manager, or the Unix socket of a TPM simulator (swtpm).
	// Default "/dev/tpmrm0".
	Device string `json:"device"`
	// StorageDir keeps each key's public part and its private part wrapped by the TPM's
	// storage key (useless without that TPM). Required; back it up.
	StorageDir string `json:"storage_dir"`
}

// KeyKinds puts a kind of key in its own backend ("file", "pkcs11" or "tpm"); an empty kind
// lives in keys.backend. A TPM cannot hold the audit key (Ed25519).
type KeyKinds struct {
	// CA is for root and issuing CA keys.
	CA string `json:"ca"`
	// BuildRecord is for manufacturers' build-record keys.
	BuildRecord string `json:"build_record"`
	// Audit is for the audit log's checkpoint keys (Ed25519).
	Audit string `json:"audit"`
	// OCSP is for delegated OCSP responders' keys.
	OCSP string `json:"ocsp"`
}

// KeyKindNames lists the kinds keys.kinds places, as its JSON names, in a stable order.
func KeyKindNames() []string { return []string{"ca", "build_record", "audit", "ocsp"} }

// BackendFor returns the backend that keeps keys of kind (one of KeyKindNames, or "" for
// anything else, such as the dev server's TLS keys): keys.kinds' choice, else keys.backend.
func (k Keys) BackendFor(kind string) string {
	var b string
	switch kind {
	case "ca":
		b = k.Kinds.CA
	case "build_record":
		b = k.Kinds.BuildRecord
	case "audit":
		b = k.Kinds.Audit
	case "ocsp":
		b = k.Kinds.OCSP
	}
	if b == "" {
		return k.Backend
	}
	return b
}

// Uses reports whether some kind of key lives in backend.
func (k Keys) Uses(backend string) bool {
	if k.Backend == backend {
		return true
	}
	for _, kind := range KeyKindNames() {
		if k.BackendFor(kind) == backend {
			return true
		}
	}
	return false
}

// validateKeys checks keys: every backend a kind uses is known and configured, no backend is
// configured that no kind uses, and no kind lives where it cannot (the Ed25519 audit key in a
// TPM). These are start-up errors, not first-use ones.
func (c *Config) validateKeys(bad func(key, format string, args ...any)) {
	k := c.Keys
	known := func(b string) bool { return b == "file" || b == "pkcs11" || b == "tpm" }
	if !known(k.Backend) {
		bad("keys.backend", "%q is not supported (use \"file\", \"pkcs11\" or \"tpm\")", k.Backend)
	}
	for _, kind := range KeyKindNames() {
		if b := k.BackendFor(kind); b != k.Backend && !known(b) {
			bad("keys.kinds."+kind, "%q is not a key backend (use \"file\", \"pkcs11\" or \"tpm\")", b)
		}
	}
	if k.BackendFor("audit") == "tpm" {
		key := "keys.kinds.audit"
		if k.Kinds.Audit == "" {
			key = "keys.backend"
		}
		bad(key, "the audit checkpoint key is Ed25519, which a TPM 2.0 cannot hold: set keys.kinds.audit to \"file\" or \"pkcs11\" (docs/keys.md)")
	}
	if k.Uses("file") {
		if k.Dir == "" {
			bad("keys.dir", "the folder for encrypted keys is required (backend \"file\")")
		}
		if k.PassphraseEnv != "" && k.PassphraseFile != "" {
			bad("keys", "set passphrase_env or passphrase_file, not both")
		}
	} else if k.Dir != "" || k.PassphraseEnv != "" || k.PassphraseFile != "" {
		bad("keys", "dir, passphrase_env and passphrase_file are for backend \"file\", which no kind of key uses; an HSM or TPM keeps the keys")
	}
	if k.Uses("pkcs11") {
		c.validatePKCS11(bad)
	} else if k.PKCS11 != nil {
		bad("keys.pkcs11", "is for backend \"pkcs11\"; set keys.backend or a keys.kinds entry to use it")
	}
	if k.Uses("tpm") {
		switch t := k.TPM; {
		case t == nil:
			bad("keys.tpm", "backend \"tpm\" needs storage_dir (docs/keys.md)")
		case t.StorageDir == "":
			bad("keys.tpm.storage_dir", "name the folder for the TPM keys' wrapped blobs, e.g. \"/var/lib/hallmark/tpm\"")
		}
	} else if k.TPM != nil {
		bad("keys.tpm", "is for backend \"tpm\"; set keys.backend or a keys.kinds entry to use it")
	}
}

// validatePKCS11 checks keys.pkcs11 for a deployment that uses backend "pkcs11".
func (c *Config) validatePKCS11(bad func(key, format string, args ...any)) {
	h := c.Keys.PKCS11
	if h == nil {
		bad("keys.pkcs11", "backend \"pkcs11\" needs module_path and token (docs/keys.md)")
		return
	}
	if h.ModulePath == "" {
		bad("keys.pkcs11.module_path", "name the PKCS#11 library, e.g. \"/usr/lib/softhsm/libsofthsm2.so\"")
	}
	if h.Token == "" && h.Serial == "" {
		bad("keys.pkcs11.token", "give the token's label (or its serial)")
	}
	if h.PINEnv != "" && h.PINFile != "" {
		bad("keys.pkcs11", "set pin_env or pin_file, not both")
	}
	if h.MaxSessions < 1 || h.MaxSessions > 1024 {
		bad("keys.pkcs11.max_sessions", "must be between 1 and 1024, got %d", h.MaxSessions)
	}
	if d := h.SessionWait.Duration; d < 0 || d > 10*time.Minute {
		bad("keys.pkcs11.session_wait", "must be between 0s and 10m, got %s", d)
	}
}
