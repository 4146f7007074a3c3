//go:build !race

package status

import "time"

const raceEnabled = false

const legitBound = 5 * time.Second
