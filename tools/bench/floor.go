package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// floor is tools/floor: factory issuance, EST onboarding and EST renewal doing only the work
// Hallmark's guarantees require, with Hallmark's own code for that work (its package comment
// lists it). It runs beside the others so that the guarantees' cost on this stack is measured
// in the same run as step-ca's and Hallmark's.
type floor struct {
	proc  *process
	url   string
	token string
	roots *x509.CertPool
	conn  string
	idle  *http.Client
	mu    sync.Mutex
	slots map[*slot]*floorSlot
}

// floorSlot holds a slot's identities: the factory cell's, which the enrollment cell presents,
// and the enrollment cell's, which the renewal cell presents.
type floorSlot struct {
	factory, enrolled []*tls.Certificate
}

// buildFloor builds ./tools/floor from the repository at repo into dir.
func buildFloor(ctx context.Context, repo, dir string) (string, error) {
	bin := filepath.Join(dir, "floor")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./tools/floor")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building tools/floor: %w\n%s", err, tail(out, 2000))
	}
	return bin, nil
}

// startFloor starts bin on a free loopback port with its files in dir/floor-data, and waits for
// it.
func startFloor(ctx context.Context, bin, dir string, extra ...string) (*floor, error) {
	d := filepath.Join(dir, "floor-data")
	if err := os.MkdirAll(d, 0o700); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logPath := filepath.Join(dir, "floor.log")
	p, err := startProcess(dir, logPath, nil, bin, append([]string{"-addr", addr, "-dir", d}, extra...)...)
	if err != nil {
		return nil, err
	}
	s := &floor{proc: p, url: "https://" + addr, slots: map[*slot]*floorSlot{}}
	err = waitReady(ctx, p, time.Minute, func() error {
		if s.roots == nil {
			b, err := os.ReadFile(filepath.Join(d, "token"))
			if err != nil {
				return err
			}
			r, err := os.ReadFile(filepath.Join(d, "root.pem"))
			if err != nil {
				return err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(r) {
				return fmt.Errorf("no certificate in %s", filepath.Join(d, "root.pem"))
			}
			s.token, s.roots = strings.TrimSpace(string(b)), pool
		}
		c := keepAliveClient(s.roots, 1)
		defer c.CloseIdleConnections()
		res, _, err := send(ctx, c, "GET", s.url+"/", nil, nil) // any answer over TLS: up
		if err == nil {
			s.conn = describeTLS(res.TLS)
		}
		return err
	})
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("floor: %w (log: %s)", err, logPath)
	}
	return s, nil
}

func (s *floor) name() string    { return "floor" }
func (s *floor) pid() int        { return s.proc.pid() }
func (s *floor) tlsInfo() string { return s.conn }

// prepare builds the same requests Hallmark's cells send: factory issuance (a CSR and a build
// record) over kept-alive connections, and EST enrollment and renewal over a new mTLS
// connection per device, presenting the identity the slot's previous cell issued.
func (s *floor) prepare(ctx context.Context, sc scenario, sl *slot, n int) (op, error) {
	if s.idle != nil {
		s.idle.CloseIdleConnections()
	}
	s.mu.Lock()
	st := s.slots[sl]
	if sc == factory {
		st = &floorSlot{factory: make([]*tls.Certificate, n), enrolled: make([]*tls.Certificate, n)}
		s.slots[sl] = st
	}
	s.mu.Unlock()
	if st == nil {
		return nil, errors.New("the slot's factory cell did not run")
	}
	estHdr := http.Header{"Content-Type": {"application/pkcs10"}, "Content-Transfer-Encoding": {"base64"}}
	switch sc {
	case enroll:
		return estRequest(s.roots, func(int) string { return s.url + "/.well-known/est/simpleenroll" }, "simpleenroll", estHdr, sl.csrs[enroll], st.factory, st.enrolled), nil
	case renew:
		return estRequest(s.roots, func(int) string { return s.url + "/.well-known/est/simplereenroll" }, "simplereenroll", estHdr, sl.csrs[renew], st.enrolled, nil), nil
	}
	bodies, err := factoryBodies(sl, n)
	if err != nil {
		return nil, err
	}
	c := keepAliveClient(s.roots, sl.clients)
	s.idle = c
	hdr := http.Header{"Authorization": {"Bearer " + s.token}, "Content-Type": {"application/json"}, "Accept": {"application/json"}}
	return func(ctx context.Context, i int) (int, error) {
		d, res, b, err := deferrable(ctx, func() (*http.Response, []byte, error) { return send(ctx, c, "POST", s.url+"/sign", bodies[i], hdr) })
		if err != nil {
			return d, err
		}
		if res.StatusCode != http.StatusCreated {
			return d, statusError("floor issuance", res, b)
		}
		var fi struct {
			Cert  string `json:"certificate_pem"`
			Chain string `json:"chain_pem"`
		}
		if err := json.Unmarshal(b, &fi); err != nil {
			return d, fmt.Errorf("floor issuance: decoding the answer: %w", err)
		}
		id, err := identityFromPEM(fi.Cert+fi.Chain, sl.csrs[factory][i].key)
		st.factory[i] = id
		return d, err
	}, nil
}
