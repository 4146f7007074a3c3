package issuance

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"math/big"
	"reflect"
	"strings"
	"testing"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3/lint"
)

// TestSmallKeyMatchesZlint: smallKeyLint gives the result and details of zlint's
// e_ecdsa_small_private_key for keys d*G and -d*G on P-256 and P-384: every d at the edges
// of the table (m = 2^16, the bound itself) and beyond it, d spread over 1..2^16+m, and
// random keys. For d in 1..2^16 both must find d itself, and nothing beyond.
func TestSmallKeyMatchesZlint(t *testing.T) {
	zl := lint.GlobalRegistry().CertificateLints().ByName(smallKeyLintName)
	if zl == nil {
		t.Fatalf("zlint has no %s", smallKeyLintName)
	}
	// smallKeyLint searches up to 2^smallKeyBits; zlint's default must be that bound.
	if bits := reflect.ValueOf(zl.Lint().(lint.Configurable).Configure()).Elem().FieldByName("Bits"); !bits.IsValid() || bits.Int() != smallKeyBits {
		t.Fatalf("zlint's %s Bits is %v, smallKeyLint searches %d", smallKeyLintName, bits, smallKeyBits)
	}
	ours := replaceSmallKeyLint([]*lint.CertificateLint{zl})[0]
	if ours == zl || ours.Name != zl.Name || ours.Source != zl.Source || ours.EffectiveDate != zl.EffectiveDate {
		t.Fatal("replaceSmallKeyLint did not replace the lint under the same metadata")
	}
	conf := lint.NewEmptyConfig()

	const m = 1 << smallKeyTableBits
	var ds []int64
	for d := int64(1); d <= 40; d++ {
		ds = append(ds, d)
	}
	// The table's last entries and the first scalars past the bound, and further out.
	for _, c := range []int64{m / 2, m, 3 * m / 2, 2 * m, 3 * m} {
		for k := int64(-3); k <= 3; k++ {
			ds = append(ds, c+k)
		}
	}

	for _, tc := range []struct {
		curve  elliptic.Curve
		stride int64
	}{{elliptic.P256(), 97}, {elliptic.P384(), 1499}} {
		name := tc.curve.Params().Name
		t.Run(name, func(t *testing.T) {
			samples := append([]int64(nil), ds...)
			for d := int64(1); d <= 1<<16+m; d += tc.stride {
				samples = append(samples, d)
			}
			check := func(label string, x, y *big.Int, want int64) {
				t.Helper()
				c := &zx509.Certificate{PublicKeyAlgorithm: zx509.ECDSA, PublicKey: &ecdsa.PublicKey{Curve: tc.curve, X: x, Y: y}, NotBefore: now}
				got, ref := ours.Execute(c, conf), zl.Execute(c, conf)
				if got.Status != ref.Status || got.Details != ref.Details {
					t.Fatalf("%s: %s %q, zlint gives %s %q", label, got.Status, got.Details, ref.Status, ref.Details)
				}
				var found int64
				if d := smallKeyLog(&ecdsa.PublicKey{Curve: tc.curve, X: x, Y: y}); d != nil {
					found = d.Int64()
				}
				if found != want {
					t.Fatalf("%s: found d=%d, want %d", label, found, want)
				}
				if (want != 0) != (got.Status == lint.Error) {
					t.Fatalf("%s: status %s", label, got.Status)
				}
			}
			p := tc.curve.Params()
			for _, d := range samples {
				x, y := tc.curve.ScalarBaseMult(big.NewInt(d).Bytes())
				want := d
				if d > 1<<16 {
					want = 0
				}
				check("d="+big.NewInt(d).String(), x, y, want)
				check("-d, d="+big.NewInt(d).String(), x, new(big.Int).Sub(p.P, y), want)
			}
			for i := range 8 {
				k, err := ecdsa.GenerateKey(tc.curve, rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				check("random key "+big.NewInt(int64(i)).String(), k.X, k.Y, 0)
			}
		})
	}
}

// TestSmallKeyLogConfirms: the table keeps 64 bits of X, so a hit is only a candidate. An X
// that shares its low 64 bits with 5*G's (5*G's X plus 2^64: no point a key could have, as no
// valid one is known to collide) finds nothing, because smallKeyLog computes 5*G to confirm.
func TestSmallKeyLogConfirms(t *testing.T) {
	curve := elliptic.P256()
	x, y := curve.ScalarBaseMult(big.NewInt(5).Bytes())
	if d := smallKeyLog(&ecdsa.PublicKey{Curve: curve, X: x, Y: y}); d == nil || d.Int64() != 5 {
		t.Fatalf("5*G: found %v, want 5", d)
	}
	near := new(big.Int).Add(x, new(big.Int).Lsh(big.NewInt(1), 64))
	if near.Uint64() != x.Uint64() {
		t.Fatal("the test's X does not share the low 64 bits")
	}
	if d := smallKeyLog(&ecdsa.PublicKey{Curve: curve, X: near, Y: y}); d != nil {
		t.Fatalf("an X sharing 5*G's low 64 bits: found %v, want nothing", d)
	}
}

// TestSmallKeyLintRefusesIssuance: Prepare refuses a factory certificate for a device key
// whose private scalar is small, or the negation of a small one, naming the lint.
func TestSmallKeyLintRefusesIssuance(t *testing.T) {
	h := newHierarchy(t, "ecdsa-p256")
	curve := elliptic.P256()
	for _, d := range []int64{1, 2, 1<<14 + 1, 1<<15 + 7, 1<<16 - 3, 1 << 16} {
		x, y := curve.ScalarBaseMult(big.NewInt(d).Bytes())
		for _, neg := range []bool{false, true} {
			if neg {
				y = new(big.Int).Sub(curve.Params().P, y)
			}
			tm, err := FactoryTemplate(factoryParams(&ecdsa.PublicKey{Curve: curve, X: x, Y: y}))
			if err != nil {
				t.Fatal(err)
			}
			_, err = h.issuer.Prepare(ProfileFactory, tm, rand.Reader)
			if err == nil || !strings.Contains(err.Error(), smallKeyLintName+": the ECDSA private key is "+big.NewInt(d).String()+",") {
				t.Errorf("d=%d negated=%t: Prepare gave %v, want the %s refusal", d, neg, err, smallKeyLintName)
			}
		}
	}
}

// TestMultiplesOfG: the batched additions give j*G, checked against ScalarBaseMult at the
// block edges (powers of two and their neighbours) and spread over the table, on both curves.
func TestMultiplesOfG(t *testing.T) {
	const m = 1 << 12
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384()} {
		xs, ys := multiplesOfG(curve, m)
		if len(xs) != m || len(ys) != m {
			t.Fatalf("%s: %d points, want %d", curve.Params().Name, len(xs), m)
		}
		var js []int
		for k := 1; k <= m; k *= 2 {
			js = append(js, k-1, k, k+1)
		}
		for j := 1; j <= m; j += 37 {
			js = append(js, j)
		}
		js = append(js, m)
		for _, j := range js {
			if j < 1 || j > m {
				continue
			}
			x, y := curve.ScalarBaseMult(big.NewInt(int64(j)).Bytes())
			if xs[j-1].Cmp(x) != 0 || ys[j-1].Cmp(y) != 0 {
				t.Fatalf("%s: entry %d is not %d*G", curve.Params().Name, j, j)
			}
		}
	}
}

// FuzzSmallKeyMatchesZlint: for any scalar d (folded into 1..2^16+m when small is set, m the
// table's size: the table's range and past the bound) the key d*G, or -d*G, gets the same
// result and details from smallKeyLint as from zlint's lint, on P-256.
func FuzzSmallKeyMatchesZlint(f *testing.F) {
	for _, s := range []struct {
		d          uint64
		neg, small bool
	}{{1, false, true}, {1 << 15, true, true}, {1<<15 + 1, false, true}, {1 << 16, true, true}, {1<<16 + 1, false, true}, {12345678901, false, false}, {1<<64 - 1, true, false}} {
		f.Add(s.d, s.neg, s.small)
	}
	zl := lint.GlobalRegistry().CertificateLints().ByName(smallKeyLintName)
	ours := replaceSmallKeyLint([]*lint.CertificateLint{zl})[0]
	conf := lint.NewEmptyConfig()
	curve := elliptic.P256()
	f.Fuzz(func(t *testing.T, d uint64, neg, small bool) {
		if small {
			d = d%(1<<16+1<<smallKeyTableBits) + 1
		}
		if d == 0 {
			return // the point at infinity is no key
		}
		x, y := curve.ScalarBaseMult(new(big.Int).SetUint64(d).Bytes())
		if neg {
			y = new(big.Int).Sub(curve.Params().P, y)
		}
		c := &zx509.Certificate{PublicKeyAlgorithm: zx509.ECDSA, PublicKey: &ecdsa.PublicKey{Curve: curve, X: x, Y: y}, NotBefore: now}
		got, ref := ours.Execute(c, conf), zl.Execute(c, conf)
		if got.Status != ref.Status || got.Details != ref.Details {
			t.Fatalf("d=%d negated=%t: %s %q, zlint gives %s %q", d, neg, got.Status, got.Details, ref.Status, ref.Details)
		}
	})
}
