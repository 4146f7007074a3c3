package httpapi

import "testing"

func TestWireGovernance(t *testing.T) {
	checkOut(t, toParty)
	checkIn(t, noErr(fromCreatePartyRequest))
	checkOut(t, toPrincipal)
	checkIn(t, noErr(fromCreatePrincipalRequest))
	checkOut(t, toCell)
	checkIn(t, noErr(fromCell))
	checkOut(t, toPair)
}
