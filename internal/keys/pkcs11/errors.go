//go:build pkcs11 && cgo

package pkcs11

import (
	"errors"
	"strings"

	"github.com/miekg/pkcs11"

	"github.com/hallmark-id/hallmark/internal/failure"
)

var (
	errBusy     = errors.New("no free session")
	errLinkDown = errors.New("the module is being initialised again")
)

// PKCS#11 3.0 mechanisms and key type for EdDSA, which github.com/miekg/pkcs11 v1.1 does not
// name (PKCS#11 v3.0 section 2.3.4).
const (
	ckkECEdwards           = 0x00000040
	ckmECEdwardsKeyPairGen = 0x00001055
	ckmEdDSA               = 0x00001057
)

func code(err error) (pkcs11.Error, bool) {
	var e pkcs11.Error
	if errors.As(err, &e) {
		return e, true
	}
	return 0, false
}

func isCode(err error, c uint) bool {
	e, ok := code(err)
	return ok && uint(e) == c
}

// codeName names the PKCS#11 return value in err ("CKR_DEVICE_REMOVED"), or describes err.
func codeName(err error) string {
	if e, ok := code(err); ok {
		s := e.Error() // "pkcs11: 0x32: CKR_DEVICE_REMOVED"
		if i := strings.LastIndex(s, ": "); i >= 0 && i+2 < len(s) {
			return s[i+2:]
		}
		return s
	}
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// isDeviceFault: the token or the link to it failed; the module must be initialised again.
func isDeviceFault(err error) bool {
	var absent *tokenAbsent
	if errors.Is(err, errLinkDown) || errors.As(err, &absent) {
		return true
	}
	e, ok := code(err)
	if !ok {
		return false
	}
	switch uint(e) {
	case pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_DEVICE_ERROR, pkcs11.CKR_TOKEN_NOT_PRESENT, pkcs11.CKR_TOKEN_NOT_RECOGNIZED,
		pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED, pkcs11.CKR_GENERAL_ERROR, pkcs11.CKR_SLOT_ID_INVALID, pkcs11.CKR_DEVICE_MEMORY:
		return true
	}
	return false
}

// isSessionFault: the session can no longer be used; another may work.
func isSessionFault(err error) bool {
	e, ok := code(err)
	if !ok {
		return false
	}
	switch uint(e) {
	case pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED, pkcs11.CKR_USER_NOT_LOGGED_IN, pkcs11.CKR_SESSION_COUNT:
		return true
	}
	return false
}

// isHandleFault: an object handle is no longer valid; the object must be found again.
func isHandleFault(err error) bool {
	return isCode(err, pkcs11.CKR_OBJECT_HANDLE_INVALID) || isCode(err, pkcs11.CKR_KEY_HANDLE_INVALID)
}

func isPINFault(err error) bool {
	e, ok := code(err)
	if !ok {
		return false
	}
	switch uint(e) {
	case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_LOCKED, pkcs11.CKR_PIN_EXPIRED, pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE:
		return true
	}
	return false
}

func retryable(err error) bool {
	return err != nil && !isPINFault(err) && (isDeviceFault(err) || isSessionFault(err) || isHandleFault(err) || errors.Is(err, errLinkDown) || failure.Is(err, failure.Unavailable) && !errors.Is(err, errBusy))
}

// reason is the Stats result for err.
func reason(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, errBusy):
		return "busy"
	case isPINFault(err):
		return "pin"
	case isDeviceFault(err), errors.Is(err, errLinkDown):
		return "device"
	case isSessionFault(err):
		return "session"
	case failure.Is(err, failure.NotFound):
		return "not_found"
	case failure.Is(err, failure.Unavailable):
		return "device"
	}
	return "other"
}
