package app

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
)

// The custody voucher rows: every party that can hold devices registers custody keys and
// exports what it holds; auditors and the deployment administrator hold nothing and are
// refused; a voucher is read only by the party that exported or imported it.

// mxPublicKeyPEM is a fresh public key, PEM.
func mxPublicKeyPEM(t *testing.T) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(mxKey(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// voucherOf is a voucher exported by fabrikam (own) or initech (other), made at first use.
func (f *mxFixture) voucherOf(t *testing.T, c mxCell) string {
	t.Helper()
	who := mxPick(c, station, mxIan)
	if id := f.vouchers[who]; id != "" {
		return id
	}
	d := mxPick(c, f.heldBy(t, "fabrikam"), f.issue(t, mxIan, f.lotB))
	var v struct{ ID string }
	f.s.must(t, 201, who, "POST", "/v1/custody/vouchers/export", map[string]any{"device_ids": []string{d.ID}, "to": "elsewhere", "to_key_pem": mxPublicKeyPEM(t)}).json(t, &v)
	if f.vouchers == nil {
		f.vouchers = map[string]string{}
	}
	f.vouchers[who] = v.ID
	return v.ID
}

func mxVoucherRows() []mxRow {
	holders := mxBy{mx201, mx201, mx201, mx201, mx201, mx403, mx403, mx201}
	return []mxRow{
		{op: "POST /v1/custody/keys", own: holders, other: holders,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/custody/keys", body: map[string]any{"name": f.name("ck"), "public_key_pem": mxPublicKeyPEM(t)},
					check: f.readBack(c.who, "/v1/custody/keys", "key_id")}
			}},
		{op: "GET /v1/custody/keys", own: mxAll(mx200), other: mxAll(mx200),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq { return mxReq{path: "/v1/custody/keys"} }},
		{op: "POST /v1/custody/vouchers/export",
			// As for a transfer: a party exports what it holds; globex sees nothing of world A's device.
			own: mxBy{mx201, mx201, mx201, mx201, mx404, mx403, mx403, mx201}, other: mxBy{mx404, mx404, mx404, mx404, mx404, mx403, mx403, mx404},
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				d := f.deviceFor(c)
				if c.allowed() {
					d = f.heldBy(t, c.party)
				}
				return mxReq{path: "/v1/custody/vouchers/export", body: map[string]any{"device_ids": []string{d.ID}, "to": "elsewhere", "to_key_pem": mxPublicKeyPEM(t)},
					check: f.readBack(c.who, "/v1/custody/vouchers/%s", "id", "direction", "export", "devices", "1")}
			}},
		{op: "POST /v1/custody/vouchers/import",
			// No party of the matrix registered a maker with a build-record key: a holder's import
			// is refused as invalid once it is allowed to try.
			own: mxBy{mx400, mx400, mx400, mx400, mx400, mx403, mx403, mx400}, other: mxBy{mx400, mx400, mx400, mx400, mx400, mx403, mx403, mx400},
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/custody/vouchers/import", body: map[string]any{"voucherType": "https://hallmark.dev/custody-voucher/v1", "devices": []any{}, "links": []any{}}}
			}},
		{op: "GET /v1/custody/vouchers", own: mxAll(mx200), other: mxAll(mx200),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq { return mxReq{path: "/v1/custody/vouchers"} }},
		{op: "GET /v1/custody/vouchers/{id}", own: mxOnly(mx200, mx404, "fabrikam"), other: mxAll(mx404),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				id := f.voucherOf(t, c)
				return mxReq{path: "/v1/custody/vouchers/" + id, check: mxExpect("id", id)}
			}},
	}
}
