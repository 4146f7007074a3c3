package issuance

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/oid"
)

// FuzzSupportScope parses support scope extensions as a gateway would read them from a
// presented certificate. Seeds are real encodings of a device grant and a lot grant.
func FuzzSupportScope(f *testing.F) {
	for _, sc := range []SupportScope{
		{GrantID: "sup_abc", EnvironmentID: "env_1", Devices: []string{"dev_1", "dev_2"}},
		{GrantID: "sup_def", EnvironmentID: "env_1", LotID: "lot_7"},
	} {
		b, err := sc.marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, value []byte) {
		c := &x509.Certificate{Extensions: []pkix.Extension{{Id: oid.SupportScope, Value: value}}}
		s, err := SupportScopeOf(c)
		if err != nil {
			if failure.KindOf(err) != failure.Invalid {
				t.Fatalf("error of kind %v: %v", failure.KindOf(err), err)
			}
			return
		}
		if s.GrantID == "" {
			t.Fatal("accepted a scope without a grant")
		}
		// What parses re-encodes to a scope that parses the same way.
		if s.LotID != "" && len(s.Devices) != 0 || s.EnvironmentID == "" || s.LotID == "" && len(s.Devices) == 0 {
			return // decodable but not one Hallmark would issue; marshal refuses it
		}
		if len(s.Devices) > MaxSupportDevices {
			return
		}
		b, err := s.marshal()
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", s, err)
		}
		c.Extensions[0].Value = b
		s2, err := SupportScopeOf(c)
		if err != nil || s2.GrantID != s.GrantID || s2.LotID != s.LotID || len(s2.Devices) != len(s.Devices) {
			t.Fatalf("round trip %+v -> %+v, %v", s, s2, err)
		}
	})
}
