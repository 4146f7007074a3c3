package httpapi

import "testing"

func TestWireReports(t *testing.T) {
	checkOut(t, toInventoryPage)
	checkOut(t, toRotation)
	checkOut(t, toSummary)
	checkOut(t, toExpiringReport)
	checkOut(t, toDriftReport)
	checkOut(t, toStandardsReport)
	checkOut(t, toGapsReport)
}
