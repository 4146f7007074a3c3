package status

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/hallmark-id/hallmark/internal/ca"
)

// URLs builds the AIA OCSP and CRL distribution point URLs that certificates carry, from a
// public base URL that may be set after the services are built (the dev server learns its
// port only once it listens). Until it is set, certificates carry neither extension.
type URLs struct {
	base atomic.Pointer[string]
}

// SetBase sets the public base URL, such as "http://status.example.net" or
// "https://hallmark.example:8443"; a trailing slash is ignored.
func (u *URLs) SetBase(base string) error {
	p, err := url.Parse(base)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.User != nil || p.RawQuery != "" || p.Fragment != "" {
		return fmt.Errorf("status: public base URL %q must be http(s)://host[:port][/path]", base)
	}
	b := strings.TrimRight(base, "/")
	u.base.Store(&b)
	return nil
}

// Base returns the base URL, "" when unset.
func (u *URLs) Base() string {
	if b := u.base.Load(); b != nil {
		return *b
	}
	return ""
}

// For returns the OCSP and CRL URLs of a certificate of CA c for device deviceID, or nils
// while no base is set. Under a partitioned CA a device's certificate names its partition CRL,
// <base>/crl/<ca-id>-<p>.crl with p = ca.DevicePartition (the partition the authority records
// at reservation); any other certificate names the CA's full CRL, <base>/crl/<ca-id>.crl.
// It has the signature the manufacturing and operational services take as their StatusURLs.
func (u *URLs) For(c ca.CA, deviceID string) (ocsp, crl []string) {
	b := u.Base()
	if b == "" {
		return nil, nil
	}
	if c.CRLPartitions > 0 && deviceID != "" {
		return []string{b + "/ocsp/" + c.ID}, []string{partitionURL(b, c.ID, ca.DevicePartition(deviceID, c.CRLPartitions))}
	}
	return []string{b + "/ocsp/" + c.ID}, []string{b + "/crl/" + c.ID + ".crl"}
}

// ForCA returns the URLs that a certificate signed by CA parent (an issuing CA's
// certificate, signed by its root) carries: parent's OCSP responder, parent's full CRL, and
// parent's own certificate (caIssuers, served by CACertHandler), or nils while no base is
// set. It has the signature authority.Config.CAStatusURLs takes.
func (u *URLs) ForCA(parent ca.CA) (ocsp, crl, issuers []string) {
	b := u.Base()
	if b == "" {
		return nil, nil, nil
	}
	return []string{b + "/ocsp/" + parent.ID}, []string{b + "/crl/" + parent.ID + ".crl"}, []string{b + "/ca/" + parent.ID + ".cer"}
}

// partitionURL is the URL of partition p of caID's CRL under base: the certificates' CRL
// distribution point and the partition CRL's issuingDistributionPoint.
func partitionURL(base, caID string, p int) string {
	return base + "/crl/" + caID + "-" + strconv.Itoa(p) + ".crl"
}
