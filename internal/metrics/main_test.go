package metrics_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when the tests pass but leave goroutines running
// (docs/testing.md, "Goroutine leaks").
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
