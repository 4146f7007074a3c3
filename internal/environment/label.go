package environment

import (
	"fmt"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// LabelError is an EST label (RFC 7030 section 3.2.2) that names no environment: neither an
// environment's ID nor a name an environment claimed, or the bare path where no default
// label is configured. It is failure.NotFound; EST answers it with 404.
type LabelError struct {
	Label string
	Msg   string
}

func (e *LabelError) Error() string {
	if e.Label == "" {
		return "est: " + e.Msg
	}
	return fmt.Sprintf("est: label %q: %s", e.Label, e.Msg)
}

// FailureKind classifies it as not found.
func (e *LabelError) FailureKind() failure.Kind { return failure.NotFound }
