//go:build pkcs11 && cgo

package pkcs11

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// token is the backend over one token: a pool of logged-in sessions and a cache of the
// private key handles found.
type token struct {
	lib    *library
	cfg    Config
	tlabel string
	tser   string

	sem chan struct{} // one slot per session in use

	mu      sync.Mutex
	idle    []session
	slot    uint
	slotGen uint64 // library generation slot was found in; 0: not yet
	refused error  // the token refused the PIN: never log in again
	handles map[string]handle
	closed  bool

	statsMu sync.Mutex
	ops     map[OpResult]uint64
	up      bool
}

// handle is a private key's object handle in one library generation.
type handle struct {
	gen uint64
	h   pkcs11.ObjectHandle
}

func openBackend(cfg Config) (backend, error) {
	lib, err := acquire(cfg.ModulePath)
	if err != nil {
		return nil, err
	}
	t := &token{lib: lib, cfg: cfg, sem: make(chan struct{}, cfg.MaxSessions), handles: map[string]handle{}, ops: map[OpResult]uint64{}}
	// Log in now, so that a wrong PIN or a missing token stops the start with a clear error.
	err = t.do("login", false, func(*pkcs11.Ctx, pkcs11.SessionHandle, uint64) error { return nil })
	if err != nil {
		lib.release()
		return nil, err
	}
	return t, nil
}

func (t *token) label() string      { return t.tlabel }
func (t *token) serial() string     { return t.tser }
func (t *token) modulePath() string { return t.cfg.ModulePath }

func (t *token) close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	t.lib.mu.RLock()
	for _, s := range idle {
		if s.gen == t.lib.gen && t.lib.live {
			_ = t.lib.ctx.CloseSession(s.h)
		}
	}
	t.lib.mu.RUnlock()
	t.lib.release()
	return nil
}

func (t *token) stats() Stats {
	t.statsMu.Lock()
	defer t.statsMu.Unlock()
	ops := make(map[OpResult]uint64, len(t.ops))
	for k, v := range t.ops {
		ops[k] = v
	}
	return Stats{Ops: ops, Up: t.up}
}

func (t *token) count(op string, err error) {
	r := reason(err)
	t.statsMu.Lock()
	t.ops[OpResult{Op: op, Result: r}]++
	switch r {
	case "ok":
		t.up = true
	case "device", "session", "pin":
		t.up = false
	}
	t.statsMu.Unlock()
}

// do runs f on a logged-in session of the token. After a failure of the session or of the
// device it runs f once more, on a fresh session, when retry is set.
func (t *token) do(op string, retry bool, f func(c *pkcs11.Ctx, s pkcs11.SessionHandle, gen uint64) error) error {
	err := t.try(f)
	if retry && retryable(err) {
		err = t.try(f)
	}
	t.count(op, err)
	if err != nil {
		return t.describe(op, err)
	}
	return nil
}

func (t *token) try(f func(c *pkcs11.Ctx, s pkcs11.SessionHandle, gen uint64) error) error {
	timer := time.NewTimer(t.cfg.SessionWait)
	select {
	case t.sem <- struct{}{}:
		timer.Stop()
	case <-timer.C:
		return errBusy
	}
	defer func() { <-t.sem }()
	if err := t.lib.ensure(); err != nil {
		return err
	}
	t.lib.mu.RLock()
	gen := t.lib.gen
	if !t.lib.live {
		t.lib.mu.RUnlock()
		return errLinkDown
	}
	s, err := t.session()
	drop := err != nil // a session that failed to open or log in is never pooled
	if err == nil {
		err = f(t.lib.ctx, s.h, s.gen)
		drop = err != nil && (isSessionFault(err) || isDeviceFault(err))
	}
	if drop {
		if s.h != 0 {
			_ = t.lib.ctx.CloseSession(s.h)
		}
	} else {
		t.mu.Lock()
		if t.closed {
			_ = t.lib.ctx.CloseSession(s.h)
		} else {
			t.idle = append(t.idle, s)
		}
		t.mu.Unlock()
	}
	t.lib.mu.RUnlock()
	if isDeviceFault(err) {
		// Outside the read lock: broken takes the write lock.
		t.lib.broken(gen, failure.Wrap(failure.Unavailable, err, fmt.Sprintf("keys/pkcs11: the token or the link to it failed (%s)", codeName(err))))
	}
	return err
}

// session returns an idle session of the current generation, or opens one and logs in.
// Called with t.lib.mu held for reading.
func (t *token) session() (session, error) {
	gen := t.lib.gen
	t.mu.Lock()
	for len(t.idle) > 0 {
		s := t.idle[len(t.idle)-1]
		t.idle = t.idle[:len(t.idle)-1]
		if s.gen == gen {
			t.mu.Unlock()
			return s, nil
		}
	}
	refused := t.refused
	slotKnown := t.slotGen == gen
	slot := t.slot
	t.mu.Unlock()
	if refused != nil {
		return session{}, refused
	}
	if !slotKnown {
		s, ti, err := t.lib.slotFor(t.cfg.Token, t.cfg.Serial)
		if err != nil {
			return session{}, err
		}
		t.mu.Lock()
		t.slot, t.slotGen, t.tlabel, t.tser = s, gen, trimPad(ti.Label), trimPad(ti.SerialNumber)
		t.mu.Unlock()
		slot = s
	}
	h, err := t.lib.ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return session{}, err
	}
	s := session{h: h, gen: gen}
	info, err := t.lib.ctx.GetSessionInfo(h)
	if err != nil {
		return s, err
	}
	if info.State == pkcs11.CKS_RW_USER_FUNCTIONS || info.State == pkcs11.CKS_RO_USER_FUNCTIONS {
		return s, nil
	}
	err = t.lib.ctx.Login(h, pkcs11.CKU_USER, string(t.cfg.PIN))
	switch {
	case err == nil, isCode(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN):
		return s, nil
	case isPINFault(err):
		refused := failure.Wrap(failure.Unavailable, err, fmt.Sprintf("keys/pkcs11: token %q refused the PIN (%s); it will not be tried again, "+
			"so that the token is not locked: correct the PIN and restart", t.cfg.Token+t.cfg.Serial, codeName(err)))
		t.mu.Lock()
		t.refused = refused
		t.mu.Unlock()
		return s, refused
	}
	return s, err
}

// describe turns a failure into an error that says what failed and carries a kind. Errors this
// package already classified (failure.Error) keep their message, except failures of the
// token or its link, which all read the same way.
func (t *token) describe(op string, err error) error {
	name := t.cfg.Token
	if name == "" {
		name = "serial " + t.cfg.Serial
	}
	switch r := reason(err); {
	case r == "busy":
		return failure.New(failure.Unavailable, "keys/pkcs11: %s: all %d sessions of token %q stayed busy for %s", op, t.cfg.MaxSessions, name, t.cfg.SessionWait)
	case r == "pin":
		var fe *failure.Error
		if errors.As(err, &fe) {
			return err
		}
		return failure.New(failure.Unavailable, "keys/pkcs11: %s: token %q refused the PIN (%s)", op, name, codeName(err))
	case r == "device" || r == "session":
		why := codeName(err)
		if absent := (*tokenAbsent)(nil); errors.As(err, &absent) {
			why = absent.detail
		}
		return failure.New(failure.Unavailable, "keys/pkcs11: %s: token %q cannot be reached (%s)", op, name, why)
	}
	var fe *failure.Error
	if errors.As(err, &fe) {
		return err
	}
	return failure.New(failure.Unclassified, "keys/pkcs11: %s on token %q failed (%s)", op, name, codeName(err))
}
