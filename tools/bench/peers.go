package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
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

// stepCA is step-ca started standalone (`step ca init --deployment-type standalone`) with
// its defaults: a P-256 root and intermediate, one JWK provisioner, the Badger database.
// Requests carry one-time tokens (JWTs signed with the provisioner's key) minted before the
// timer, as `step ca token` would make them.
type stepCA struct {
	proc   *process
	url    string // https://127.0.0.1:PORT
	roots  *x509.CertPool
	prov   string // the provisioner's name (the tokens' issuer)
	kid    string
	key    *ecdsa.PrivateKey
	conn   string
	idle   *http.Client
	mu     sync.Mutex
	issued map[*slot][]*tls.Certificate // by the enrollment cell, for renewal
}

// startStepCA initialises a CA in dir/step, decrypts the provisioner key once with
// `step crypto jwe decrypt`, starts step-ca and waits for /health.
func startStepCA(ctx context.Context, binDir, dir string) (*stepCA, error) {
	stepPath := filepath.Join(dir, "step")
	pw := filepath.Join(dir, "step-password")
	if err := os.WriteFile(pw, []byte(rand.Text()+"\n"), 0o600); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	env := []string{"STEPPATH=" + stepPath, "HOME=" + dir}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if out, err := runTool(ctx, env, nil, filepath.Join(binDir, "step"), "ca", "init", "--deployment-type", "standalone", "--name", "hallmark-bench",
		"--dns", "127.0.0.1", "--address", addr, "--provisioner", "bench", "--password-file", pw, "--provisioner-password-file", pw); err != nil {
		return nil, fmt.Errorf("step ca init: %w\n%s", err, out)
	}
	var cfg struct {
		Authority struct {
			Provisioners []struct {
				Name         string `json:"name"`
				EncryptedKey string `json:"encryptedKey"`
			} `json:"provisioners"`
		} `json:"authority"`
	}
	b, err := os.ReadFile(filepath.Join(stepPath, "config", "ca.json"))
	if err == nil {
		err = json.Unmarshal(b, &cfg)
	}
	if err != nil || len(cfg.Authority.Provisioners) != 1 {
		return nil, fmt.Errorf("step-ca: reading ca.json: %v (%d provisioners)", err, len(cfg.Authority.Provisioners))
	}
	prov := cfg.Authority.Provisioners[0]
	jwk, err := runTool(ctx, env, []byte(prov.EncryptedKey), filepath.Join(binDir, "step"), "crypto", "jwe", "decrypt", "--password-file", pw)
	if err != nil {
		return nil, fmt.Errorf("step crypto jwe decrypt: %w\n%s", err, jwk)
	}
	key, kid, err := parseJWK(jwk)
	if err != nil {
		return nil, fmt.Errorf("step-ca provisioner key: %w", err)
	}
	roots := x509.NewCertPool()
	rootPEM, err := os.ReadFile(filepath.Join(stepPath, "certs", "root_ca.crt"))
	if err != nil || !roots.AppendCertsFromPEM(rootPEM) {
		return nil, fmt.Errorf("step-ca root: %v", err)
	}
	p, err := startProcess(dir, filepath.Join(dir, "step-ca.log"), env, filepath.Join(binDir, "step-ca"),
		filepath.Join(stepPath, "config", "ca.json"), "--password-file", pw)
	if err != nil {
		return nil, err
	}
	s := &stepCA{proc: p, url: "https://" + addr, roots: roots, prov: prov.Name, kid: kid, key: key, issued: map[*slot][]*tls.Certificate{}}
	c := keepAliveClient(roots, 1)
	defer c.CloseIdleConnections()
	err = waitReady(ctx, p, time.Minute, func() error {
		res, b, err := send(ctx, c, "GET", s.url+"/health", nil, nil)
		if err != nil {
			return err
		}
		if res.StatusCode != 200 {
			return statusError("step-ca /health", res, b)
		}
		s.conn = describeTLS(res.TLS)
		return nil
	})
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("step-ca: %w (log: %s)", err, filepath.Join(dir, "step-ca.log"))
	}
	return s, nil
}

func (s *stepCA) name() string    { return "step-ca" }
func (s *stepCA) pid() int        { return s.proc.pid() }
func (s *stepCA) tlsInfo() string { return s.conn }

// prepare mints the cell's tokens (factory, enroll) or checks the identities to renew.
func (s *stepCA) prepare(ctx context.Context, sc scenario, sl *slot, n int) (op, error) {
	if s.idle != nil {
		s.idle.CloseIdleConnections()
	}
	switch sc {
	case factory, enroll:
		bodies := make([][]byte, n)
		now := time.Now()
		for i, it := range sl.csrs[sc][:n] {
			tok, err := s.token(it.serial, now)
			if err != nil {
				return nil, err
			}
			if bodies[i], err = json.Marshal(map[string]string{"csr": it.pem, "ott": tok}); err != nil {
				return nil, err
			}
		}
		// Factory issuance shares keep-alive connections; enrollment opens one per request and
		// keeps the certificates for the renewal cell.
		var c *http.Client
		var into []*tls.Certificate
		if sc == factory {
			c = keepAliveClient(s.roots, sl.clients)
			s.idle = c
		} else {
			into = make([]*tls.Certificate, n)
			s.mu.Lock()
			s.issued[sl] = into
			s.mu.Unlock()
		}
		hdr := http.Header{"Content-Type": {"application/json"}}
		return func(ctx context.Context, i int) (int, error) {
			hc := c
			if hc == nil {
				hc = oneShotClient(s.roots, nil)
			}
			d, res, b, err := deferrable(ctx, func() (*http.Response, []byte, error) {
				return send(ctx, hc, "POST", s.url+"/1.0/sign", bodies[i], hdr)
			})
			if err != nil {
				return d, fmt.Errorf("sign: %w", err)
			}
			id, err := stepAnswer("sign", res, b, sl.csrs[sc][i].key)
			if into != nil {
				into[i] = id
			}
			return d, err
		}, nil
	case renew:
		s.mu.Lock()
		from := s.issued[sl]
		s.mu.Unlock()
		if from == nil {
			return nil, errors.New("the slot's enrollment cell did not run")
		}
		return func(ctx context.Context, i int) (int, error) {
			if from[i] == nil {
				return 0, fmt.Errorf("renew: device %d has no certificate (its enrollment failed)", i)
			}
			// POST /1.0/renew authenticates with the TLS client certificate and keeps the key.
			d, res, b, err := deferrable(ctx, func() (*http.Response, []byte, error) {
				return send(ctx, oneShotClient(s.roots, from[i]), "POST", s.url+"/1.0/renew", nil, nil)
			})
			if err != nil {
				return d, fmt.Errorf("renew: %w", err)
			}
			_, err = stepAnswer("renew", res, b, from[i].PrivateKey.(*ecdsa.PrivateKey))
			return d, err
		}, nil
	}
	return nil, errUnsupported
}

// stepAnswer reads step-ca's 201 answer to sign or renew: {"crt", "ca", "certChain"}.
func stepAnswer(what string, res *http.Response, body []byte, key *ecdsa.PrivateKey) (*tls.Certificate, error) {
	if res.StatusCode != http.StatusCreated {
		return nil, statusError(what, res, body)
	}
	var a struct {
		Crt       string   `json:"crt"`
		CA        string   `json:"ca"`
		CertChain []string `json:"certChain"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("%s: decoding the answer: %w", what, err)
	}
	chain := a.Crt + a.CA
	if len(a.CertChain) > 0 {
		chain = strings.Join(a.CertChain, "")
	}
	return identityFromPEM(chain, key)
}

// token mints a one-time token for subject as `step ca token` does: a JWT (RFC 7519) signed
// ES256 (RFC 7518 section 3.4) with the JWK provisioner's key, its audience the sign URL,
// a random jti (step-ca refuses a token it has seen), and the subject as the only SAN.
func (s *stepCA) token(subject string, now time.Time) (string, error) {
	hdr, err := json.Marshal(map[string]string{"alg": "ES256", "kid": s.kid, "typ": "JWT"})
	if err != nil {
		return "", err
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	claims, err := json.Marshal(map[string]any{"iss": s.prov, "sub": subject, "sans": []string{subject}, "aud": s.url + "/1.0/sign",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": hex.EncodeToString(jti)})
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(hdr) + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	r, ss, err := ecdsa.Sign(rand.Reader, s.key, sum[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	return signing + "." + enc.EncodeToString(sig), nil
}

// parseJWK reads a P-256 private JWK (RFC 7517, 7518 section 6.2.2) and its kid.
func parseJWK(b []byte) (*ecdsa.PrivateKey, string, error) {
	var j struct {
		Kty, Crv, Kid, X, Y, D string
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, "", err
	}
	if j.Kty != "EC" || j.Crv != "P-256" {
		return nil, "", fmt.Errorf("key type %s %s, want EC P-256", j.Kty, j.Crv)
	}
	d, err := base64.RawURLEncoding.DecodeString(j.D)
	if err != nil {
		return nil, "", fmt.Errorf("d: %w", err)
	}
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		return nil, "", err
	}
	x, errX := base64.RawURLEncoding.DecodeString(j.X)
	y, errY := base64.RawURLEncoding.DecodeString(j.Y)
	pub, err := k.PublicKey.Bytes()
	if errX != nil || errY != nil || err != nil || !bytes.Equal(pub, append(append([]byte{4}, x...), y...)) {
		return nil, "", errors.New("x and y do not match d")
	}
	return k, j.Kid, nil
}

// runTool runs a peer's command-line tool with stdin and returns its combined output.
func runTool(ctx context.Context, env []string, stdin []byte, bin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	if stdin != nil {
		cmd.Stdin = strings.NewReader(string(stdin))
	}
	var out strings.Builder
	cmd.Stdout = &out
	var errOut strings.Builder
	cmd.Stderr = &errOut
	err := cmd.Run()
	if err != nil {
		return []byte(errOut.String() + out.String()), err
	}
	return []byte(out.String()), nil
}

// cfssl is `cfssl serve` over TLS with an ECDSA P-256 issuing CA under a P-256 root, made by
// the harness, and a signing profile of 24 h. It keeps no database (none is configured).
type cfssl struct {
	proc  *process
	url   string
	roots *x509.CertPool
	conn  string
	idle  *http.Client
}

// startCFSSL writes the CA, TLS certificate and config to dir/cfssl and starts cfssl serve.
func startCFSSL(ctx context.Context, binDir, dir string) (*cfssl, error) {
	d := filepath.Join(dir, "cfssl")
	if err := os.MkdirAll(d, 0o700); err != nil {
		return nil, err
	}
	roots, err := writeCFSSLFiles(d)
	if err != nil {
		return nil, fmt.Errorf("cfssl: making its CA: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	f := func(n string) string { return filepath.Join(d, n) }
	p, err := startProcess(dir, filepath.Join(dir, "cfssl.log"), nil, filepath.Join(binDir, "cfssl"), "serve",
		"-address", "127.0.0.1", "-port", strconv.Itoa(port), "-ca", f("ca.pem"), "-ca-key", f("ca-key.pem"),
		"-tls-cert", f("tls.pem"), "-tls-key", f("tls-key.pem"), "-config", f("config.json"), "-min-tls-version", "1.2")
	if err != nil {
		return nil, err
	}
	s := &cfssl{proc: p, url: "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), roots: roots}
	c := keepAliveClient(roots, 1)
	defer c.CloseIdleConnections()
	err = waitReady(ctx, p, time.Minute, func() error {
		// Any HTTP answer over TLS means the server is up.
		res, _, err := send(ctx, c, "GET", s.url+"/api/v1/cfssl/health", nil, nil)
		if err == nil {
			s.conn = describeTLS(res.TLS)
		}
		return err
	})
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("cfssl: %w (log: %s)", err, filepath.Join(dir, "cfssl.log"))
	}
	return s, nil
}

func (s *cfssl) name() string    { return "cfssl" }
func (s *cfssl) pid() int        { return s.proc.pid() }
func (s *cfssl) tlsInfo() string { return s.conn }

// prepare builds the sign requests; cfssl has no renewal endpoint.
func (s *cfssl) prepare(ctx context.Context, sc scenario, sl *slot, n int) (op, error) {
	if s.idle != nil {
		s.idle.CloseIdleConnections()
	}
	if sc == renew {
		return nil, errUnsupported
	}
	bodies := make([][]byte, n)
	for i, it := range sl.csrs[sc][:n] {
		var err error
		if bodies[i], err = json.Marshal(map[string]string{"certificate_request": it.pem}); err != nil {
			return nil, err
		}
	}
	var c *http.Client // keep-alive for factory issuance; nil: a new connection per request
	if sc == factory {
		c = keepAliveClient(s.roots, sl.clients)
		s.idle = c
	}
	hdr := http.Header{"Content-Type": {"application/json"}}
	return func(ctx context.Context, i int) (int, error) {
		hc := c
		if hc == nil {
			hc = oneShotClient(s.roots, nil)
		}
		d, res, b, err := deferrable(ctx, func() (*http.Response, []byte, error) {
			return send(ctx, hc, "POST", s.url+"/api/v1/cfssl/sign", bodies[i], hdr)
		})
		if err != nil {
			return d, fmt.Errorf("sign: %w", err)
		}
		if res.StatusCode != http.StatusOK {
			return d, statusError("sign", res, b)
		}
		var a struct {
			Success bool `json:"success"`
			Result  struct {
				Certificate string `json:"certificate"`
			} `json:"result"`
		}
		if err := json.Unmarshal(b, &a); err != nil || !a.Success {
			return d, fmt.Errorf("sign: unexpected answer (%v): %s", err, tail(b, 300))
		}
		_, err = identityFromPEM(a.Result.Certificate, sl.csrs[sc][i].key)
		return d, err
	}, nil
}

// writeCFSSLFiles makes a P-256 root, an issuing CA under it and a TLS certificate for
// 127.0.0.1, writes them with cfssl's signing config, and returns the root as a pool.
func writeCFSSLFiles(dir string) (*x509.CertPool, error) {
	now := time.Now()
	root, rootKey, err := makeCert(nil, nil, &x509.Certificate{Subject: pkix.Name{CommonName: "cfssl bench root"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0)})
	if err != nil {
		return nil, err
	}
	ca, caKey, err := makeCert(root, rootKey, &x509.Certificate{Subject: pkix.Name{CommonName: "cfssl bench issuing CA"}, IsCA: true, MaxPathLenZero: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0)})
	if err != nil {
		return nil, err
	}
	tlsCert, tlsKey, err := makeCert(root, rootKey, &x509.Certificate{Subject: pkix.Name{CommonName: "127.0.0.1"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 1, 0)})
	if err != nil {
		return nil, err
	}
	config := `{"signing": {"default": {"expiry": "24h", "usages": ["digital signature", "key encipherment", "client auth", "server auth"]}}}`
	for name, data := range map[string][]byte{
		"ca.pem": pemCert(ca), "ca-key.pem": pemKey(caKey), "tls.pem": pemCert(tlsCert), "tls-key.pem": pemKey(tlsKey), "config.json": []byte(config),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return pool, nil
}

// makeCert makes a P-256 key and a certificate for it from tmpl, signed by parent (self-signed
// when parent is nil).
func makeCert(parent *x509.Certificate, parentKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent, parentKey = tmpl, k
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &k.PublicKey, parentKey)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return c, k, err
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func pemKey(k *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		panic(err) // only for a key this process just made on P-256
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}
