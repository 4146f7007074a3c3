package voucher

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestCustodyVoucherLeaf: a registrar voucher request carries a custody voucher under its
// namespaced member, which round-trips; the member is refused when it is not base64; and a
// signed registrar request above MaxSize verifies only when the caller allows
// MaxRegistrarRequest, as the MASA does.
func TestCustodyVoucherLeaf(t *testing.T) {
	file := bytes.Repeat([]byte(`{"custody":"voucher"}`), 4000) // 84 KB: above MaxSize
	r := Request{CreatedOn: time.Now().UTC().Truncate(time.Second), SerialNumber: "SN-1", PriorSignedVoucherRequest: []byte("signed"), CustodyVoucher: file}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"`+CustodyVoucherLeaf+`":`) {
		t.Fatalf("the request does not name %s: %.200s", CustodyVoucherLeaf, b)
	}
	got, err := ParseRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.CustodyVoucher, file) {
		t.Fatal("the custody voucher does not round-trip")
	}
	bad := `{"ietf-voucher-request:voucher": {"serial-number": "SN-1", "` + CustodyVoucherLeaf + `": "not base64!"}}`
	if _, err := ParseRequest([]byte(bad)); err == nil || !strings.Contains(err.Error(), CustodyVoucherLeaf) {
		t.Errorf("a custody voucher that is not base64: %v, want refused naming the member", err)
	}
	unqualified := `{"ietf-voucher-request:voucher": {"serial-number": "SN-1", "custody-voucher": "e30="}}`
	if _, err := ParseRequest([]byte(unqualified)); err == nil {
		t.Error("the member without its module name was accepted")
	}

	p := newPKI(t, "registrar")
	for _, m := range []string{MediaCMS, MediaJWS} {
		signed, err := Sign(m, b, p.signer)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(m, signed, VerifyOptions{}); err == nil {
			t.Errorf("%s: a %d-byte signed request verified under the default bound of %d", m, len(signed), MaxSize)
		}
		if _, err := Verify(m, signed, VerifyOptions{MaxSize: MaxRegistrarRequest}); err != nil {
			t.Errorf("%s: a %d-byte signed registrar request under MaxRegistrarRequest: %v", m, len(signed), err)
		}
	}
	huge := Request{SerialNumber: "SN-1", CustodyVoucher: make([]byte, MaxRegistrarRequest)}
	hb, _ := huge.Marshal()
	if _, err := ParseRequest(hb); err == nil {
		t.Errorf("a %d-byte request parsed, above MaxRegistrarRequest", len(hb))
	}
}
