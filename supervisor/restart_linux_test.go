package supervisor

import (
	"context"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/privdir"
	"github.com/amkeeper/amkeeper/internal/procid"
	"github.com/amkeeper/amkeeper/internal/procid/procidtest"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
	"github.com/amkeeper/amkeeper/supervisor/rmapi"
)

// These tests play the processes an earlier supervisor left behind with real
// processes (sleep: an AM or a container that keeps running) and a record
// naming them, then start a supervisor on that application directory as
// `yarn-session -id` does.

var restartApp = containers.AppID{ClusterTimestamp: 1, Seq: 1}

func attemptID(n int) string { return (&Supervisor{cfg: Config{App: restartApp}}).attemptIDOf(n) }

// leftRunning is a process an earlier supervisor started: a real process that
// runs until signalled, leading its own process group as AMs and containers do.
type leftRunning struct {
	procid.Identity
	exited chan struct{} // closed once it exited (and was reaped here)
}

func startLeftRunning(t *testing.T) leftRunning {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	p := leftRunning{exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-p.exited })
	var err error
	p.Identity, err = procid.Of(cmd.Process.Pid)
	require.NoError(t, err)
	return p
}

// running says whether the process was left alone (not signalled: sleep dies
// of SIGTERM).
func (p leftRunning) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return procid.Verify(p.Identity) == nil
	}
}

// appDir makes an application directory as an earlier supervisor left it: its
// secret and its record.
func appDir(t *testing.T, rec Record) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "app")
	require.NoError(t, privdir.Ensure(dir))
	_, err := appsecret.Create(SecretPath(dir))
	require.NoError(t, err)
	require.NoError(t, WriteRecord(dir, rec))
	return dir
}

func bootID(t *testing.T) string {
	t.Helper()
	b, err := procid.BootID()
	require.NoError(t, err)
	return b
}

func restartConfig(t *testing.T, dir string) Config {
	return Config{App: restartApp, Dir: dir, Budget: attempts.Budget{MaxAttempts: 3},
		Executable: "/nonexistent", Logger: logging.ForTest(t)}
}

// runResult is what Run returned, sent from the goroutine that ran it.
type runResult struct {
	out Outcome
	err error
}

// runInBackground runs s.Run in a goroutine until stop is called; its result
// arrives on done (no assertion runs there: a failure would hang the test).
// A test that ends early (a failed assertion) stops it and waits for it.
func runInBackground(t *testing.T, s *Supervisor) (stop context.CancelFunc, done <-chan runResult) {
	ctx, cancel := context.WithCancel(context.Background())
	results := make(chan runResult, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		out, err := s.Run(ctx)
		results <- runResult{out, err}
	}()
	t.Cleanup(func() { cancel(); <-finished })
	return cancel, results
}

// awaitWhileRunning polls cond until it holds, failing the test when Run ends
// first (with what it returned) or after 10 s.
func awaitWhileRunning(t *testing.T, done <-chan runResult, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		select {
		case res := <-done:
			t.Fatalf("Run ended before %s: %v", what, res.err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
	}
}

// historyStore returns a storage directory holding h as the application's
// attempt history.
func historyStore(t *testing.T, h attempts.History) hdfsstore.Store {
	t.Helper()
	st, err := hdfsstore.Open(context.Background(), "file://"+t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	b, err := attempts.EncodeHistory(h)
	require.NoError(t, err)
	_, err = hdfsstore.PutPlainBytes(context.Background(), st, attempts.HistoryName(restartApp.String()), b)
	require.NoError(t, err)
	return st
}

// TestFailedStartLeavesAdoptedProcessesRunning: a restarted supervisor whose
// Run fails before the application runs under it (its metrics port is taken)
// signals nothing: the AM and the container it adopted keep running and the
// record still names them. The next supervisor adopts them again, and only
// it, ending the application, stops them.
func TestFailedStartLeavesAdoptedProcessesRunning(t *testing.T) {
	am, tm := startLeftRunning(t), startLeftRunning(t)
	rec := Record{BootID: bootID(t),
		AMs: []AMRecord{{Attempt: 1, AttemptID: attemptID(1), Identity: am.Identity, Started: time.Now().UTC()}},
		Containers: []ContainerRecord{{ID: containers.ContainerID{App: restartApp, Attempt: 1, Seq: 2}.String(),
			Identity: tm.Identity, Memory: 512 << 20, Slots: 1, Started: time.Now().UTC()}}}
	dir := appDir(t, rec)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := busy.Addr().(*net.TCPAddr).Port
	spec, err := conf.ParsePortSpec(strconv.Itoa(port))
	require.NoError(t, err)
	cfg := restartConfig(t, dir)
	cfg.MetricsPort, cfg.MetricsHost = &spec, "127.0.0.1"

	s, err := New(cfg)
	require.NoError(t, err)
	require.Len(t, s.adoption.ams, 1)
	_, err = s.Run(context.Background())
	require.ErrorContains(t, err, strconv.Itoa(port))
	require.True(t, am.running(), "the adopted AM was signalled")
	require.True(t, tm.running(), "the adopted container was signalled")
	after, err := ReadRecord(dir)
	require.NoError(t, err)
	require.Equal(t, rec.AMs, after.AMs)
	require.Equal(t, rec.Containers, after.Containers)

	// With the port free, the next supervisor adopts both; stopping the
	// application stops them.
	require.NoError(t, busy.Close())
	s, err = New(cfg)
	require.NoError(t, err)
	stop, done := runInBackground(t, s)
	awaitWhileRunning(t, done, func() bool { return s.AMPID() == am.PID && len(s.cm.List()) == 1 },
		"the second supervisor adopted the AM and the container")
	stop()
	require.NoError(t, (<-done).err)
	require.False(t, am.running())
	require.False(t, tm.running())
	_, err = ReadRecord(dir)
	require.ErrorIs(t, err, fs.ErrNotExist, "the application ended: no record left")
}

// TestAdoptionFailsWhenAProcessCannotBeChecked: pidfd_open failing for
// another reason than the process being gone (here EMFILE: no descriptor left)
// says nothing about the process. Adoption fails with the cause instead of
// declaring a live AM or container dead (fenced, counted, replaced), and
// signals nothing.
func TestAdoptionFailsWhenAProcessCannotBeChecked(t *testing.T) {
	for _, what := range []string{"AM", "container"} {
		t.Run(what, func(t *testing.T) {
			p := startLeftRunning(t)
			rec := Record{BootID: bootID(t)}
			if what == "AM" {
				rec.AMs = []AMRecord{{Attempt: 1, AttemptID: attemptID(1), Identity: p.Identity}}
			} else {
				rec.Containers = []ContainerRecord{{ID: containers.ContainerID{App: restartApp, Attempt: 1, Seq: 2}.String(), Identity: p.Identity}}
			}
			s, err := New(restartConfig(t, filepath.Join(t.TempDir(), "app"))) // nothing recorded yet
			require.NoError(t, err)
			defer s.unlock()
			defer s.cm.Close()
			var got adopted
			procidtest.WithoutFreeFDs(t, func() { got, err = s.adopt(rec) })
			require.ErrorIs(t, err, procid.ErrUnverifiable)
			require.ErrorIs(t, err, syscall.EMFILE)
			require.Empty(t, got.dead, "not declared dead")
			require.Empty(t, s.completed, "not reported completed")
			require.True(t, p.running())
		})
	}
}

// TestAnAttemptCountedBeforeTheSupervisorDiedIsNotCountedAgain: the
// supervisor counted attempt 1's failure (the history is saved) and died
// before it dropped the attempt from the record. The next one fences and
// settles it again without counting it twice, and starts attempt 2.
func TestAnAttemptCountedBeforeTheSupervisorDiedIsNotCountedAgain(t *testing.T) {
	p, err := attempts.New(attempts.Budget{MaxAttempts: 3}, nil, attempts.History{})
	require.NoError(t, err)
	_, err = p.Decide(attempts.Exit{Attempt: 1, AttemptID: attemptID(1), Kind: attempts.ExitFailed, ExitCode: -1, Signal: "killed"})
	require.NoError(t, err)
	gone := startLeftRunning(t)
	syscall.Kill(gone.PID, syscall.SIGKILL)
	<-gone.exited
	dir := appDir(t, Record{BootID: bootID(t), AMs: []AMRecord{{Attempt: 1, AttemptID: attemptID(1), Identity: gone.Identity,
		Exit: &ExitRecord{Kind: attempts.ExitFailed, ExitCode: -1, Signal: "killed", Diagnostics: "the AM exited without FinishApplicationMaster"}}}})
	cfg := restartConfig(t, dir)
	cfg.History = historyStore(t, p.History())
	cfg.Executable = filepath.Join(t.TempDir(), "am")
	require.NoError(t, os.WriteFile(cfg.Executable, []byte("#!/bin/sh\nexec sleep 300\n"), 0o755))

	s, err := New(cfg)
	require.NoError(t, err)
	stop, done := runInBackground(t, s)
	awaitWhileRunning(t, done, func() bool { return s.AMPID() != 0 }, "attempt 2 runs")
	require.Equal(t, 1, s.policy.CountedFailures(), "attempt 1 counted once")
	rec, err := ReadRecord(dir)
	require.NoError(t, err)
	require.Len(t, rec.AMs, 1)
	require.Equal(t, attemptID(2), rec.AMs[0].AttemptID, "attempt 1 left the record once settled")
	stop()
	res := <-done
	require.NoError(t, res.err)
	out := res.out
	require.Len(t, out.History.Attempts, 2)
	require.Equal(t, attemptID(1), out.History.Attempts[0].AttemptID)
	require.Equal(t, attemptID(2), out.History.Attempts[1].AttemptID)
	require.Equal(t, attempts.ExitKilledBySupervisor, out.History.Attempts[1].Exit)
}

// TestEndedBudgetFencesTheAdoptedAM: the budget ran out (hot standby: attempt
// 1's failure ended it) and the supervisor died before it stopped attempt 2.
// The next one stops the adopted AM and closes its ZooKeeper session at once
// (its ephemeral nodes go), as for an AM it reaps itself.
func TestEndedBudgetFencesTheAdoptedAM(t *testing.T) {
	zkc := zktest.Start(t)
	ctx := context.Background()
	root := zkc.Root(t)
	amZK, err := zkclient.Connect(ctx, zkclient.Config{Servers: zkc.Addrs(), Root: root, Logger: logging.ForTest(t)})
	require.NoError(t, err)
	defer amZK.Close()
	_, err = amZK.Create(ctx, "/latch", nil, zk.FlagEphemeral)
	require.NoError(t, err)
	sess := amZK.Session()

	p, err := attempts.New(attempts.Budget{MaxAttempts: 1}, nil, attempts.History{})
	require.NoError(t, err)
	d, err := p.Decide(attempts.Exit{Attempt: 1, AttemptID: attemptID(1), Kind: attempts.ExitFailed})
	require.NoError(t, err)
	require.False(t, d.Restart)
	am := startLeftRunning(t)
	dir := appDir(t, Record{BootID: bootID(t), AMs: []AMRecord{{Attempt: 2, AttemptID: attemptID(2), Identity: am.Identity, Port: "0",
		Session: &rmapi.SessionCredentials{SessionID: sess.ID, Password: sess.Password}}}})
	cfg := restartConfig(t, dir)
	cfg.Budget.MaxAttempts = 1
	cfg.History = historyStore(t, p.History())
	cfg.ZooKeeper = zkc.Addrs()

	s, err := New(cfg)
	require.NoError(t, err)
	out, err := s.Run(ctx)
	require.NoError(t, err)
	require.Equal(t, attempts.FinalFailed, out.Decision.FinalStatus)
	require.False(t, am.running(), "the adopted AM was stopped")
	ok, _, err := zkc.Conn(t).Exists(root + "/latch")
	require.NoError(t, err)
	require.False(t, ok, "the adopted AM's session was closed: its ephemeral node is gone")
	require.Len(t, out.History.Attempts, 1)
}

// TestAStartingAttemptThatNeverRanIsNotCounted: the record says "starting
// attempt 1" (the supervisor died around the fork) and no process of that
// attempt runs. The attempt is settled as aborted — the supervisor's death
// is not the application's failure — and the next attempt is 2, so no process
// ever carries attempt 1's ID twice.
func TestAStartingAttemptThatNeverRanIsNotCounted(t *testing.T) {
	dir := appDir(t, Record{BootID: bootID(t), AMs: []AMRecord{{Attempt: 1, AttemptID: attemptID(1), Started: time.Now().UTC()}}})
	s, err := New(restartConfig(t, dir))
	require.NoError(t, err)
	defer s.unlock()
	defer s.cm.Close()
	require.Empty(t, s.adoption.ams)
	require.Len(t, s.adoption.dead, 1)
	exit := s.adoption.dead[0].exit
	require.Equal(t, attempts.ExitAborted, exit.Kind)
	require.False(t, exit.Kind.Counts())
	require.Contains(t, exit.Diagnostics, "died while starting it")
	require.Equal(t, 2, s.takeAttempt())
}

// TestRestartAllStopsAdoptedContainersAfterADeadAM: in restart-all mode an AM
// that died while no supervisor watched ends its attempt like any other: the
// adopted containers are stopped before the next attempt starts.
func TestRestartAllStopsAdoptedContainersAfterADeadAM(t *testing.T) {
	tm := startLeftRunning(t)
	dir := appDir(t, Record{BootID: bootID(t),
		AMs: []AMRecord{{Attempt: 1, AttemptID: attemptID(1), Exit: &ExitRecord{Kind: attempts.ExitFailed, ExitCode: -1}}},
		Containers: []ContainerRecord{{ID: containers.ContainerID{App: restartApp, Attempt: 1, Seq: 2}.String(),
			Identity: tm.Identity, Memory: 512 << 20, Slots: 1}}})
	cfg := restartConfig(t, dir)
	cfg.Containers = containers.RestartAll
	cfg.Executable = filepath.Join(t.TempDir(), "am")
	require.NoError(t, os.WriteFile(cfg.Executable, []byte("#!/bin/sh\nexec sleep 300\n"), 0o755))
	s, err := New(cfg)
	require.NoError(t, err)
	stop, done := runInBackground(t, s)
	awaitWhileRunning(t, done, func() bool { return s.AMPID() != 0 }, "attempt 2 runs")
	require.False(t, tm.running(), "the container was stopped before attempt 2 started")
	stop()
	require.NoError(t, (<-done).err)
}

// TestNoForkWithoutTheStartingRecord: the record "starting attempt 1" cannot
// be written (here its path is a directory, so the atomic rename fails as on a
// full disk or a read-only directory). The supervisor does not fork the AM: a
// process it could not record would be an orphan no restarted supervisor
// finds. Run fails naming the record.
func TestNoForkWithoutTheStartingRecord(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "app")
	cfg := restartConfig(t, dir)
	cfg.Executable = filepath.Join(t.TempDir(), "am")
	// It keeps its arguments (no exec), so a forked AM is found by them.
	require.NoError(t, os.WriteFile(cfg.Executable, []byte("#!/bin/sh\nwhile :; do sleep 0.1; done\n"), 0o755))
	s, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(RecordPath(dir), "in-the-way"), 0o700))

	stop, done := runInBackground(t, s)
	forked := func() []procid.Identity {
		found, err := procid.Find(func(args []string) bool { return slices.Contains(args, attemptID(1)) })
		require.NoError(t, err)
		return found
	}
	select {
	case res := <-done:
		err = res.err
	case <-time.After(10 * time.Second):
		found := forked()
		stop()
		t.Fatalf("Run kept going without a record; AM processes of attempt 1: %v (run: %v)", found, (<-done).err)
	}
	require.ErrorContains(t, err, "attempt "+attemptID(1)+" not started")
	require.ErrorContains(t, err, RecordPath(dir))
	require.Empty(t, forked(), "no AM process of attempt 1")
}

// TestARestartedSupervisorWaitsOutTheBackoff: the history ends with two
// crashes (attempts that failed a second after their start) and nothing is
// left to adopt: the restarted supervisor waits the backoff before attempt 3
// (shown in its status) instead of starting it at once. Stopped while it
// waits, it never starts attempt 3 and keeps the application restartable.
func TestARestartedSupervisorWaitsOutTheBackoff(t *testing.T) {
	p, err := attempts.New(attempts.Budget{MaxAttempts: 3}, nil, attempts.History{})
	require.NoError(t, err)
	for n := 1; n <= 2; n++ {
		d, err := p.Decide(attempts.Exit{Attempt: n, AttemptID: attemptID(n), Kind: attempts.ExitFailed, ExitCode: 1,
			Start: time.Now().Add(-time.Second)})
		require.NoError(t, err)
		require.True(t, d.Restart)
	}
	dir := appDir(t, Record{BootID: bootID(t)})
	cfg := restartConfig(t, dir)
	cfg.History = historyStore(t, p.History())
	cfg.Backoff = attempts.Backoff{Initial: time.Hour, MinUptime: 10 * time.Second}
	cfg.Executable = filepath.Join(t.TempDir(), "am")
	require.NoError(t, os.WriteFile(cfg.Executable, []byte("#!/bin/sh\nexec sleep 300\n"), 0o755))

	s, err := New(cfg)
	require.NoError(t, err)
	stop, done := runInBackground(t, s)
	awaitWhileRunning(t, done, func() bool { return s.Status().Backoff != nil }, "the supervisor backs off")
	b := *s.Status().Backoff
	require.Equal(t, 3, b.NextAttempt)
	require.Equal(t, 2, b.Crashes)
	require.Equal(t, time.Hour.Seconds(), b.DelaySeconds)
	require.Zero(t, s.AMPID(), "attempt 3 waits")
	stop()
	res := <-done
	require.NoError(t, res.err)
	require.Len(t, res.out.History.Attempts, 2, "attempt 3 never started")
	require.True(t, res.out.Decision.Restart, "stopped while backing off: the application was to go on")
	_, err = os.Stat(AMLogPath(dir, attemptID(3)))
	require.ErrorIs(t, err, fs.ErrNotExist)
}
