//go:build pkcs11 && cgo

package pkcs11

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/hallmark-id/hallmark/internal/failure"
)

const available = true

// reinitEvery bounds how often a failed module is initialised again.
const reinitEvery = time.Second

// library is one loaded PKCS#11 module, shared by every token opened through it in this
// process: C_Initialize may run once per process and module.
type library struct {
	path string
	// mu is held for reading around every call into the module, and for writing to initialise
	// it again; gen counts initialisations, so that sessions and object handles of an earlier
	// one are recognised and dropped.
	mu       sync.RWMutex
	ctx      *pkcs11.Ctx
	gen      uint64
	live     bool
	refs     int
	lastInit time.Time
	lastErr  error
}

var libraries = struct {
	sync.Mutex
	m map[string]*library
}{m: map[string]*library{}}

// acquire loads and initialises the module at path, or shares the one already loaded.
func acquire(path string) (*library, error) {
	libraries.Lock()
	defer libraries.Unlock()
	l := libraries.m[path]
	if l == nil {
		ctx := pkcs11.New(path)
		if ctx == nil {
			return nil, failure.New(failure.Invalid, "keys/pkcs11: cannot load the PKCS#11 module %s: check the path and that it is a PKCS#11 library", path)
		}
		l = &library{path: path, ctx: ctx}
		libraries.m[path] = l
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.live {
		if err := l.initLocked(); err != nil {
			return nil, err
		}
	}
	l.refs++
	return l, nil
}

// release drops one reference and finalises the module when none is left. The module stays
// loaded (unloading some modules crashes their threads) and is initialised again on reuse.
func (l *library) release() {
	libraries.Lock()
	defer libraries.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refs--
	if l.refs == 0 && l.live {
		_ = l.ctx.Finalize()
		l.live = false
		l.gen++
	}
}

func (l *library) initLocked() error {
	l.lastInit = time.Now()
	err := l.ctx.Initialize()
	if err != nil && !isCode(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		l.lastErr = failure.Wrap(failure.Unavailable, err, fmt.Sprintf("keys/pkcs11: initialising the module %s failed (%s)", l.path, codeName(err)))
		return l.lastErr
	}
	l.gen++
	l.live, l.lastErr = true, nil
	return nil
}

// ensure initialises the module again if a failure marked it broken, at most once every
// reinitEvery.
func (l *library) ensure() error {
	l.mu.RLock()
	live := l.live
	l.mu.RUnlock()
	if live {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.live {
		return nil
	}
	if time.Since(l.lastInit) < reinitEvery && l.lastErr != nil {
		return l.lastErr
	}
	_ = l.ctx.Finalize() // sessions of the failed link are gone either way
	return l.initLocked()
}

// broken marks the module as needing initialisation again, unless that already happened
// since generation gen.
func (l *library) broken(gen uint64, cause error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gen == gen && l.live {
		l.live = false
		l.lastErr = cause
	}
}

// session is an open session of one module generation.
type session struct {
	h   pkcs11.SessionHandle
	gen uint64
}

// slotFor finds the slot of the token with the given label and serial (either may be empty).
// Called with l.mu held for reading.
func (l *library) slotFor(label, serial string) (uint, pkcs11.TokenInfo, error) {
	slots, err := l.ctx.GetSlotList(true)
	if err != nil {
		return 0, pkcs11.TokenInfo{}, err
	}
	var seen []string
	for _, s := range slots {
		ti, err := l.ctx.GetTokenInfo(s)
		if err != nil {
			continue
		}
		gotLabel, gotSerial := trimPad(ti.Label), trimPad(ti.SerialNumber)
		if (label == "" || gotLabel == label) && (serial == "" || gotSerial == serial) {
			return s, ti, nil
		}
		seen = append(seen, fmt.Sprintf("%q", gotLabel))
	}
	want := fmt.Sprintf("label %q", label)
	if label == "" {
		want = fmt.Sprintf("serial %q", serial)
	} else if serial != "" {
		want += fmt.Sprintf(" and serial %q", serial)
	}
	if len(seen) == 0 {
		seen = []string{"none"}
	}
	return 0, pkcs11.TokenInfo{}, &tokenAbsent{fmt.Sprintf("no token with %s in module %s; tokens present: %s", want, l.path, strings.Join(seen, ", "))}
}

// tokenAbsent: the module lists no such token. It counts as a failure of the device: some
// modules (a network HSM's client, p11-kit's) see tokens that appear only when initialised
// again.
type tokenAbsent struct{ detail string }

func (e *tokenAbsent) Error() string             { return "keys/pkcs11: " + e.detail }
func (e *tokenAbsent) FailureKind() failure.Kind { return failure.Unavailable }

// trimPad drops the blank padding PKCS#11 puts in fixed-size text fields.
func trimPad(s string) string { return strings.TrimRight(s, " \x00") }
