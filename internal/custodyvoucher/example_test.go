package custodyvoucher_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/custodyvoucher"
)

// A maker hands two devices to a distributor, which hands them on to an operator offline;
// the operator checks the whole chain against the maker's anchor and build-record key.
func Example() {
	t := &testing.T{} // the fixture's helpers report errors through it
	m := newMaker(t)
	dist, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	op, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	// At the maker: link 0, signed by the maker's build-record key.
	v, err := custodyvoucher.New([]custodyvoucher.Device{m.device(t, "SN-2"), m.device(t, "SN-1")}, m.recordKey,
		custodyvoucher.Handover{From: "maker", To: "dist", ToKey: dist.Public(), Now: t0, TTL: 24 * time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	// At the distributor, with no server: link 1, signed by the key link 0 addressed.
	if err := custodyvoucher.Extend(v, dist, custodyvoucher.Handover{From: "dist", To: "op", ToKey: op.Public(), Now: t0.Add(time.Hour), TTL: 24 * time.Hour}); err != nil {
		fmt.Println(err)
		return
	}
	file, _ := custodyvoucher.Marshal(v)

	// At the operator: parse and verify offline.
	got, err := custodyvoucher.Parse(file)
	if err != nil {
		fmt.Println(err)
		return
	}
	trust := m.trust()
	trust.Addressee = op.Public()
	ver, err := custodyvoucher.Verify(got, trust, t0.Add(2*time.Hour))
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, l := range ver.Links {
		fmt.Printf("link %d: %s -> %s\n", i, l.From, l.To)
	}
	fmt.Println(len(ver.Devices), "devices, first", ver.Devices[0].Serial)

	// The distributor cannot hand them on again: the voucher is the operator's now.
	err = custodyvoucher.Extend(got, dist, custodyvoucher.Handover{To: "x", ToKey: dist.Public(), Now: t0.Add(3 * time.Hour), TTL: time.Hour})
	fmt.Println(err != nil)
	// Output:
	// link 0: maker -> dist
	// link 1: dist -> op
	// 2 devices, first SN-1
	// true
}
