package tpm

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/keys"
)

// Stats returns the operation counts and whether the TPM answered last.
func (p *Provider) Stats() keys.Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	ops := make(map[keys.OpResult]uint64, len(p.ops))
	for k, v := range p.ops {
		ops[k] = v
	}
	return keys.Stats{Ops: ops, Up: p.up}
}

// count records one operation's result: "ok", "device" (the TPM or the link to it failed),
// "not_found", "invalid", "conflict" or "other" (the TPM answered with an error).
func (p *Provider) count(op string, err error) {
	result := "ok"
	switch {
	case err == nil:
	case failure.Is(err, failure.Unavailable):
		result = "device"
	case failure.Is(err, failure.NotFound):
		result = "not_found"
	case failure.Is(err, failure.Conflict):
		result = "conflict"
	default:
		result = "other"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ops[keys.OpResult{Op: op, Result: result}]++
	// A TPM that answered, even with an error, is up; only a lost device is down.
	p.up = result != "device"
}

// fail counts a failed operation and returns err.
func (p *Provider) fail(op string, err error) error {
	p.count(op, err)
	return err
}

// unavailable classifies an error from the TPM layer: a TPM that cannot be reached (no
// device, a refused or broken connection to a simulator) is failure.Unavailable, with a
// message that says so; any other error (the TPM answered with an error code) is returned
// wrapped, with step naming what was done.
func unavailable(p *Provider, step string, err error) error {
	if lost(err) {
		return failure.Wrap(failure.Unavailable, err, fmt.Sprintf("keys/tpm: %s: the TPM (%s) cannot be reached", step, firstNonEmpty(p.cfg.Device, "default device")))
	}
	return fmt.Errorf("keys/tpm: %s: %w", step, err)
}

// lost reports whether err says the TPM device or the link to it is gone.
func lost(err error) bool {
	var op *net.OpError
	switch {
	case errors.As(err, &op), errors.Is(err, os.ErrNotExist), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ENXIO), errors.Is(err, os.ErrClosed):
		return true
	}
	// go-attestation formats some errors with %v, which drops the chain: read the message.
	msg := err.Error()
	for _, m := range lostMessages {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// lostMessages are the texts of the errors above, as they read once formatted.
var lostMessages = []string{"dial unix ", "dial tcp ", "connect: ", "broken pipe", "connection reset", "connection refused",
	"no such device", "no such file or directory", "unexpected EOF", ": EOF", "use of closed"}
