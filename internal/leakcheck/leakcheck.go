// Package leakcheck ends a test binary with a failure when its tests passed but left
// goroutines running. It is for test binaries only: a package whose TestMain does no
// more than run its tests calls goleak.VerifyTestMain(m) directly; a TestMain that
// must clean up after m.Run (stop a shared ZooKeeper, remove a build directory) ends
// with os.Exit(leakcheck.Code(code)), so the check runs after that cleanup and does
// not report the goroutines the cleanup itself stops.
//
// # What it guarantees
//
//   - When the tests passed, the binary exits 1 with goleak's report (every leftover
//     goroutine with its stack) on stderr if any goroutine other than the testing
//     package's and the runtime's own is still running after a short grace period
//     (goleak.Find retries for about half a second, so a goroutine that is already
//     ending gets to end).
//
// # What it does not guarantee
//
//   - When the tests failed, it does not look: a failed test may abandon goroutines,
//     and the failure is already reported. Fix the failure first; the leak check runs
//     again once the tests pass.
//   - It sees goroutines of this process only: processes a test started are checked
//     by the harness that started them (integration's TestMain, zktest).
package leakcheck

import (
	"fmt"
	"io"
	"os"

	"go.uber.org/goleak"
)

// Code returns the exit code for a test binary whose tests and cleanup ended with
// code: code itself when it is not 0, 1 after writing goleak's report to stderr when
// goroutines are left (opts are goleak's, to ignore goroutines that are not ours and
// cannot be stopped), and 0 otherwise.
func Code(code int, opts ...goleak.Option) int {
	return code0(os.Stderr, code, opts...)
}

// code0 is Code writing its report to w.
func code0(w io.Writer, code int, opts ...goleak.Option) int {
	if code != 0 {
		return code
	}
	if err := goleak.Find(opts...); err != nil {
		fmt.Fprintf(w, "leakcheck: the tests passed but left goroutines running: %v\n", err)
		return 1
	}
	return 0
}

// IgnoreFailedHDFSWrite ignores the one goroutine github.com/colinmarc/hdfs/v2 leaves
// behind for each block write that the datanode broke off (a dropped connection, an
// error acknowledgement): the block's acknowledgement loop, parked on a channel the
// library closes only when the block finishes cleanly. No call of the library's API
// reaches it once Close has returned the error (v2.4.0, and upstream master alike),
// so a test that breaks a write on purpose cannot end it; hdfsstore's doc says what
// that costs a process. Only that function, at the top of the stack, is ignored:
// the writer's heartbeat goroutine, which Close does end, is still reported.
func IgnoreFailedHDFSWrite() goleak.Option {
	return goleak.IgnoreTopFunction("github.com/colinmarc/hdfs/v2/internal/transfer.(*blockWriteStream).ackPackets")
}
