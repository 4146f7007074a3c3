package reports

import "sync"

// maxVerified bounds the verifiedSet: 262,144 digests, about 16 MiB with the map's overhead.
const maxVerified = 1 << 18

// verifiedSet remembers which build records verified, by a digest of the envelope's bytes
// and of the manufacturer's key history: the drift report reads every device's newest record
// in each round (the console's snapshots run one a minute), and a record whose bytes and keys
// have not changed verifies the same way again, so its signature is checked once per process
// instead of once per round. A changed byte, or a new key in the history, is a new digest and
// is verified. When full the set is emptied (records then verify again): bounded memory.
type verifiedSet struct {
	mu  sync.Mutex
	max int
	m   map[[32]byte]struct{}
}

func newVerifiedSet(max int) *verifiedSet {
	return &verifiedSet{max: max, m: map[[32]byte]struct{}{}}
}

func (v *verifiedSet) has(k [32]byte) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	_, ok := v.m[k]
	return ok
}

func (v *verifiedSet) add(k [32]byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.m) >= v.max {
		clear(v.m)
	}
	v.m[k] = struct{}{}
}
