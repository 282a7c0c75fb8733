package zktest_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestNoJavaLeftWhenTestBinaryDies re-executes the test binary as a child that starts
// a server and exits with os.Exit(1), skipping every cleanup; the child's JVM must die
// with it. This binary becomes a child subreaper for the duration, so the orphaned JVM
// is re-parented here and can be reaped and examined: it must have been killed by
// SIGKILL (the parent-death signal). Without that, a container whose init does not
// reap would also keep one zombie per run.
func TestNoJavaLeftWhenTestBinaryDies(t *testing.T) {
	require.NoError(t, setChildSubreaper(true))
	t.Cleanup(func() { _ = setChildSubreaper(false) })

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), orphanEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "child: %s", stderr.String())
	require.Equal(t, 1, exit.ExitCode(), "child: %s", stderr.String())

	var pid int
	var dir string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "pid=%d dir=%s", &pid, &dir); err == nil {
			break
		}
	}
	require.NotZero(t, pid, "child output: %q", out)
	require.True(t, strings.Contains(dir, "zktest-"), dir)
	t.Cleanup(func() { _ = os.RemoveAll(dir) }) // the child could not clean up

	begin := time.Now()
	var status syscall.WaitStatus
	require.Eventually(t, func() bool {
		got, err := syscall.Wait4(pid, &status, syscall.WNOHANG, nil)
		return got == pid && err == nil
	}, waitFor, pollE, "java pid %d outlived the test binary that started it", pid)
	require.True(t, status.Signaled(), "java pid %d exited with %v, not by a signal", pid, status)
	require.Equal(t, syscall.SIGKILL, status.Signal())
	require.True(t, processGone(pid))
	t.Logf("orphaned java pid %d was SIGKILLed; reaped %v after the child exited",
		pid, time.Since(begin).Round(time.Millisecond))
}

// setChildSubreaper makes orphaned descendants of this process its children
// (PR_SET_CHILD_SUBREAPER) instead of init's.
func setChildSubreaper(on bool) error {
	const prSetChildSubreaper = 36
	arg := uintptr(0)
	if on {
		arg = 1
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, arg, 0); errno != 0 {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", errno)
	}
	return nil
}
