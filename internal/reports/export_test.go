package reports

// DriftRecheck is driftRecheck, for the tests of package reports_test.
const DriftRecheck = driftRecheck
