package procid_test

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/procid"
	"github.com/amkeeper/amkeeper/internal/procid/procidtest"
)

func sleeper(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// A PID whose start time differs from the recorded one is another process: the
// kernel reused the PID. Neither Verify nor Open accepts it.
func TestAReusedPIDIsNotTheRecordedProcess(t *testing.T) {
	cmd := sleeper(t)
	id, err := procid.Of(cmd.Process.Pid)
	require.NoError(t, err)
	require.NoError(t, procid.Verify(id))
	recorded := procid.Identity{PID: id.PID, StartTicks: id.StartTicks - 1}
	require.ErrorIs(t, procid.Verify(recorded), procid.ErrNotRunning)
	_, err = procid.Open(recorded)
	require.ErrorIs(t, err, procid.ErrNotRunning)
}

// An identity without a start time cannot be told from a process that reused
// its PID: while the PID runs, Verify and Open say ErrUnverifiable, not
// ErrNotRunning; once it is gone, ErrNotRunning.
func TestAnIdentityWithoutStartTimeIsUnverifiable(t *testing.T) {
	cmd := sleeper(t)
	noStart := procid.Identity{PID: cmd.Process.Pid}
	err := procid.Verify(noStart)
	require.ErrorIs(t, err, procid.ErrUnverifiable)
	require.NotErrorIs(t, err, procid.ErrNotRunning)
	_, err = procid.Open(noStart)
	require.ErrorIs(t, err, procid.ErrUnverifiable)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.ErrorIs(t, procid.Verify(noStart), procid.ErrNotRunning)
}

// Wait wakes when a process exits; once reaped its identity no longer verifies.
func TestWaitSeesTheExitOfAProcess(t *testing.T) {
	cmd := sleeper(t)
	id, err := procid.Of(cmd.Process.Pid)
	require.NoError(t, err)
	p, err := procid.Open(id)
	require.NoError(t, err)
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	require.ErrorIs(t, p.Wait(ctx), context.DeadlineExceeded, "still running")
	cancel()
	require.NoError(t, p.Signal(syscall.SIGKILL))
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, p.Wait(ctx))
	_ = cmd.Wait()
	require.ErrorIs(t, procid.Verify(id), procid.ErrNotRunning)
}

func TestBootIDIsStable(t *testing.T) {
	a, err := procid.BootID()
	require.NoError(t, err)
	b, err := procid.BootID()
	require.NoError(t, err)
	require.Len(t, a, 36)
	require.Equal(t, a, b)
}

// A process that cannot be checked (here: no file descriptor left for its
// pidfd) is not reported as gone: it still runs, and treating it as dead
// would fence and replace a live AM.
func TestOpenFailingForLackOfDescriptorsIsNotNotRunning(t *testing.T) {
	cmd := sleeper(t)
	id, err := procid.Of(cmd.Process.Pid)
	require.NoError(t, err)
	procidtest.WithoutFreeFDs(t, func() { _, err = procid.Open(id) })
	require.ErrorIs(t, err, procid.ErrUnverifiable)
	require.ErrorIs(t, err, syscall.EMFILE)
	require.NotErrorIs(t, err, procid.ErrNotRunning)
	p, err := procid.Open(id)
	require.NoError(t, err, "with descriptors free again it verifies")
	require.NoError(t, p.Close())
}

// A failing poll of the pidfd (here EINVAL: poll is refused any descriptor) says
// nothing about the process: Wait neither reports an exit nor returns with the
// error while the process runs; it returns only when ctx ends, and sees the exit
// once polling works again.
func TestWaitRidesOutAFailingPoll(t *testing.T) {
	cmd := sleeper(t)
	id, err := procid.Of(cmd.Process.Pid)
	require.NoError(t, err)
	p, err := procid.Open(id)
	require.NoError(t, err)
	defer p.Close()
	procidtest.WithZeroFileLimit(t, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		err = p.Wait(ctx)
	})
	require.ErrorIs(t, err, context.DeadlineExceeded, "the process runs: only ctx ends the wait")
	require.NoError(t, p.Signal(syscall.SIGKILL))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, p.Wait(ctx))
}

// Find finds a process of ours by its arguments, and only a live one.
func TestFindByArguments(t *testing.T) {
	mark := fmt.Sprintf("procid-find-%d", time.Now().UnixNano())
	cmd := exec.Command("sh", "-c", "sleep 60", "am", "--attempt-id", mark)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	match := func(args []string) bool { return slices.Contains(args, mark) }
	found, err := procid.Find(match)
	require.NoError(t, err)
	want, err := procid.Of(cmd.Process.Pid)
	require.NoError(t, err)
	require.Equal(t, []procid.Identity{want}, found)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	found, err = procid.Find(match)
	require.NoError(t, err)
	require.Empty(t, found)
}

// A /proc entry that cannot be read for another reason than the process being
// gone (here: no free descriptor, as on a loaded machine) makes Find fail with
// ErrUnverifiable and the cause, instead of leaving the process out as if it did
// not run. The descriptors run out after the scan began, at its first match
// call, so the reads of the later entries fail.
func TestFindFailingToReadAnEntryIsUnverifiable(t *testing.T) {
	mark := fmt.Sprintf("procid-find-emfile-%d", time.Now().UnixNano())
	cmd := exec.Command("sh", "-c", "sleep 60", "am", "--attempt-id", mark)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	scanning := make(chan struct{})
	filled := make(chan struct{})
	type result struct {
		found []procid.Identity
		err   error
	}
	done := make(chan result, 1)
	go func() {
		first := true
		found, err := procid.Find(func(args []string) bool {
			if first {
				first = false
				close(scanning)
				<-filled
			}
			return slices.Contains(args, mark)
		})
		done <- result{found, err}
	}()
	var res result
	select {
	case <-scanning:
		procidtest.WithoutFreeFDs(t, func() {
			close(filled)
			res = <-done
		})
	case res = <-done:
		t.Fatalf("Find returned before looking at any process: %v, %v", res.found, res.err)
	}
	require.ErrorIs(t, res.err, procid.ErrUnverifiable, "found %v", res.found)
	require.ErrorIs(t, res.err, syscall.EMFILE)
	require.NotErrorIs(t, res.err, procid.ErrNotRunning)
	require.Empty(t, res.found)
}
