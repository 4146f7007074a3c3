package httpapi

import "testing"

func TestWireOperational(t *testing.T) {
	checkOut(t, toEnvironment)
	checkOut(t, toEnvironmentView)
	checkIn(t, noErr(fromCreateEnvironmentRequest))
	checkIn(t, noErr(fromRevokeRequest))
	checkIn(t, noErr(fromReadmitRequest))
	checkOut(t, toReadmitResult)
	checkIn(t, noErr(fromFactoryRevokeRequest))
	checkOut(t, toFactoryRevokeResult)
	checkOut(t, toRevocationRun)
	checkOut(t, toCascadeItem)
	checkOut(t, toChallenge)
	checkIn(t, noErr(fromOnboardRequest))
	checkIn(t, noErr(fromRenewRequest))
	checkOut(t, toIdentity)
}
