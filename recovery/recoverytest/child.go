package recoverytest

import (
	"bufio"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/childproc"
)

// Child is a process a test runs (typically the test binary itself as a
// contender) and whose output lines it waits for.
type Child struct {
	Cmd   *exec.Cmd
	lines chan string
}

// StartChild starts cmd with its standard output read line by line. When the test
// ends the child is resumed (should it be stopped), killed and reaped; on Linux it
// also dies with the test binary.
func StartChild(t testing.TB, cmd *exec.Cmd) *Child {
	t.Helper()
	cmd.SysProcAttr = childproc.SysProcAttr(childproc.SameGroup)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	c := &Child{Cmd: cmd, lines: make(chan string, 64)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return c
}

// Expect waits for a line starting with prefix and returns it.
func (c *Child) Expect(t testing.TB, prefix string, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				t.Fatalf("child exited before printing %s", prefix)
			}
			if strings.HasPrefix(line, prefix) {
				return line
			}
		case <-deadline:
			t.Fatalf("child did not print %s within %s", prefix, within)
		}
	}
}
