//go:build !(pkcs11 && cgo)

package pkcs11

const available = false

// openBackend fails: this build has no PKCS#11 support (see module.go for the one that has).
func openBackend(Config) (backend, error) { return nil, ErrNotBuilt }
