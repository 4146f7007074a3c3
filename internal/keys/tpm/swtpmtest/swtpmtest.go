// Package swtpmtest runs a software TPM 2.0 (swtpm, libtpms) for tests of the TPM key backend:
// a real TPM 2.0 command interface on a Unix socket in a throwaway folder, started with the
// TPM2_Startup a firmware would send, and stopped (or killed, to lose the device mid-run) by
// the test.
package swtpmtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Require skips the test when swtpm is not installed, or fails it when CI is set: CI
// installs it (.ci/run), so a missing swtpm there is a broken CI, not a reason to skip.
func Require(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("swtpm"); err == nil {
		return
	}
	msg := "swtpm is not installed (apt-get install swtpm swtpm-tools)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI must install it")
	}
	t.Skip(msg)
}

// TPM is one swtpm process. Its state (the TPM's seeds, so its storage key) lives in a folder
// that outlives Stop: Start brings the same TPM back, as a device that was unplugged and
// plugged in again.
type TPM struct {
	// Socket is the TPM's command socket: give it to the backend as its device.
	Socket string
	state  string
	t      testing.TB
	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	log    lockedBuffer
}

// lockedBuffer is swtpm's output, written by exec's copying goroutine, read at cleanup.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Start runs a new swtpm in a temporary folder and stops it when the test ends.
func Start(t testing.TB) *TPM {
	t.Helper()
	Require(t)
	// A Unix socket path is limited to 108 bytes: t.TempDir() can be longer.
	dir, err := os.MkdirTemp("", "swtpm-")
	if err != nil {
		t.Fatal(err)
	}
	s := &TPM{Socket: filepath.Join(dir, "tpm.sock"), state: filepath.Join(dir, "state"), t: t}
	if err := os.Mkdir(s.state, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		os.RemoveAll(dir)
		if t.Failed() {
			t.Logf("swtpm's output:\n%s", strings.ReplaceAll(s.log.String(), "swtpm: Data client disconnected\n", ""))
		}
	})
	s.Restart()
	return s
}

// Restart starts the swtpm process again (after Stop or Kill) and waits, at most 10 s, for
// its socket to answer.
func (s *TPM) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.t.Fatal("swtpmtest: already running")
	}
	_ = os.Remove(s.Socket)
	// not-need-init and startup-clear: swtpm initialises the TPM and sends TPM2_Startup(CLEAR)
	// itself, as a platform's firmware does before the OS sees the TPM.
	cmd := exec.Command("swtpm", "socket", "--tpm2",
		"--tpmstate", "dir="+s.state,
		"--server", "type=unixio,path="+s.Socket,
		"--ctrl", "type=unixio,path="+s.Socket+".ctrl",
		"--flags", "not-need-init,startup-clear")
	// swtpm notes every client that disconnects (one a command): kept, and shown if the test
	// fails.
	cmd.Stdout, cmd.Stderr = &s.log, &s.log
	cmd.WaitDelay = 5 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting swtpm: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		// The socket file exists from swtpm's bind, before it listens: a connection in
		// between is refused (CI saw one). So wait until a connection is accepted; swtpm
		// takes the client that closes at once as one that disconnected.
		if c, err := net.DialTimeout("unix", s.Socket, time.Second); err == nil {
			_ = c.Close()
			return
		}
		select {
		case <-done:
			s.cmd = nil
			s.t.Fatalf("swtpm exited at start")
		case <-ctx.Done():
			s.t.Fatalf("swtpm: no socket %s within 10s", s.Socket)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop ends the swtpm process with SIGKILL (the device is gone at once, with no chance to
// finish a command) and waits, at most 10 s, for it to exit. Stopping a stopped TPM does
// nothing.
func (s *TPM) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.t.Errorf("swtpm pid %d did not exit within 10s of SIGKILL", s.cmd.Process.Pid)
	}
	s.cmd = nil
	_ = os.Remove(s.Socket)
}

// CPU returns the user and system CPU time the running swtpm process has used, from
// /proc/PID/stat (in the kernel's USER_HZ ticks, 100 a second on Linux).
func (s *TPM) CPU() (time.Duration, error) {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil {
		return 0, fmt.Errorf("swtpmtest: not running")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("swtpmtest: short /proc stat line")
	}
	var ticks int64
	for _, x := range f[11:13] { // utime and stime: fields 14 and 15 of the line
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("swtpmtest: /proc stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// String names the TPM for test logs.
func (s *TPM) String() string { return fmt.Sprintf("swtpm at %s", s.Socket) }
