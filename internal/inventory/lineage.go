package inventory

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/revocation"
)

// FactoryLink is one factory identity of a device: the one it was made with, then one per
// repair (manufacturing.RepairApproved). Every one but the current is revoked as superseded.
type FactoryLink struct {
	Serial    string     `json:"serial"`
	State     string     `json:"state"`
	Reason    string     `json:"revocation_reason,omitempty"`
	IssuedAt  *time.Time `json:"issued_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// BuildRecordSHA256 is the digest of the build record the certificate binds (hex).
	BuildRecordSHA256 string `json:"build_record_sha256,omitempty"`
	// SupersededBy is the factory identity that replaced this one, if any.
	SupersededBy string `json:"superseded_by,omitempty"`
	Current      bool   `json:"current"`
}

// factoryLineage lists the signed factory certificates among certs (ordered by creation), each
// with the build record it binds, oldest first; current is the device's factory certificate.
func factoryLineage(certs []ca.Cert, current string) []FactoryLink {
	out := []FactoryLink{}
	for _, c := range certs {
		if c.Profile != string(issuance.ProfileFactory) || c.State == ca.Reserved {
			continue
		}
		l := FactoryLink{Serial: c.SerialHex, State: string(c.State), IssuedAt: c.IssuedAt, RevokedAt: c.RevokedAt, Current: c.SerialHex == current}
		if c.Reason != nil {
			l.Reason = revocation.Reason(*c.Reason).String()
		}
		if x, err := x509.ParseCertificate(c.DER); err == nil {
			if d, err := issuance.BuildRecordDigestOf(x); err == nil {
				l.BuildRecordSHA256 = fmt.Sprintf("%x", d)
			}
		}
		if n := len(out); n > 0 {
			out[n-1].SupersededBy = l.Serial
		}
		out = append(out, l)
	}
	return out
}
