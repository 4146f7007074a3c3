package audit_test

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
)

// The leaf of an event: version, seq, time, then length-prefixed fields; the detail is
// canonical JSON, so white space and key order do not matter.
func ExampleMarshalLeaf() {
	e := audit.Event{
		Seq: 42, At: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC),
		PartyID: "acme", PrincipalID: "prn_1", Action: "lot.create",
		Scope: "lot:lot_1", Detail: []byte(`{ "name": "L1", "line": 3 }`),
	}
	leaf, _ := audit.MarshalLeaf(e)
	fmt.Println(hex.EncodeToString(leaf[:17])) // version, seq, at
	fmt.Printf("%q\n", leaf[len(leaf)-26:])    // the detail's length and canonical JSON
	h, _ := audit.LeafHash(e)
	fmt.Println(len(h))
	// Output:
	// 01000000000000002a00066169085c7000
	// "\x00\x00\x00\x16{\"line\":3,\"name\":\"L1\"}"
	// 32
}
