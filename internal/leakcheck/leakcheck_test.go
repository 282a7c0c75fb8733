package leakcheck

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// parked blocks until its channel closes; its name shows in the leak report.
func parked(release <-chan struct{}, done chan<- struct{}) {
	<-release
	close(done)
}

func TestCodeReportsALeftoverGoroutine(t *testing.T) {
	release, done := make(chan struct{}), make(chan struct{})
	go parked(release, done)

	var report bytes.Buffer
	require.Equal(t, 1, code0(&report, 0))
	require.Contains(t, report.String(), "leakcheck.parked", "the report names the leftover goroutine's function")

	close(release)
	<-done
	report.Reset()
	require.Equal(t, 0, code0(&report, 0), "nothing is left once the goroutine ended: %s", report.String())
	require.Empty(t, report.String())
}

func TestCodeKeepsAFailureAndDoesNotLook(t *testing.T) {
	release, done := make(chan struct{}), make(chan struct{})
	go parked(release, done)
	defer func() { close(release); <-done }()

	var report bytes.Buffer
	require.Equal(t, 2, code0(&report, 2), "a failed run keeps its own code")
	require.Empty(t, report.String(), "a failed run is not searched for leaks")
}
