package app

import (
	"context"
	"time"
)

// challengePurgeEvery is how often the leader deletes expired challenges (at most
// operational.ChallengeLife + this after their creation).
const challengePurgeEvery = time.Minute

// runChallengePurge deletes expired challenges every interval until ctx ends, on the replica
// that leads only, by the expires_at index and off the onboarding path.
func (a *App) runChallengePurge(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, _ = a.purgeChallenges(ctx)
	}
}

// purgeChallenges runs one purge when this replica leads, fenced by its term so that a deposed
// leader deletes nothing; it returns how many challenges it deleted.
func (a *App) purgeChallenges(ctx context.Context) (int, error) {
	term, ok := a.Leader.Current()
	if !ok {
		return 0, nil
	}
	n, err := a.Operational.PurgeChallenges(ctx, term.Fence)
	if err != nil && ctx.Err() == nil {
		a.Log.Warn("challenges: purging expired ones", "err", err)
	} else if n > 0 {
		a.Log.Debug("challenges: purged expired ones", "count", n)
	}
	return n, err
}
