package sqlstore

// RotationTrendQuery exposes rotationTrendQuery to the plan tests of package sqlstore_test.
var RotationTrendQuery = rotationTrendQuery

// LatestEvidenceQuery exposes latestEvidenceQuery to the plan tests.
const LatestEvidenceQuery = latestEvidenceQuery
