//go:build race

package status

import "time"

// raceEnabled is true under the race detector, which slows signing about tenfold: floods
// send fewer requests, and legitimate requests get a longer bound.
const raceEnabled = true

const legitBound = 15 * time.Second
