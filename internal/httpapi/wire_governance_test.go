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
	checkOut(t, toSoDRule)
	checkIn(t, noErr(fromSoDRuleRequest))
	checkOut(t, toApproval)
	checkIn(t, noErr(fromDecision))
	checkOut(t, toDecideResult)
	checkOut(t, toApprovalRule)
	checkIn(t, noErr(fromSetApprovalRuleRequest))
	checkIn(t, noErr(fromSupportRequest))
	checkOut(t, toSupportGrant)
	checkIn(t, noErr(fromRevokeGrantRequest))
	checkIn(t, noErr(fromSupportCheckRequest))
	checkOut(t, toReach)
}
