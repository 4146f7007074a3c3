package storetest

import (
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/store"
)

var refusalTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"RefusalsByPartySubjectAndTime", testRefusals},
}

// testRefusals: ListRefusals returns refusal events only, newest first, filtered by party,
// subject and time, and limited.
func testRefusals(t *testing.T, s store.Store) {
	mustUpdate(t, s, func(tx store.Tx) error {
		for i, e := range []audit.Event{
			{At: t0, PartyID: "p1", PrincipalID: "u1", Action: store.RefusalAction, Subject: "device:d1", Detail: []byte(`{"count":1}`)},
			{At: t0.Add(time.Minute), PartyID: "p1", PrincipalID: "u1", Action: "custody.offer", Subject: "device:d1"},
			{At: t0.Add(2 * time.Minute), PartyID: "p2", PrincipalID: "u2", Action: store.RefusalAction, Subject: "device:d1"},
			{At: t0.Add(3 * time.Minute), PartyID: "p1", PrincipalID: "u1", Action: store.RefusalAction, Subject: "lot:l1"},
		} {
			if _, err := tx.Audit().Append(e); err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
		}
		return nil
	})
	for _, tc := range []struct {
		name string
		f    store.RefusalFilter
		want []string // principal@subject, newest first
	}{
		{"all", store.RefusalFilter{}, []string{"u1@lot:l1", "u2@device:d1", "u1@device:d1"}},
		{"party", store.RefusalFilter{PartyID: "p1"}, []string{"u1@lot:l1", "u1@device:d1"}},
		{"subject", store.RefusalFilter{Subject: "device:d1"}, []string{"u2@device:d1", "u1@device:d1"}},
		{"since", store.RefusalFilter{Since: t0.Add(2 * time.Minute)}, []string{"u1@lot:l1", "u2@device:d1"}},
		{"limit", store.RefusalFilter{Limit: 1}, []string{"u1@lot:l1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			err := s.View(ctx, func(tx store.Tx) error {
				got = nil // a read may run again
				evs, err := tx.Refusals().ListRefusals(tc.f)
				for _, e := range evs {
					got = append(got, e.PrincipalID+"@"+e.Subject)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}
