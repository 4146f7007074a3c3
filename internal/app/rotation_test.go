package app

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
	"golang.org/x/mod/sumdb/note"

	"github.com/hallmark-id/hallmark/internal/auditlog"
	"github.com/hallmark-id/hallmark/internal/buildrecord"
)

// rotationFixture is the part of the matrix fixture these tests use: acme's issuing CA and
// a lot on it, contoso's issuing CA and an environment on it.
func rotationFixture(t *testing.T, s *devServer) (*mxFixture, string, string) {
	t.Helper()
	f := &mxFixture{s: s, lots: map[string]mxLot{}, ids: map[string]string{}, idle: map[string]string{}}
	f.acmeIssuing = f.caNamed(t, alice, "acme-mfg")
	f.contosoIssuing = f.caNamed(t, oscar, "contoso-ops")
	f.acmeModel = modelOf(t, s)
	lot := f.newLot(t, alice, "acme", f.acmeModel, "sensor-x", f.acmeIssuing, "line-a", "")
	env := f.newEnv(t, oscar, "contoso", f.contosoIssuing)
	return f, lot, env
}

func parseCert(t *testing.T, pemText string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(pemText))
	if b == nil {
		t.Fatalf("no PEM certificate in %q", pemText)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// caCertOf is a CA's certificate from the public route.
func caCertOf(t *testing.T, s *devServer, id string) *x509.Certificate {
	t.Helper()
	return parseCert(t, string(s.must(t, 200, "", "GET", "/v1/cas/"+id+"/certificate", nil).Body))
}

// TestIssuingCARotationDuringIssuance rotates acme's issuing CA through the API while four
// clients issue factory identities on its lot without pause: every request succeeds (those
// under way when the lot moved are signed by the old CA within its overlap), later ones are
// signed by the successor, and the old CA, succeeded and not revoked, still answers OCSP for
// its certificates and serves its CRL.
func TestIssuingCARotationDuringIssuance(t *testing.T) {
	s := startDev(t, "")
	f, lot, _ := rotationFixture(t, s)
	oldCA := caCertOf(t, s, f.acmeIssuing)

	// The last afterRotation requests are held until the rotation has answered, so that
	// however slowly this machine runs the rotation, some requests certainly meet the
	// successor; the ones between rotateAfter and those are under way while it happens.
	const workers, perWorker, rotateAfter, afterRotation = 4, 15, 12, 8
	var (
		mu        sync.Mutex
		issued    []*x509.Certificate
		failures  []string
		done      atomic.Int64
		rotated   = make(chan struct{})
		successor string
	)
	// The requests are made here, in the test's goroutine; the workers only send them.
	type job struct {
		n    int
		body []byte
	}
	bodies := make(chan job, workers*perWorker)
	for n := range workers * perWorker {
		body, _, _ := f.issueBody(t, lot)
		j, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		bodies <- job{n, j}
	}
	close(bodies)
	client := &http.Client{Timeout: 60 * time.Second, Transport: s.http.Transport}
	issueOne := func(j []byte) error {
		req, _ := http.NewRequest("POST", s.info.APIURL+"/v1/lots/"+lot+"/devices", bytes.NewReader(j))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+s.tokens[alice])
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 201 {
			return fmt.Errorf("status %d: %s", res.StatusCode, b)
		}
		var fi factoryIdentity
		if err := json.Unmarshal(b, &fi); err != nil {
			return err
		}
		blk, _ := pem.Decode([]byte(fi.CertificatePEM))
		if blk == nil {
			return fmt.Errorf("no certificate in %s", b)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return err
		}
		mu.Lock()
		issued = append(issued, c)
		mu.Unlock()
		return nil
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range bodies {
				if j.n >= workers*perWorker-afterRotation {
					<-rotated
				}
				if err := issueOne(j.body); err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
				}
				done.Add(1)
			}
		}()
	}
	go func() {
		defer close(rotated)
		for done.Load() < rotateAfter {
			time.Sleep(5 * time.Millisecond)
		}
		var out struct {
			Successor struct {
				ID string `json:"id"`
			} `json:"successor"`
			LotsMoved int `json:"lots_moved"`
		}
		req, _ := http.NewRequest("POST", s.info.APIURL+"/v1/cas/"+f.acmeIssuing+"/rotate", strings.NewReader(`{"overlap": "10m"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+s.tokens[alice])
		res, err := client.Do(req)
		var b []byte
		if err == nil {
			b, _ = io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 201 {
				err = fmt.Errorf("status %d: %s", res.StatusCode, b)
			} else {
				err = json.Unmarshal(b, &out)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failures = append(failures, "rotate: "+err.Error())
			return
		}
		successor = out.Successor.ID
	}()
	wg.Wait()
	<-rotated
	if len(failures) > 0 {
		t.Fatalf("%d of %d requests failed during the rotation; first: %s", len(failures), workers*perWorker+1, failures[0])
	}
	if successor == "" {
		t.Fatal("the rotation named no successor")
	}
	newCA := caCertOf(t, s, successor)
	var byOld, byNew []*x509.Certificate
	for _, c := range issued {
		switch {
		case c.CheckSignatureFrom(oldCA) == nil:
			byOld = append(byOld, c)
		case c.CheckSignatureFrom(newCA) == nil:
			byNew = append(byNew, c)
		default:
			t.Fatalf("certificate %x is signed by neither CA", c.SerialNumber)
		}
	}
	t.Logf("%d certificates by the old CA, %d by its successor", len(byOld), len(byNew))
	if len(byOld) < rotateAfter || len(byNew) < afterRotation {
		t.Fatalf("%d by the old CA and %d by the successor; want at least %d and %d", len(byOld), len(byNew), rotateAfter, afterRotation)
	}
	var lotCA struct {
		IssuingCAID string `json:"issuing_ca_id"`
	}
	s.must(t, 200, alice, "GET", "/v1/lots/"+lot, nil).json(t, &lotCA)
	if lotCA.IssuingCAID != successor {
		t.Fatalf("the lot issues from %s, want the successor %s", lotCA.IssuingCAID, successor)
	}

	// The succeeded CA keeps serving status for what it signed.
	for _, c := range []*x509.Certificate{byOld[0], byOld[len(byOld)-1]} {
		if st := ocspStatus(t, s, c, oldCA); st != ocsp.Good {
			t.Errorf("OCSP for %x of the succeeded CA = %d, want good", c.SerialNumber, st)
		}
	}
	crl := s.must(t, 200, "", "GET", "/crl/"+f.acmeIssuing+".crl", nil)
	if rl, err := x509.ParseRevocationList(crl.Body); err != nil || rl.CheckSignatureFrom(oldCA) != nil {
		t.Fatalf("the succeeded CA's CRL: %v", err)
	}
	// A second rotation of the old CA is a conflict; a new lot may not name it.
	s.must(t, 409, alice, "POST", "/v1/cas/"+f.acmeIssuing+"/rotate", nil)
	s.must(t, 400, alice, "POST", "/v1/lots", map[string]any{"model_id": f.acmeModel, "name": "after", "line": "line-a", "issuing_ca_id": f.acmeIssuing})
}

func ocspStatus(t *testing.T, s *devServer, cert, issuer *x509.Certificate) int {
	t.Helper()
	q, err := ocsp.CreateRequest(cert, issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", s.info.APIURL+"/ocsp", bytes.NewReader(q))
	req.Header.Set("Content-Type", "application/ocsp-request")
	res, err := s.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	o, err := ocsp.ParseResponseForCert(b, cert, issuer)
	if err != nil {
		t.Fatalf("OCSP answer: %v", err)
	}
	return o.Status
}

// TestRootRolloverCrossCertificate rolls acme's root over and rotates its issuing CA under
// the new root through the API. A relying party that trusts only the old root verifies a
// factory certificate of the new hierarchy with `openssl verify`, given the chain the API
// serves (which holds the cross-certificate), and fails without the cross-certificate; one
// that trusts only the new root verifies a certificate of the old hierarchy the same way. EST
// /cacerts serves the cross-certificates to devices.
func TestRootRolloverCrossCertificate(t *testing.T) {
	requireTool(t, "openssl")
	s := startDev(t, "")
	dir := t.TempDir()
	f, lot, _ := rotationFixture(t, s)
	old := f.issue(t, alice, lot)
	var iss struct {
		ParentID string `json:"parent_id"`
	}
	var cas struct {
		Items []struct {
			ID       string `json:"id"`
			ParentID string `json:"parent_id"`
		} `json:"items"`
	}
	s.must(t, 200, alice, "GET", "/v1/cas", nil).json(t, &cas)
	for _, c := range cas.Items {
		if c.ID == f.acmeIssuing {
			iss.ParentID = c.ParentID
		}
	}
	oldRoot := iss.ParentID
	writeFile(t, dir, "old-root.pem", string(s.must(t, 200, "", "GET", "/v1/cas/"+oldRoot+"/certificate", nil).Body))
	writeFile(t, dir, "old-leaf.pem", old.FactoryPEM)

	var ro struct {
		Successor         struct{ ID string }
		CrossCertificates []struct {
			SubjectID string `json:"subject_ca_id"`
			IssuerID  string `json:"issuer_ca_id"`
		} `json:"cross_certificates"`
	}
	s.must(t, 201, alice, "POST", "/v1/cas/"+oldRoot+"/rollover", map[string]any{}).json(t, &ro)
	if len(ro.CrossCertificates) != 2 {
		t.Fatalf("rollover answer: %+v", ro)
	}
	newRoot := ro.Successor.ID
	writeFile(t, dir, "new-root.pem", string(s.must(t, 200, "", "GET", "/v1/cas/"+newRoot+"/certificate", nil).Body))
	var rot struct {
		Successor struct {
			ID       string `json:"id"`
			ParentID string `json:"parent_id"`
		}
	}
	s.must(t, 201, alice, "POST", "/v1/cas/"+f.acmeIssuing+"/rotate", nil).json(t, &rot)
	if rot.Successor.ParentID != newRoot {
		t.Fatalf("the rotated issuing CA is under %s, want the new root %s", rot.Successor.ParentID, newRoot)
	}
	next := f.issue(t, alice, lot)
	writeFile(t, dir, "new-leaf.pem", next.FactoryPEM)
	writeFile(t, dir, "new-chain.pem", string(s.must(t, 200, "", "GET", "/v1/cas/"+rot.Successor.ID+"/chain", nil).Body))
	writeFile(t, dir, "new-issuing.pem", string(s.must(t, 200, "", "GET", "/v1/cas/"+rot.Successor.ID+"/certificate", nil).Body))
	writeFile(t, dir, "old-chain.pem", string(s.must(t, 200, "", "GET", "/v1/cas/"+f.acmeIssuing+"/chain", nil).Body))

	if out := run(t, dir, "openssl", "verify", "-CAfile", "old-root.pem", "-untrusted", "new-chain.pem", "new-leaf.pem"); !strings.Contains(out, "new-leaf.pem: OK") {
		t.Fatalf("trusting the old root only, the new hierarchy's certificate: %s", out)
	}
	if out, err := runErr(dir, "openssl", "verify", "-CAfile", "old-root.pem", "-untrusted", "new-issuing.pem", "new-leaf.pem"); err == nil {
		t.Fatalf("trusting the old root only, the new hierarchy's certificate verified without the cross-certificate: %s", out)
	}
	if out := run(t, dir, "openssl", "verify", "-CAfile", "new-root.pem", "-untrusted", "old-chain.pem", "old-leaf.pem"); !strings.Contains(out, "old-leaf.pem: OK") {
		t.Fatalf("trusting the new root only, the old hierarchy's certificate: %s", out)
	}

	// Devices get the path over EST: contoso rolls its root over; /cacerts then holds its
	// issuing CA, its root and both cross-certificates.
	var croot struct {
		Items []struct {
			ID       string `json:"id"`
			ParentID string `json:"parent_id"`
		} `json:"items"`
	}
	s.must(t, 200, oscar, "GET", "/v1/cas", nil).json(t, &croot)
	contosoRoot := ""
	for _, c := range croot.Items {
		if c.ID == f.contosoIssuing {
			contosoRoot = c.ParentID
		}
	}
	s.must(t, 201, oscar, "POST", "/v1/cas/"+contosoRoot+"/rollover", nil)
	res, err := s.http.Get(s.info.ESTURL + "/cacerts")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	writeFile(t, dir, "cacerts.b64", string(b))
	out := sh(t, dir, "tr -d '\\r\\n' < cacerts.b64 | openssl base64 -d -A | openssl pkcs7 -inform DER -print_certs")
	if n := strings.Count(out, "BEGIN CERTIFICATE"); n != 4 {
		t.Fatalf("/cacerts after the rollover holds %d certificates, want 4 (issuing, root, two cross-certificates):\n%s", n, out)
	}
}

// TestKeyRotationAPI: a build record signed before its manufacturer's key rotation still
// verifies after it — offline against the published key history, and on the server, which
// onboards the device; the history's newest key alone does not verify it. The audit
// checkpoint key rotates too: a checkpoint signed before verifies with the published history.
func TestKeyRotationAPI(t *testing.T) {
	s := startDev(t, "")
	f, lot, env := rotationFixture(t, s)
	d := f.issue(t, alice, lot)
	f.give(t, alice, oscar, d.ID)
	before := s.must(t, 200, alice, "GET", "/v1/devices/"+d.ID+"/build-record", nil).Body
	s.must(t, 200, "", "GET", "/v1/manufacturers/acme/build-record-keys", nil)

	var k struct {
		KeyID string `json:"keyid"`
	}
	s.must(t, 403, oscar, "POST", "/v1/manufacturers/acme/build-record-key/rotate", nil)
	s.must(t, 201, alice, "POST", "/v1/manufacturers/acme/build-record-key/rotate", nil).json(t, &k)
	after := f.issue(t, alice, lot)

	set := s.must(t, 200, "", "GET", "/v1/manufacturers/acme/build-record-keys", nil).Body
	keys, err := buildrecord.ParsePublicKeysPEM(set)
	if err != nil || len(keys) != 2 {
		t.Fatalf("the published key history: %d keys, %v", len(keys), err)
	}
	verify := func(rec []byte, keys []crypto.PublicKey) (*buildrecord.Verified, error) {
		env, err := buildrecord.ParseEnvelope(rec)
		if err != nil {
			t.Fatal(err)
		}
		return buildrecord.VerifyKeys(env, keys)
	}
	v, err := verify(before, keys)
	if err != nil || v.KeyID == k.KeyID {
		t.Fatalf("the record signed before the rotation: %v (key %v); want it verified by the retired key", err, v)
	}
	if _, err := verify(before, keys[:1]); err == nil {
		t.Fatal("the record signed before the rotation verified with the new key alone")
	}
	afterRec := s.must(t, 200, alice, "GET", "/v1/devices/"+after.ID+"/build-record", nil).Body
	if v, err := verify(afterRec, keys); err != nil || v.KeyID != k.KeyID {
		t.Fatalf("the record signed after the rotation: %v; want the new key %s", err, k.KeyID)
	}
	// The server verifies the old record with the history when the device onboards.
	f.onboard(t, oscar, env, &d)

	// The audit checkpoint key.
	cp := s.must(t, 200, audrey, "POST", "/v1/audit/checkpoint", nil).Body
	s.must(t, 403, audrey, "POST", "/v1/audit/key/rotate", nil)
	s.must(t, 403, admin, "POST", "/v1/audit/key/rotate", nil) // contoso's administrator: the key is the deployment's
	s.must(t, 201, deployAdmin, "POST", "/v1/audit/key/rotate", nil)
	vkeys := s.must(t, 200, "", "GET", "/v1/audit/keys", nil).Body
	vs, err := auditlog.ParseVerifierKeys(vkeys)
	if err != nil || len(vs) != 2 {
		t.Fatalf("the published checkpoint key history: %d keys, %v", len(vs), err)
	}
	if _, err := auditlog.OpenCheckpointKeys(cp, vs); err != nil {
		t.Fatalf("a checkpoint signed before the rotation does not verify with the history: %v", err)
	}
	if _, err := auditlog.OpenCheckpointKeys(cp, []note.Verifier{vs[0]}); err == nil {
		t.Fatal("a checkpoint signed before the rotation verified with the new key alone")
	}
	// A GET never signs: the former ?new=1 is refused and names POST.
	if body := string(s.must(t, 400, audrey, "GET", "/v1/audit/checkpoint?new=1", nil).Body); !strings.Contains(body, "POST /v1/audit/checkpoint") {
		t.Errorf("GET ?new=1 answered %s; want a refusal naming POST", body)
	}
	latest := s.must(t, 200, audrey, "POST", "/v1/audit/checkpoint", nil).Body
	if _, err := auditlog.OpenCheckpointKeys(latest, []note.Verifier{vs[0]}); err != nil {
		t.Fatalf("a checkpoint after the rotation does not verify with the new key: %v", err)
	}
	first, _, _ := strings.Cut(string(vkeys), "\n")
	if cur := strings.TrimSpace(string(s.must(t, 200, "", "GET", "/v1/audit/key", nil).Body)); cur != first {
		t.Errorf("GET /v1/audit/key = %s, want the first key of the history, %s", cur, first)
	}
}
