package jobmanager

// CheckFlinkFields is checkFlinkFields for the external tests.
var CheckFlinkFields = checkFlinkFields
