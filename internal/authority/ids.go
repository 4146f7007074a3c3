package authority

import (
	"crypto/rand"
	"strings"
)

func randomSuffix() string { return strings.ToLower(rand.Text()[:16]) }
