package httpapi

import "testing"

func TestWirePrincipals(t *testing.T) {
	checkOut(t, toPrincipalToken)
	checkOut(t, toIssuedToken)
	checkIn(t, noErr(fromRotateTokenRequest))
	checkIn(t, noErr(fromAccessRequest))
	checkOut(t, toAccess, "duration") // the service keeps a time.Duration, shown on the wire as text
}
