package operational

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/authority"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// rerunStore runs every write function once in a transaction it rolls back, then for real:
// as a retry or group commit's re-run of a batch does, which Update's contract allows.
type rerunStore struct{ store.Store }

var errFirstRun = errors.New("first run rolled back by the test")

func (s rerunStore) Update(c context.Context, fn func(store.Tx) error) error {
	if err := s.Store.Update(c, func(tx store.Tx) error { _ = fn(tx); return errFirstRun }); !errors.Is(err, errFirstRun) {
		return err
	}
	return s.Store.Update(c, fn)
}

// TestChallengeRefusalCountedOnce: a refused challenge is counted once however often Update
// runs its write function. The function used to count the refusal itself, so a re-run
// counted it twice.
func TestChallengeRefusalCountedOnce(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hallmark.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rs := rerunStore{st}
	s := New(Config{Store: rs, Authority: authority.New(authority.Config{Store: rs, Now: time.Now})})
	a := audit.Actor{PartyID: "op", PrincipalID: "prn_op"}
	for i := 1; i <= 3; i++ {
		_, err := s.NewChallenge(ctx, a, ChallengeRequest{Purpose: PurposeRenew, CertificateSerial: "7b", CSRKeySHA256: strings.Repeat("0f", 32)})
		if !failure.Is(err, failure.NotFound) {
			t.Fatalf("a challenge to renew an unknown certificate: %v, want not found", err)
		}
		if _, refused := s.PossessionCounts(); refused[refusedDuty] != int64(i) {
			t.Fatalf("after %d refusals, %s counts %d", i, refusedDuty, refused[refusedDuty])
		}
	}
}
