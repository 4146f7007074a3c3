package custodyvoucher_test

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/hallmark-id/hallmark/internal/custodyvoucher"
	"github.com/hallmark-id/hallmark/internal/failure"
)

// chain builds maker -> distributor -> operator for two devices and returns the voucher with
// the keys.
type parties struct {
	m         *maker
	dist, op  crypto.Signer
	v         *custodyvoucher.Voucher
	otherDist crypto.Signer
}

func handover(from, to string, key crypto.PublicKey, now time.Time) custodyvoucher.Handover {
	return custodyvoucher.Handover{From: from, To: to, ToKey: key, Now: now, TTL: 24 * time.Hour}
}

func build(t *testing.T) parties {
	t.Helper()
	m := newMaker(t)
	p := parties{m: m, dist: newKey(t), op: newKey(t), otherDist: newKey(t)}
	v, err := custodyvoucher.New([]custodyvoucher.Device{m.device(t, "SN-2"), m.device(t, "SN-1")}, m.recordKey, handover("maker", "dist", p.dist.Public(), t0))
	if err != nil {
		t.Fatal(err)
	}
	if err := custodyvoucher.Extend(v, p.dist, handover("dist", "op", p.op.Public(), t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	p.v = v
	return p
}

// roundTrip writes and reads v as a file, as every reader sees it.
func roundTrip(t *testing.T, v *custodyvoucher.Voucher) *custodyvoucher.Voucher {
	t.Helper()
	b, err := custodyvoucher.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := custodyvoucher.Parse(b)
	if err != nil {
		t.Fatalf("Parse of a written voucher: %v", err)
	}
	return out
}

func TestVerifyChain(t *testing.T) {
	p := build(t)
	tr := p.m.trust()
	tr.Addressee = p.op.Public()
	got, err := custodyvoucher.Verify(roundTrip(t, p.v), tr, t0.Add(2*time.Hour))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if len(got.Devices) != 2 || got.Devices[0].Serial != "SN-1" || got.Devices[1].Serial != "SN-2" {
		t.Errorf("devices = %+v, want SN-1, SN-2 in order", got.Devices)
	}
	if len(got.Links) != 2 || got.Links[1].Previous != got.Hashes[0] || got.Links[0].To != "dist" {
		t.Errorf("links = %+v", got.Links)
	}
	if want, _ := custodyvoucher.KeyID(p.op.Public()); got.HolderKeyID != want {
		t.Errorf("holder %s, want %s", got.HolderKeyID, want)
	}
	b1, _ := custodyvoucher.Marshal(p.v)
	b2, _ := custodyvoucher.Marshal(roundTrip(t, p.v))
	if !bytes.Equal(b1, b2) {
		t.Error("Marshal(Parse(Marshal(v))) differs from Marshal(v)")
	}
}

// resignRecord replaces a build record's payload with a changed one (signatures kept).
func tamperRecord(t *testing.T, env *dsse.Envelope) *dsse.Envelope {
	p, _ := env.DecodeB64Payload()
	out := *env
	out.Payload = base64.StdEncoding.EncodeToString(bytes.Replace(p, []byte(`"lot-1"`), []byte(`"lot-9"`), 1))
	return &out
}

func TestVerifyRefusals(t *testing.T) {
	at := t0.Add(2 * time.Hour)
	cases := []struct {
		name   string
		change func(t *testing.T, p *parties, tr *custodyvoucher.Trust) time.Time
		want   string
	}{
		{"truncated at the end", func(t *testing.T, p *parties, tr *custodyvoucher.Trust) time.Time {
			p.v.Links = p.v.Links[:1]
			return at
		}, "wrong addressee, or a truncated chain"},
		{"truncated at the start", func(t *testing.T, p *parties, tr *custodyvoucher.Trust) time.Time {
			p.v.Links = p.v.Links[1:]
			return at
		}, "re-ordered or truncated"},
		{"re-ordered", func(t *testing.T, p *parties, tr *custodyvoucher.Trust) time.Time {
			p.v.Links[0], p.v.Links[1] = p.v.Links[1], p.v.Links[0]
			return at
		}, "re-ordered or truncated"},
		{"wrong addressee", func(t *testing.T, p *parties, tr *custodyvoucher.Trust) time.Time {
			tr.Addressee = p.otherDist.Public()
			return at
		}, "wrong addressee"},
		{"tampered build record", func(t *testing.T, p *parties, tr *custodyvoucher.Trust) time.Time {
			p.v.Devices[0].BuildRecord = tamperRecord(t, p.v.Devices[0].BuildRecord)
			return at
		}, "no valid signature"},
		{"device removed", func(t *testing.T, p *parties, tr *custodyvoucher.Trust) time.Time {
			p.v.Devices = p.v.Devices[1:]
			return at
		}, "signed for other devices"},
		{"another maker's anchor", func(t *testing.T, p *parties, tr *custodyvoucher.Trust) time.Time {
			tr.Anchors = newMaker(t).trust().Anchors
			return at
		}, "factory chain"},
		{"link 0 not by the maker's key", func(t *testing.T, p *parties, tr *custodyvoucher.Trust) time.Time {
			other := newMaker(t)
			tr.BuildRecordKeys = append(tr.BuildRecordKeys, &other.recordKey.PublicKey)
			v, err := custodyvoucher.New(p.v.Devices, other.recordKey, handover("x", "op", p.op.Public(), t0))
			if err != nil {
				t.Fatal(err)
			}
			tr.BuildRecordKeys = tr.BuildRecordKeys[:1]
			p.v = v
			return at
		}, "link 0 is not signed by a build-record key"},
		{"extended by a party it was not addressed to", func(t *testing.T, p *parties, tr *custodyvoucher.Trust) time.Time {
			// A forger appends a link signed by its own key, naming itself the sender.
			forged := *p.v
			forged.Links = append([]*dsse.Envelope(nil), p.v.Links[:1]...)
			p.v = &forged
			v2, err := custodyvoucher.New(p.v.Devices, p.m.recordKey, handover("maker", "dist", p.otherDist.Public(), t0))
			if err != nil {
				t.Fatal(err)
			}
			if err := custodyvoucher.Extend(v2, p.otherDist, handover("x", "op", p.op.Public(), t0.Add(time.Hour))); err != nil {
				t.Fatal(err)
			}
			p.v.Links = append(p.v.Links, v2.Links[1]) // names v2's link 0, which this voucher does not hold
			return at
		}, "re-ordered or truncated"},
		{"last link expired", func(t *testing.T, p *parties, tr *custodyvoucher.Trust) time.Time {
			return t0.Add(26 * time.Hour)
		}, "may be accepted from"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := build(t)
			tr := p.m.trust()
			tr.Addressee = p.op.Public()
			now := c.change(t, &p, &tr)
			b, err := custodyvoucher.Marshal(p.v)
			if err != nil {
				t.Fatal(err)
			}
			v, err := custodyvoucher.Parse(b)
			if err == nil {
				_, err = custodyvoucher.Verify(v, tr, now)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
			if !failure.Is(err, failure.Invalid) {
				t.Errorf("kind of %v is not Invalid", err)
			}
		})
	}
}

func TestExtendOnlyByAddressee(t *testing.T) {
	p := build(t)
	err := custodyvoucher.Extend(p.v, p.dist, handover("dist", "x", p.otherDist.Public(), t0.Add(2*time.Hour)))
	if err == nil || !strings.Contains(err.Error(), "only the current addressee") {
		t.Fatalf("Extend by the previous holder: err = %v", err)
	}
	if len(p.v.Links) != 2 {
		t.Errorf("a refused Extend changed the voucher: %d links", len(p.v.Links))
	}
	if err := custodyvoucher.Extend(p.v, p.op, handover("op", "x", p.otherDist.Public(), t0.Add(30*time.Hour))); err == nil {
		t.Fatal("Extend after the last link expired succeeded")
	}
}

func TestParseStrict(t *testing.T) {
	p := build(t)
	good, err := custodyvoucher.Marshal(p.v)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(good, &generic); err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]string{
		"unknown key":   strings.Replace(string(good), `"voucherType"`, `"extra": 1, "voucherType"`, 1),
		"duplicate key": strings.Replace(string(good), `"voucherType"`, `"links": [], "voucherType"`, 1),
		"case folded":   strings.Replace(string(good), `"voucherType"`, `"VoucherType"`, 1),
		"trailing data": string(good) + "{}",
		"wrong type":    strings.Replace(string(good), custodyvoucher.VoucherType, "https://example.com/x", 1),
		"no devices":    `{"voucherType":"` + custodyvoucher.VoucherType + `","devices":[],"links":[]}`,
		"unsorted":      swapDevices(t, p.v),
	} {
		if _, err := custodyvoucher.Parse([]byte(in)); err == nil {
			t.Errorf("%s: Parse accepted it", name)
		}
	}
	if _, err := custodyvoucher.Parse(make([]byte, custodyvoucher.MaxBytes+1)); !failure.Is(err, failure.TooLarge) {
		t.Errorf("oversized: %v", err)
	}
}

func swapDevices(t *testing.T, v *custodyvoucher.Voucher) string {
	c := *v
	c.Devices = []custodyvoucher.Device{v.Devices[1], v.Devices[0]}
	b, err := custodyvoucher.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
