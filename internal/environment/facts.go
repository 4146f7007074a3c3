package environment

import "github.com/hallmark-id/hallmark/internal/failure"

// Facts are what a device reports about itself to an environment at onboarding or renewal:
// over EST in the Hallmark-* request headers (docs/est.md), over the API in the request's
// "facts". They are outside input: Validate bounds them before anything reads them. Policies
// compare them with the device's build record (policy.Facts is the view a policy reads);
// every issuance records them as JSON in its Evidence, under these field names.
type Facts struct {
	FirmwareDigest   string            `json:"firmware_digest,omitempty"`
	HardwareRevision string            `json:"hardware_revision,omitempty"`
	Extra            map[string]string `json:"extra,omitempty"`
}

// Limits of Facts.
const (
	MaxFactsExtra       = 32  // entries in Extra
	MaxFactKey          = 64  // bytes of an Extra key
	MaxFactValue        = 256 // bytes of an Extra value
	MaxFirmwareDigest   = 128
	MaxHardwareRevision = 64
)

// Validate refuses facts over the limits (failure.Invalid).
func (f Facts) Validate() error {
	if len(f.Extra) > MaxFactsExtra {
		return failure.New(failure.Invalid, "facts: at most %d extra entries", MaxFactsExtra)
	}
	for k, v := range f.Extra {
		if len(k) > MaxFactKey || len(v) > MaxFactValue {
			return failure.New(failure.Invalid, "facts: extra %q is too long (keys %d, values %d characters)", k, MaxFactKey, MaxFactValue)
		}
	}
	if len(f.FirmwareDigest) > MaxFirmwareDigest || len(f.HardwareRevision) > MaxHardwareRevision {
		return failure.New(failure.Invalid, "facts: firmware_digest or hardware_revision is too long")
	}
	return nil
}
