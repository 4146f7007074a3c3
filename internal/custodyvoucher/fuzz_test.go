package custodyvoucher_test

import (
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/custodyvoucher"
	"github.com/hallmark-id/hallmark/internal/failure"
)

// FuzzParse feeds the voucher parser and the offline verifier: neither may panic, every
// refusal is Invalid or TooLarge, and what parses writes back to bytes that parse again.
func FuzzParse(f *testing.F) {
	p := build(&testing.T{})
	good, err := custodyvoucher.Marshal(p.v)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	short := *p.v
	short.Links = short.Links[:1]
	b, _ := custodyvoucher.Marshal(&short)
	f.Add(b)
	f.Add([]byte(`{"voucherType":"` + custodyvoucher.VoucherType + `","devices":[],"links":[]}`))
	f.Add([]byte(`{}`))
	tr := p.m.trust()
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := custodyvoucher.Parse(data)
		if err != nil {
			if !failure.Is(err, failure.Invalid) && !failure.Is(err, failure.TooLarge) {
				t.Fatalf("Parse error of kind other than Invalid/TooLarge: %v", err)
			}
			return
		}
		if _, err := custodyvoucher.Verify(v, tr, t0.Add(2*time.Hour)); err != nil && !failure.Is(err, failure.Invalid) {
			t.Fatalf("Verify error of kind other than Invalid: %v", err)
		}
		out, err := custodyvoucher.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := custodyvoucher.Parse(out); err != nil {
			t.Fatalf("a parsed voucher does not parse once written: %v", err)
		}
	})
}
