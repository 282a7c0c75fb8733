package hdfspeer_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/amkeeper/amkeeper/internal/leakcheck"
)

// TestMain fails the run when the tests pass but leave goroutines running
// (docs/testing.md, "Goroutine leaks"). TestDropWrite breaks a write off on
// purpose, which leaves the HDFS client's acknowledgement loop behind; no call can
// end it (see leakcheck.IgnoreFailedHDFSWrite).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leakcheck.IgnoreFailedHDFSWrite())
}
