package sqlstore

import "github.com/hallmark-id/hallmark/internal/store"

// Epochs reads cache_epochs (migration 0027), whose triggers (migrations 0027 and 0030) move
// the governance epoch.
func (t *tx) Epochs() store.Epochs { return epochs{t} }

type epochs struct{ t *tx }

func (e epochs) Epoch(name string) (int64, error) {
	var v int64
	err := e.t.queryRow(`SELECT epoch FROM cache_epochs WHERE name = ?`, name).Scan(&v)
	return v, notFound(err, "epoch "+name)
}
