package status

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/store"
)

// serialSet is a Disputes of fixed serials (auditlog.Disputes is the real one; status may not
// import it).
type serialSet map[string]struct{}

func (s serialSet) Disputed(serial string) bool { _, ok := s[serial]; return ok }
func (s serialSet) Len() int                    { return len(s) }
func (s serialSet) Generation() uint64          { return uint64(len(s)) } // the tests only add

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

// TestDisputedCertificatesOnHoldInCRLs: a CRL lists a certificate whose row disagrees with
// the audit log on hold (certificateHold, revoked when the dispute was found), in the full
// CRL and in its own partition only; the builder rebuilds when the disputed set changes, and
// drops the hold once the dispute is settled. Undisputed certificates are unaffected.
func TestDisputedCertificatesOnHoldInCRLs(t *testing.T) {
	f := newFixture(t)
	bad, good := f.issue(t), f.issue(t)
	var set atomicSet
	f.cfg.Disputes, f.cfg.FullCRLMinGap = &set, 50*time.Millisecond
	f.svc = New(f.cfg)
	run, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := f.svc.Start(run); err != nil {
		t.Fatal(err)
	}
	var badRow ca.Cert
	if err := f.st.View(ctx, func(tx store.Tx) (err error) { badRow, err = tx.Certificates().GetCert(bad.SerialNumber); return err }); err != nil {
		t.Fatal(err)
	}
	found := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	dispute := func(ds []store.Dispute) {
		t.Helper()
		if err := f.st.Update(ctx, func(tx store.Tx) error {
			if err := tx.StateRows().SetDisputes(true, nil, ds); err != nil {
				return err
			}
			_, err := tx.Audit().Append(ev("audit.reconcile"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		serials := []string{}
		for _, d := range ds {
			serials = append(serials, d.Serial)
		}
		set.set(serials)
	}
	// holds lists the serials a CRL holds, once it has settled to want (bounded wait).
	holds := func(part int, want int) map[string]x509.RevocationListEntry {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var der []byte
			var err error
			if part < 0 {
				der, err = f.svc.CRL(ctx, f.issuing.ID)
			} else {
				der, err = f.svc.PartitionCRL(ctx, f.issuing.ID, part)
			}
			if err != nil {
				t.Fatal(err)
			}
			rl, err := x509.ParseRevocationList(der)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]x509.RevocationListEntry{}
			for _, e := range rl.RevokedCertificateEntries {
				got[ca.SerialHex(e.SerialNumber)] = e
			}
			if len(got) == want || time.Now().After(deadline) {
				return got
			}
		}
	}
	if err := f.svc.c.URLs.SetBase("http://status.example"); err != nil {
		t.Fatal(err)
	}
	if got := holds(-1, 0); len(got) != 0 {
		t.Fatalf("the CRL lists %d certificates before any dispute", len(got))
	}
	dispute([]store.Dispute{{Serial: ca.SerialHex(bad.SerialNumber), Row: "issued", Log: "revoked", FoundAt: found}})
	got := holds(-1, 1)
	e, ok := got[ca.SerialHex(bad.SerialNumber)]
	if !ok || len(got) != 1 {
		t.Fatalf("the full CRL lists %v, want the disputed certificate alone", got)
	}
	if e.ReasonCode != reasonCertificateHold || !e.RevocationTime.Equal(found) {
		t.Errorf("the disputed certificate is listed for reason %d at %s, want certificateHold at %s", e.ReasonCode, e.RevocationTime, found)
	}
	if _, listed := got[ca.SerialHex(good.SerialNumber)]; listed {
		t.Error("the undisputed certificate is listed")
	}
	if got := holds(badRow.CRLPartition, 1); len(got) != 1 {
		t.Errorf("the disputed certificate's partition CRL lists %d certificates, want 1", len(got))
	}
	other := (badRow.CRLPartition + 1) % f.issuing.CRLPartitions
	if got := holds(other, 0); len(got) != 0 {
		t.Errorf("partition %d lists %d certificates, want none", other, len(got))
	}
	// Settled: the hold is dropped from the next CRL.
	dispute(nil)
	if got := holds(-1, 0); len(got) != 0 {
		t.Errorf("after the dispute was settled the CRL still lists %v", got)
	}
}

// atomicSet is a Disputes that may change while the service runs.
type atomicSet struct {
	mu  sync.Mutex
	m   map[string]struct{}
	gen uint64
}

func (s *atomicSet) set(serials []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m = map[string]struct{}{}
	for _, k := range serials {
		s.m[k] = struct{}{}
	}
	s.gen++
}

func (s *atomicSet) Disputed(serial string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[serial]
	return ok
}

func (s *atomicSet) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (s *atomicSet) Generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}
