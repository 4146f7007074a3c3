package makerstatus

import (
	"crypto/x509"
	"net"
	"net/http"
	"testing"

	"github.com/hallmark-id/hallmark/internal/makerstatus/makertest"
)

// The tests here use the openssl maker of package makertest (a root, an intermediate that
// issues IDevIDs, an OCSP responder certificate; its CRL and OCSP served on loopback), with
// its second device revoked (keyCompromise) in both. The lower-case names below keep the
// tests short.

func requireOpenSSL(t testing.TB) { makertest.RequireOpenSSL(t) }

const hwType = makertest.HWType

type maker struct {
	*makertest.Maker
	t                            testing.TB
	dir, served, crlURL, ocspURL string
	base                         string
	root, inter, responder       *x509.Certificate
	devices                      []*x509.Certificate
	serials                      []string
}

// newMaker builds the maker and revokes its second device.
func newMaker(t testing.TB) *maker {
	mk := makertest.New(t)
	mk.Revoke(2, "keyCompromise")
	return &maker{Maker: mk, t: t, dir: mk.Dir, served: mk.Served, crlURL: mk.CRLURL, ocspURL: mk.OCSPURL, base: mk.Base,
		root: mk.Root, inter: mk.Inter, responder: mk.Responder, devices: mk.Devices, serials: mk.Serials}
}

func (m *maker) openssl(args ...string) string                  { return m.OpenSSL(args...) }
func (m *maker) path(name string) string                        { return m.Path(name) }
func (m *maker) cert(name string) *x509.Certificate             { return m.Cert(name) }
func (m *maker) makeCRL(extra ...string) []byte                 { return m.MakeCRL(extra...) }
func (m *maker) publishCRL(name string, extra ...string) []byte { return m.PublishCRL(name, extra...) }
func (m *maker) publish(name string, data []byte)               { m.Publish(name, data) }

func listen(t testing.TB) net.Listener                   { return makertest.Listen(t) }
func serve(t testing.TB, l net.Listener, h http.Handler) { makertest.Serve(t, l, h) }
func write(t testing.TB, name, data string)              { makertest.Write(t, name, data) }
