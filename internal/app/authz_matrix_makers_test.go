package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/hallmark-id/hallmark/internal/manifest"
)

// The makers of the authorization matrix: contoso's in world A, tailspin's in world B, each
// registered by its operator with a manifest key, made at first use.

// mxMaker is a registered maker and the key its manifests are signed with.
type mxMaker struct {
	ID     string
	key    *ecdsa.PrivateKey
	issued time.Time // of its newest signed manifest
}

// mxAnchorPEM is a fresh CA certificate, PEM.
func mxAnchorPEM(t *testing.T, cn string) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// maker returns the maker of operator contoso (own) or tailspin (other).
func (f *mxFixture) maker(t *testing.T, c mxCell) *mxMaker {
	t.Helper()
	operator := mxPick(c, "contoso", "tailspin")
	if m := f.makers[operator]; m != nil {
		return m
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	m := &mxMaker{key: key, issued: time.Now()}
	f.s.must(t, 201, mxWho(operator), "POST", "/v1/makers", map[string]any{"name": "mx-sensors", "anchors_pem": mxAnchorPEM(t, operator+" sensors root"),
		"manifest_keys_pem": []string{string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))}}).json(t, m)
	if f.makers == nil {
		f.makers = map[string]*mxMaker{}
	}
	f.makers[operator] = m
	return m
}

// signedManifest is a manifest of m listing one device, issued after its previous one.
func (m *mxMaker) signedManifest(t *testing.T) []byte {
	t.Helper()
	m.issued = m.issued.Add(time.Second)
	payload := []byte(fmt.Sprintf(`{"manifestType":%q,"maker":"MX Sensors","issuedAt":%q,"devices":[{"serial":"MX-1"}]}`, manifest.DocumentType, m.issued.UTC().Format(time.RFC3339)))
	sum := sha256.Sum256(dsse.PAE(manifest.PayloadType, payload))
	sig, err := ecdsa.SignASN1(rand.Reader, m.key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	env, err := json.Marshal(dsse.Envelope{PayloadType: manifest.PayloadType, Payload: base64.StdEncoding.EncodeToString(payload),
		Signatures: []dsse.Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}}})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// mxMakerRows are the rows of the makers API: the party owning operational/issue over an
// operator (the operator) registers and changes its makers; the operator's principals and
// auditors read them; an auditor's change is refused as not its duty; everyone else sees
// nothing of another party's makers.
func mxMakerRows() []mxRow {
	// contoso (oscar and its administrator) acts on its own; the auditor sees but may not act;
	// the others, the deployment administrator among them, find nothing.
	ownAct := func(w mxWant) mxBy { return mxBy{mx404, mx404, mx404, w, mx404, mx403, mx404, w} }
	otherAct := mxBy{mx404, mx404, mx404, mx404, mx404, mx403, mx404, mx404}
	ownRead := mxOnly(mx200, mx404, "contoso", "auditco")
	otherRead := mxOnly(mx200, mx404, "auditco")
	return []mxRow{
		{op: "POST /v1/makers", own: mxOnly(mx201, mx403, "contoso"), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				name := f.name("mx-maker")
				return mxReq{path: "/v1/makers", body: map[string]any{"operator_id": mxPick(c, f.partyOr(c, "contoso"), "tailspin"), "name": name,
					"anchors_pem": mxAnchorPEM(t, name)}, check: mxExpect("name", name, "operator_id", "contoso")}
			}},
		{op: "GET /v1/makers", own: mxOnly(mxSees, mxHides, "contoso"), other: mxOnly(mxSees, mx403, "auditco"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				m := f.maker(t, c)
				return mxReq{path: "/v1/makers?operator=" + mxPick(c, f.partyOr(c, "contoso"), "tailspin"), marker: m.ID}
			}},
		{op: "GET /v1/makers/{id}", own: ownRead, other: otherRead,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				m := f.maker(t, c)
				return mxReq{path: "/v1/makers/" + m.ID, check: mxExpect("id", m.ID)}
			}},
		{op: "PATCH /v1/makers/{id}", own: ownAct(mx200), other: otherAct,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				m := f.maker(t, c)
				return mxReq{path: "/v1/makers/" + m.ID, body: map[string]any{"policy": map[string]any{"require_hardware_module_name": true}},
					check: mxExpect("policy.require_hardware_module_name", "true")}
			}},
		{op: "POST /v1/makers/{id}/manifests", own: ownAct(mx201), other: otherAct,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				m := f.maker(t, c)
				return mxReq{path: "/v1/makers/" + m.ID + "/manifests", body: m.signedManifest(t), check: mxExpect("manifest.state", "active", "manifest.entries", "1")}
			}},
		{op: "GET /v1/makers/{id}/manifests", own: ownRead, other: otherRead,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/makers/" + f.maker(t, c).ID + "/manifests"}
			}},
		{op: "POST /v1/makers/{id}/check", own: ownAct(mx200), other: otherAct,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/makers/" + f.maker(t, c).ID + "/check", check: mxExpect("devices", "0")}
			}},
	}
}
