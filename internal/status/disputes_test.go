package status

import (
	"bytes"
	"crypto"
	"fmt"
	"testing"

	"github.com/hallmark-id/hallmark/internal/ca"
)

// serialSet is a Disputes of fixed serials (auditlog.Disputes is the real one; status may not
// import it).
type serialSet map[string]struct{}

func (s serialSet) Disputed(serial string) bool { _, ok := s[serial]; return ok }
func (s serialSet) Len() int                    { return len(s) }

// TestDisputedAnswersTryLater: a certificate whose row disagrees with the audit log is answered
// tryLater, even when a good answer is cached, and counted; the others are answered as before.
func TestDisputedAnswersTryLater(t *testing.T) {
	f := newFixture(t)
	bad, good := f.issue(t), f.issue(t)
	set := serialSet{}
	f.cfg.Disputes = set
	f.svc = New(f.cfg)
	if err := f.svc.loadCAs(ctx); err != nil {
		t.Fatal(err)
	}
	reqBad := request(t, f.issuing.Cert, crypto.SHA1, bad.SerialNumber, nil)
	reqGood := request(t, f.issuing.Cert, crypto.SHA1, good.SerialNumber, nil)
	first, _ := f.svc.Respond(ctx, "", reqBad) // cached: good
	if bytes.Equal(first, respTryLater) {
		t.Fatal("tryLater before any dispute")
	}
	set[ca.SerialHex(bad.SerialNumber)] = struct{}{}
	if got, age := f.svc.Respond(ctx, "", reqBad); !bytes.Equal(got, respTryLater) || age != 0 {
		t.Errorf("disputed certificate: answer %x (max-age %d), want tryLater, not cached", got, age)
	}
	if got, _ := f.svc.Respond(ctx, "", reqGood); bytes.Equal(got, respTryLater) {
		t.Error("an undisputed certificate got tryLater")
	}
	if st := f.svc.Stats(); st.OCSPDisputed != 1 || st.Disputed != 1 {
		t.Errorf("stats: %d disputed answers, %d disputed certificates; want 1 and 1", st.OCSPDisputed, st.Disputed)
	}
}

// BenchmarkRespondCachedDisputes is BenchmarkRespondCached with 1000 other certificates
// disputed: the check costs one map look-up on the hot path.
func BenchmarkRespondCachedDisputes(b *testing.B) {
	f := newFixture(b)
	c := f.issue(b)
	set := serialSet{}
	for i := range 1000 {
		set[fmt.Sprintf("%x", 1<<40+i)] = struct{}{}
	}
	f.cfg.Disputes = set
	f.svc = New(f.cfg)
	if err := f.svc.loadCAs(ctx); err != nil {
		b.Fatal(err)
	}
	req := request(b, f.issuing.Cert, crypto.SHA1, c.SerialNumber, nil)
	want, _ := f.svc.Respond(ctx, "", req)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if got, _ := f.svc.Respond(ctx, "", req); len(got) != len(want) {
				b.Fatal("not the cached answer")
			}
		}
	})
}
