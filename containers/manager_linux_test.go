package containers_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/procid"
)

const (
	waitFor = 15 * time.Second
	tick    = 5 * time.Millisecond
)

func newManager(t *testing.T, grace time.Duration) *containers.Manager {
	t.Helper()
	log := logging.ForTest(t)
	m, err := containers.New(containers.Config{App: testApp, Dir: t.TempDir(), StopGrace: grace, Logger: &log})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	return m
}

func launch(t *testing.T, m *containers.Manager, attempt int, env ...string) containers.Container {
	t.Helper()
	c, err := m.Launch(context.Background(), fakeSpec(attempt, env...))
	require.NoError(t, err)
	return *c
}

func logText(t *testing.T, c containers.Container) string {
	t.Helper()
	b, err := os.ReadFile(c.LogPath)
	require.NoError(t, err)
	return string(b)
}

// waitReady waits until the fake TaskManager has printed "ready" (its signal
// dispositions are in place).
func waitReady(t *testing.T, c containers.Container) {
	t.Helper()
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(c.LogPath)
		return err == nil && bytes.Contains(b, []byte("\nready\n"))
	}, waitFor, tick, "container %s never printed ready", c.ID)
}

// waitEvent returns the next event for id, discarding events for other containers.
func waitEvent(t *testing.T, ch <-chan containers.CompletedEvent, id containers.ContainerID) containers.CompletedEvent {
	t.Helper()
	deadline := time.NewTimer(waitFor)
	defer deadline.Stop()
	for {
		select {
		case ev, ok := <-ch:
			require.True(t, ok, "events closed before %s completed", id)
			if ev.ID == id {
				return ev
			}
		case <-deadline.C:
			require.FailNow(t, "no completion event", "container %s", id)
		}
	}
}

// procState returns the state letter of pid from /proc ("" if there is no such process).
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

func alive(pid int) bool {
	st := procState(pid)
	return st != "" && st != "Z" && st != "X"
}

// gone reports that pid no longer exists at all: exited and reaped.
func gone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func TestLaunchRunsInOwnGroupWithLogAndEnv(t *testing.T) {
	m := newManager(t, 0)
	c := launch(t, m, 1)

	require.Equal(t, containers.Running, c.State)
	require.Positive(t, c.PID)
	require.Equal(t, 1, c.ID.Attempt)
	require.Equal(t, testApp, c.ID.App)
	require.EqualValues(t, 2, c.ID.Seq, "sequence 1 is the AM container's")
	require.EqualValues(t, 512<<20, c.Memory)
	require.Equal(t, 2, c.Slots)
	require.False(t, c.Start.IsZero())

	pgid, err := syscall.Getpgid(c.PID)
	require.NoError(t, err)
	require.Equal(t, c.PID, pgid, "container must lead its own process group")
	require.NotEqual(t, syscall.Getpgrp(), pgid)

	require.Equal(t, filepath.Join(c.Dir, "taskmanager.log"), c.LogPath)
	require.Equal(t, c.ID.String(), filepath.Base(c.Dir))
	require.Equal(t, "containers", filepath.Base(filepath.Dir(c.Dir)))

	waitReady(t, c)
	out := logText(t, c)
	require.Contains(t, out, "container_id="+c.ID.String()+"\n")
	require.Contains(t, out, "gomemlimit="+strconv.FormatInt(containers.MemLimit(512<<20), 10)+"\n")
	require.Contains(t, out, "log_dirs="+c.Dir+"\n")
	require.Contains(t, out, fmt.Sprintf("pid=%d pgid=%d\n", c.PID, c.PID))
	require.Contains(t, out, "stderr-line from fake taskmanager\n", "stderr goes to the same log")

	pidFile, err := os.ReadFile(filepath.Join(c.Dir, containers.PIDFile))
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(c.PID)+"\n", string(pidFile))

	got, ok := m.Get(c.ID)
	require.True(t, ok)
	require.Equal(t, c, got)
	require.Equal(t, []containers.Container{c}, m.List())
	_, ok = m.Get(containers.ContainerID{App: testApp, Attempt: 1, Seq: 99})
	require.False(t, ok)
}

func TestExitCodeIsReported(t *testing.T) {
	m := newManager(t, 0)
	events, cancel := m.Subscribe()
	defer cancel()
	c := launch(t, m, 1, envFakeExit+"=3")

	ev := waitEvent(t, events, c.ID)
	require.Equal(t, 3, ev.ExitCode)
	require.Empty(t, ev.Signal)
	require.False(t, ev.Stopped)
	require.Contains(t, ev.Diagnostics, "exited with code 3")

	got, ok := m.Get(c.ID)
	require.True(t, ok)
	require.Equal(t, containers.Completed, got.State)
	require.Equal(t, 3, got.ExitCode)
	require.False(t, got.End.Before(got.Start))
	require.True(t, gone(c.PID))
	require.NoFileExists(t, filepath.Join(c.Dir, containers.PIDFile))
	require.Contains(t, logText(t, c), "container_id="+c.ID.String())
	require.NoError(t, m.Stop(context.Background(), c.ID), "stopping a completed container is a no-op")
}

func TestExternalSIGKILLIsReported(t *testing.T) {
	m := newManager(t, 0)
	events, cancel := m.Subscribe()
	defer cancel()
	c := launch(t, m, 1)
	waitReady(t, c)

	require.NoError(t, syscall.Kill(c.PID, syscall.SIGKILL))
	ev := waitEvent(t, events, c.ID)
	require.Equal(t, "killed", ev.Signal)
	require.Equal(t, -1, ev.ExitCode)
	require.False(t, ev.Stopped)
	require.Contains(t, ev.Diagnostics, "killed by signal killed")
	got, _ := m.Get(c.ID)
	require.Equal(t, containers.Completed, got.State)
	require.Equal(t, "killed", got.Signal)
}

// TestLeftoverGroupMembersAreKilled: a container whose leader exits leaves nothing
// running in its process group.
func TestLeftoverGroupMembersAreKilled(t *testing.T) {
	m := newManager(t, 0)
	events, cancel := m.Subscribe()
	defer cancel()
	c := launch(t, m, 1, envFakeChild+"=1", envFakeExit+"=5")

	ev := waitEvent(t, events, c.ID)
	require.Equal(t, 5, ev.ExitCode)
	var child int
	for _, line := range strings.Split(logText(t, c), "\n") {
		if _, err := fmt.Sscanf(line, "child_pid=%d", &child); err == nil {
			break
		}
	}
	require.Positive(t, child, "log: %s", logText(t, c))
	require.Eventually(t, func() bool { return !alive(child) }, waitFor, tick,
		"pid %d outlived its container's leader", child)
}

func TestStopTerminatesCooperativeContainer(t *testing.T) {
	m := newManager(t, 10*time.Second)
	events, cancel := m.Subscribe()
	defer cancel()
	c := launch(t, m, 1)
	waitReady(t, c)

	require.NoError(t, m.Stop(context.Background(), c.ID))
	got, _ := m.Get(c.ID)
	require.Equal(t, containers.Completed, got.State, "Stop returns after reaping")
	require.Equal(t, "terminated", got.Signal, "SIGTERM was enough; no SIGKILL")
	require.True(t, got.Stopped)
	require.True(t, gone(c.PID))
	ev := waitEvent(t, events, c.ID)
	require.True(t, ev.Stopped)
	require.Contains(t, ev.Diagnostics, "stopped on request: released")

	require.ErrorIs(t, m.Stop(context.Background(), containers.ContainerID{App: testApp, Attempt: 1, Seq: 99}), containers.ErrUnknown)
}

func TestStopEscalatesToSIGKILL(t *testing.T) {
	const grace = 300 * time.Millisecond
	m := newManager(t, grace)
	events, cancel := m.Subscribe()
	defer cancel()
	c := launch(t, m, 1, envFakeIgnoreTerm+"=1")
	waitReady(t, c)

	begin := time.Now()
	require.NoError(t, m.Stop(context.Background(), c.ID))
	took := time.Since(begin)
	require.GreaterOrEqual(t, took, grace, "SIGKILL came before the grace period ended")
	require.Less(t, took, grace+5*time.Second, "Stop is bounded by the grace period")

	ev := waitEvent(t, events, c.ID)
	require.Equal(t, "killed", ev.Signal)
	require.True(t, ev.Stopped)
	require.True(t, gone(c.PID))
}

func TestStopWithExpiredContextKillsAtOnce(t *testing.T) {
	m := newManager(t, time.Hour)
	c := launch(t, m, 1, envFakeIgnoreTerm+"=1")
	waitReady(t, c)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := m.Stop(ctx, c.ID)
	if err != nil { // the kill may or may not be reaped before Stop notices ctx
		require.ErrorIs(t, err, context.Canceled)
	}
	require.Eventually(t, func() bool {
		got, _ := m.Get(c.ID)
		return got.State == containers.Completed
	}, waitFor, tick)
	got, _ := m.Get(c.ID)
	require.Equal(t, "killed", got.Signal)
}

func TestKeepAcrossAttemptsThenRestartAll(t *testing.T) {
	m := newManager(t, 0)
	a := launch(t, m, 1)
	b := launch(t, m, 1)
	waitReady(t, a)
	waitReady(t, b)

	require.NoError(t, m.OnAttemptEnded(context.Background(), containers.Keep))
	prev := m.Previous(2)
	require.Len(t, prev, 2)
	require.Equal(t, []int{a.PID, b.PID}, []int{prev[0].PID, prev[1].PID})
	require.Equal(t, []containers.ContainerID{a.ID, b.ID}, []containers.ContainerID{prev[0].ID, prev[1].ID})
	for _, c := range prev {
		require.Equal(t, containers.Running, c.State)
		require.True(t, alive(c.PID), "pid %d died across the attempt", c.PID)
	}
	require.Empty(t, m.Previous(1))

	// The second attempt adopts them and allocates one more.
	n := launch(t, m, 2)
	require.Equal(t, 2, n.ID.Attempt)
	require.EqualValues(t, 4, n.ID.Seq, "sequence numbers continue across attempts")
	require.Len(t, m.Previous(2), 2)
	require.Len(t, m.Previous(3), 3)

	require.NoError(t, m.OnAttemptEnded(context.Background(), containers.RestartAll))
	require.Empty(t, m.Previous(3))
	for _, c := range m.List() {
		require.Equal(t, containers.Completed, c.State, c.ID)
		require.True(t, c.Stopped, c.ID)
		require.Contains(t, c.Diagnostics, "restart-all")
		require.True(t, gone(c.PID), "pid %d", c.PID)
	}
}

// TestKillingAnotherGroupSparesContainers simulates the AM: a sibling process in its
// own group, as the supervisor starts it. Killing that whole group must not reach a
// container; the container then dies by the SIGTERM of Stop, proving no SIGKILL hit it.
func TestKillingAnotherGroupSparesContainers(t *testing.T) {
	m := newManager(t, 10*time.Second)
	c := launch(t, m, 1)

	am := exec.Command(os.Args[0], "-test.run=^$")
	am.Env = append(os.Environ(), envFakeTM+"=1", envFakeSupervisor+"=")
	am.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, am.Start())
	amPgid, err := syscall.Getpgid(am.Process.Pid)
	require.NoError(t, err)
	cPgid, err := syscall.Getpgid(c.PID)
	require.NoError(t, err)
	require.NotEqual(t, amPgid, cPgid)
	waitReady(t, c)

	require.NoError(t, syscall.Kill(-amPgid, syscall.SIGKILL))
	err = am.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal())

	got, _ := m.Get(c.ID)
	require.Equal(t, containers.Running, got.State)
	require.True(t, alive(c.PID))
	require.NoError(t, m.Stop(context.Background(), c.ID))
	got, _ = m.Get(c.ID)
	require.Equal(t, "terminated", got.Signal, "the container was hit by something other than Stop's SIGTERM")
}

func TestCloseLeavesNoProcess(t *testing.T) {
	log := logging.ForTest(t)
	m, err := containers.New(containers.Config{App: testApp, Dir: t.TempDir(), StopGrace: 200 * time.Millisecond, Logger: &log})
	require.NoError(t, err)
	// A subscriber that reads nothing until the end: the reaper must not block on it.
	events, cancel := m.Subscribe()
	defer cancel()

	cs := []containers.Container{launch(t, m, 1), launch(t, m, 1, envFakeIgnoreTerm+"=1"), launch(t, m, 2)}
	for _, c := range cs {
		waitReady(t, c)
	}
	require.NoError(t, m.Close())
	require.NoError(t, m.Close(), "Close is idempotent")
	for _, c := range cs {
		require.True(t, gone(c.PID), "pid %d survived Close", c.PID)
		got, _ := m.Get(c.ID)
		require.Equal(t, containers.Completed, got.State)
	}
	seen := map[containers.ContainerID]bool{}
	for ev := range events { // closed after the queued events
		seen[ev.ID] = true
	}
	require.Len(t, seen, 3)

	_, err = m.Launch(context.Background(), fakeSpec(3))
	require.ErrorIs(t, err, containers.ErrClosed)
	late, cancelLate := m.Subscribe()
	defer cancelLate()
	_, ok := <-late
	require.False(t, ok, "a subscription after Close is closed")
}

func TestCancelledSubscriptionIsClosed(t *testing.T) {
	m := newManager(t, 0)
	events, cancel := m.Subscribe()
	cancel()
	cancel()
	_, ok := <-events
	require.False(t, ok)
	c := launch(t, m, 1, envFakeExit+"=0") // publishing to no one must not block
	require.Eventually(t, func() bool {
		got, _ := m.Get(c.ID)
		return got.State == containers.Completed
	}, waitFor, tick)
}

func TestLaunchValidation(t *testing.T) {
	m := newManager(t, 0)
	for name, spec := range map[string]containers.LaunchSpec{
		"attempt 0":    {Attempt: 0, Path: "x", Memory: 1},
		"no path":      {Attempt: 1, Memory: 1},
		"no memory":    {Attempt: 1, Path: "x"},
		"neg slots":    {Attempt: 1, Path: "x", Memory: 1, Slots: -1},
		"not a binary": {Attempt: 1, Path: filepath.Join(t.TempDir(), "missing"), Memory: 1 << 30},
	} {
		_, err := m.Launch(context.Background(), spec)
		require.Error(t, err, name)
	}
	require.Empty(t, m.List(), "a failed launch leaves no container")
}

// TestContainersOutliveTheSupervisorAndAreAdopted re-executes this binary as a
// supervisor that launches a container and then SIGKILLs itself. This process
// becomes a child subreaper, so the orphaned container is re-parented here: it
// must still run (no parent-death signal), a new Manager adopts it by its PID and
// start time, sees its exit through a pidfd, and launches above its sequence
// number. A record with another start time (a reused PID) is refused.
func TestContainersOutliveTheSupervisorAndAreAdopted(t *testing.T) {
	require.NoError(t, setChildSubreaper(true))
	t.Cleanup(func() { _ = setChildSubreaper(false) })

	dir := t.TempDir()
	sup := exec.Command(os.Args[0], "-test.run=^$")
	sup.Env = append(os.Environ(), envFakeSupervisor+"="+dir, envFakeTM+"=")
	var stderr bytes.Buffer
	sup.Stderr = &stderr
	out, err := sup.Output()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "supervisor: %s", stderr.String())
	require.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal(), "supervisor: %s", stderr.String())

	var pid int
	var start uint64
	var seq int64
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "tm_pid=%d start=%d seq=%d", &pid, &start, &seq); err == nil {
			break
		}
	}
	require.Positive(t, pid, "supervisor output: %q", out)
	require.Positive(t, start)
	// Reaped here (we are its subreaper) once it ends, so no zombie is left.
	reaped := make(chan syscall.WaitStatus, 1)
	go func() {
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, 0, nil)
		reaped <- ws
	}()
	require.False(t, gone(pid), "the container outlives its supervisor")

	m, err := containers.New(containers.Config{App: testApp, Dir: dir})
	require.NoError(t, err)
	defer m.Close()
	events, cancel := m.Subscribe()
	defer cancel()
	id := containers.ContainerID{App: testApp, Attempt: 1, Seq: seq}
	_, err = m.Adopt(containers.Container{ID: id, PID: pid, StartTicks: start - 1, Memory: 512 << 20, Slots: 2})
	require.ErrorIs(t, err, procid.ErrNotRunning, "another start time: not the recorded process")
	c, err := m.Adopt(containers.Container{ID: id, PID: pid, StartTicks: start, Memory: 512 << 20, Slots: 2})
	require.NoError(t, err)
	require.Equal(t, containers.Running, c.State)
	require.Equal(t, []containers.Container{*c}, m.Previous(2))

	require.NoError(t, m.Stop(context.Background(), id))
	ev := <-events
	require.Equal(t, id, ev.ID)
	require.True(t, ev.Stopped)
	require.Equal(t, -1, ev.ExitCode)
	ws := <-reaped
	require.True(t, ws.Signaled(), "container exited with %v", ws)
	require.Equal(t, syscall.SIGTERM, ws.Signal())

	next, err := m.Launch(context.Background(), fakeSpec(2))
	require.NoError(t, err)
	require.Equal(t, seq+1, next.ID.Seq, "launches continue above the adopted sequence number")
}

func setChildSubreaper(on bool) error {
	const prSetChildSubreaper = 36
	var arg uintptr
	if on {
		arg = 1
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, arg, 0); errno != 0 {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", errno)
	}
	return nil
}

// TestReleaseLeavesAdoptedContainersRunning: a manager released (its
// supervisor failed to start) signals nothing: the adopted container keeps
// running, its watch ends, and a Close after it stops nothing either.
func TestReleaseLeavesAdoptedContainersRunning(t *testing.T) {
	tm := exec.Command("sleep", "300")
	require.NoError(t, tm.Start())
	t.Cleanup(func() { _ = tm.Process.Kill(); _ = tm.Wait() })
	ident, err := procid.Of(tm.Process.Pid)
	require.NoError(t, err)
	m, err := containers.New(containers.Config{App: testApp, Dir: t.TempDir()})
	require.NoError(t, err)
	events, cancel := m.Subscribe()
	defer cancel()
	id := containers.ContainerID{App: testApp, Attempt: 1, Seq: 2}
	_, err = m.Adopt(containers.Container{ID: id, PID: ident.PID, StartTicks: ident.StartTicks, Memory: 512 << 20, Slots: 1})
	require.NoError(t, err)

	m.Release()
	_, open := <-events
	require.False(t, open, "the subscription ends with no completion")
	require.NoError(t, m.Close())
	require.NoError(t, procid.Verify(ident), "the released container still runs")
	require.Equal(t, "S", procState(ident.PID), "and was not stopped")
	_, err = m.Launch(context.Background(), fakeSpec(2))
	require.ErrorIs(t, err, containers.ErrClosed)
}

// TestAdoptWithoutAStartTimeIsUnverifiable: a record with no start time
// (StartTicks 0) cannot tell the recorded container from a process that
// reused its PID. Adopt fails with procid.ErrUnverifiable, not
// procid.ErrNotRunning: the live container is not reported completed (it
// would be an orphan nobody stops), and is left running.
func TestAdoptWithoutAStartTimeIsUnverifiable(t *testing.T) {
	tm := exec.Command("sleep", "300")
	require.NoError(t, tm.Start())
	t.Cleanup(func() { _ = tm.Process.Kill(); _ = tm.Wait() })
	ident, err := procid.Of(tm.Process.Pid)
	require.NoError(t, err)
	m := newManager(t, time.Second)
	id := containers.ContainerID{App: testApp, Attempt: 1, Seq: 2}
	_, err = m.Adopt(containers.Container{ID: id, PID: ident.PID, Memory: 512 << 20, Slots: 1})
	require.ErrorIs(t, err, procid.ErrUnverifiable)
	require.NotErrorIs(t, err, procid.ErrNotRunning)
	require.ErrorContains(t, err, "no start time")
	require.Empty(t, m.List(), "not tracked")
	require.NoError(t, procid.Verify(ident), "left running")
}
