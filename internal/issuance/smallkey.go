package issuance

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"fmt"
	"math/big"
	"slices"
	"sync"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3/lint"
)

// smallKeyLintName is the zlint lint that smallKeyLint stands in for.
const smallKeyLintName = "e_ecdsa_small_private_key"

// smallKeyBits is the bound zlint's e_ecdsa_small_private_key checks by default, and the
// only one Hallmark runs (its lint configuration is empty): a key is refused if its private
// scalar d, or its negation modulo the group order, is in 1..2^16. TestSmallKeyMatchesZlint
// fails if zlint's default changes.
const smallKeyBits = 16

// smallKeyTableBits sizes the table of known logarithms: j*G for 1 <= j <= 2^16, the whole
// range smallKeyBits asks about, so a key needs one look-up (smallKeyLog). zlint's own table
// has 2^12 entries and walks 18 giant steps per key (two walks of 9 additions through
// crypto/elliptic, each with a field inversion: 80 µs per P-256 certificate, a fifth of
// BenchmarkPrepareSign). A table of 2^15 entries still needed a window on each side, two
// additions through crypto/elliptic per key: BenchmarkLint's factory certificate went from
// 107.4 to 103.5 µs without them. The table is built once per curve and process on first
// use (multiplesOfG: 137 ms of CPU for P-256 and 178 ms for P-384, against 70 and 88 ms for
// 2^15 entries) and takes 2^16 * 12 bytes.
const smallKeyTableBits = smallKeyBits

// smallKeyLint is e_ecdsa_small_private_key with a shorter search: the same keys are
// refused (d or -d in 1..2^smallKeyBits), with the same result and details, so Linter runs
// it under zlint's name and metadata in place of zlint's (TestSmallKeyMatchesZlint compares
// both on small keys, their negations, the window edges and random keys).
type smallKeyLint struct{}

// CheckApplies is zlint's: every well-formed ECDSA key on its curve.
func (smallKeyLint) CheckApplies(c *zx509.Certificate) bool {
	key := ecdsaKeyOf(c)
	return key != nil && key.Curve != nil && key.X != nil && key.Y != nil && key.Curve.IsOnCurve(key.X, key.Y)
}

// Execute reports the small private key, in zlint's words, or passes.
func (smallKeyLint) Execute(c *zx509.Certificate) *lint.LintResult {
	d := smallKeyLog(ecdsaKeyOf(c))
	if d == nil {
		return &lint.LintResult{Status: lint.Pass}
	}
	return &lint.LintResult{
		Status: lint.Error,
		Details: fmt.Sprintf("the ECDSA private key is %s, or its negation modulo the group order, and so can be trivially recovered by anyone",
			d),
	}
}

// replaceSmallKeyLint returns lints with zlint's e_ecdsa_small_private_key, if present,
// replaced by smallKeyLint under the same metadata (name, source, effective dates).
func replaceSmallKeyLint(lints []*lint.CertificateLint) []*lint.CertificateLint {
	out := slices.Clone(lints)
	for i, cl := range out {
		if cl.Name == smallKeyLintName {
			r := *cl
			r.Lint = func() lint.CertificateLintInterface { return smallKeyLint{} }
			out[i] = &r
		}
	}
	return out
}

func ecdsaKeyOf(c *zx509.Certificate) *ecdsa.PublicKey {
	if c.PublicKeyAlgorithm != zx509.ECDSA {
		return nil
	}
	switch k := c.PublicKey.(type) {
	case *zx509.AugmentedECDSA:
		return k.Pub
	case *ecdsa.PublicKey:
		return k
	}
	return nil
}

// smallLogTable holds, for one curve, the low 64 bits of the X coordinate of j*G for
// 1 <= j <= m, sorted, with j beside each. A point and its negation share X, so a hit at j
// means the point is j*G or -j*G.
type smallLogTable struct {
	once sync.Once
	xs   []uint64 // sorted
	logs []uint32 // logs[i] is the j of xs[i]
}

var smallLogTables sync.Map // curve name -> *smallLogTable

func smallLogTableFor(curve elliptic.Curve) *smallLogTable {
	v, _ := smallLogTables.LoadOrStore(curve.Params().Name, &smallLogTable{})
	t := v.(*smallLogTable)
	t.once.Do(func() {
		const m = 1 << smallKeyTableBits
		type entry struct {
			x uint64
			j uint32
		}
		xs, _ := multiplesOfG(curve, m)
		entries := make([]entry, m)
		for j := range m {
			entries[j] = entry{xs[j].Uint64(), uint32(j + 1)}
		}
		slices.SortFunc(entries, func(a, b entry) int {
			switch {
			case a.x < b.x:
				return -1
			case a.x > b.x:
				return 1
			}
			return int(a.j) - int(b.j)
		})
		t.xs, t.logs = make([]uint64, m), make([]uint32, m)
		for i, e := range entries {
			t.xs[i], t.logs[i] = e.x, e.j
		}
	})
	return t
}

// multiplesOfG returns the affine coordinates of j*G for j = 1..m, at index j-1. It adds
// in blocks with one field inversion per block (Montgomery's trick) rather than one per
// point as crypto/elliptic's Add does: from 1*G..k*G it makes (k+i)*G = i*G + k*G for
// i = 1..k-1 together, and 2k*G by doubling. For m = 2^15 that took 87 ms of CPU on P-256
// and 109 ms on P-384, against 165 ms and 623 ms with crypto/elliptic's Add.
// TestSmallKeyMatchesZlint checks the table through the lint; TestMultiplesOfG checks points
// against ScalarBaseMult.
func multiplesOfG(curve elliptic.Curve, m int) (xs, ys []*big.Int) {
	params := curve.Params()
	p := params.P
	xs, ys = make([]*big.Int, 0, m), make([]*big.Int, 0, m)
	xs, ys = append(xs, new(big.Int).Set(params.Gx)), append(ys, new(big.Int).Set(params.Gy))
	prefix := make([]*big.Int, 0, m)
	lambda, t := new(big.Int), new(big.Int)
	for len(xs) < m {
		k := len(xs)
		xk, yk := xs[k-1], ys[k-1]
		n := min(k-1, m-k) // the i of this block, beside the doubling
		// prefix[i-1] = product of (x_i - x_k) for 1..i.
		prefix = prefix[:0]
		acc := big.NewInt(1)
		for i := 1; i <= n; i++ {
			d := new(big.Int).Sub(xs[i-1], xk)
			acc = new(big.Int).Mul(acc, d.Mod(d, p))
			acc.Mod(acc, p)
			prefix = append(prefix, acc)
		}
		inv := new(big.Int).ModInverse(acc, p) // acc != 0: x_i != x_k for i != ±k
		newX, newY := make([]*big.Int, n), make([]*big.Int, n)
		for i := n; i >= 1; i-- {
			// 1/(x_i - x_k) = inv * prefix[i-2]; then inv becomes 1/prefix[i-2].
			d := new(big.Int).Sub(xs[i-1], xk)
			invI := new(big.Int).Set(inv)
			if i > 1 {
				invI.Mul(invI, prefix[i-2]).Mod(invI, p)
			}
			inv.Mul(inv, d).Mod(inv, p)
			// lambda = (y_i - y_k) / (x_i - x_k); x3 = lambda^2 - x_i - x_k;
			// y3 = lambda (x_k - x3) - y_k.
			lambda.Sub(ys[i-1], yk).Mul(lambda, invI).Mod(lambda, p)
			x3 := new(big.Int).Mul(lambda, lambda)
			x3.Sub(x3, xs[i-1]).Sub(x3, xk).Mod(x3, p)
			y3 := t.Sub(xk, x3)
			y3 = new(big.Int).Mul(lambda, y3)
			y3.Sub(y3, yk).Mod(y3, p)
			newX[i-1], newY[i-1] = x3, y3
		}
		xs, ys = append(xs, newX...), append(ys, newY...)
		if len(xs) < m {
			x2, y2 := curve.Double(xk, yk)
			xs, ys = append(xs, x2), append(ys, y2)
		}
	}
	return xs[:m], ys[:m]
}

// smallKeyLog returns d with 0 < d <= 2^smallKeyBits such that d*G is pub or -pub, or nil if
// there is none: the answer of zlint's smallDiscreteLog (the d is unique, as d and -d are the
// only scalars of a point's X). pub must be a valid point of a named curve. A hit in the
// table is a candidate (it keeps 64 bits of X) and is confirmed by computing d*G.
func smallKeyLog(pub *ecdsa.PublicKey) *big.Int {
	params := pub.Curve.Params()
	if params.Name == "" || params.Gx == nil {
		return nil
	}
	t := smallLogTableFor(pub.Curve)
	key := pub.X.Uint64()
	i, _ := slices.BinarySearch(t.xs, key)
	for ; i < len(t.xs) && t.xs[i] == key; i++ {
		d := big.NewInt(int64(t.logs[i]))
		if gx, _ := pub.Curve.ScalarBaseMult(d.Bytes()); gx.Cmp(pub.X) == 0 {
			return d
		}
	}
	return nil
}
