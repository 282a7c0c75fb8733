package integration_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/procid"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/supervisor"
)

// mustKeeper returns the keeper that runs the supervisor pid.
func mustKeeper(t *testing.T, pid int) int {
	t.Helper()
	k := keeperOf(pid)
	require.NotZero(t, k, "supervisor %d runs under a keeper", pid)
	return k
}

// killSupervisor SIGKILLs a session's supervisor, and first the keeper that
// would restart it, and waits until both are gone: a supervisor that stays dead.
func killSupervisor(t *testing.T, st supervisor.Status) {
	t.Helper()
	keeper := mustKeeper(t, st.SupervisorPID)
	require.NoError(t, syscall.Kill(keeper, syscall.SIGKILL))
	require.Eventually(t, func() bool { return !alive(keeper) }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, syscall.Kill(st.SupervisorPID, syscall.SIGKILL))
	require.Eventually(t, func() bool { return !alive(st.SupervisorPID) }, 10*time.Second, 5*time.Millisecond)
}

// checkpoints reads a job's checkpoint progress from an AM's REST address.
func checkpoints(rest, jobID string) (jobmanager.CheckpointInfo, bool) {
	var info jobmanager.CheckpointInfo
	err := getJSON(rest+"/jobs/"+jobID+"/checkpoints", &info)
	return info, err == nil
}

// restartSupervisor restarts the session's supervisor as a user would
// (yarn-session -id, then quit) and returns its status once it serves.
func restartSupervisor(t *testing.T, c *cli, id string, client *supervisor.ControlClient) supervisor.Status {
	t.Helper()
	out, err := c.run("quit\n", "-id", id)
	require.NoError(t, err)
	require.Contains(t, out, "restarted it")
	st, err := client.Status(context.Background())
	require.NoError(t, err)
	return st
}

// TestSupervisorSIGKILLedDuringTheCountingJob: the supervisor dies while the
// counting job runs; the AM and both TaskManagers keep running and the job keeps
// checkpointing, never restored (no task restarts). `yarn-session -id` restarts
// the supervisor, which adopts the same AM and containers; kill-am works again
// and the budget continues where it was (the failure before the restart is still
// counted), and the committed output is exact.
func TestSupervisorSIGKILLedDuringTheCountingJob(t *testing.T) {
	c, id, client, jobs, st := jobSession(t, 2, fastCounting)
	rest := ""
	require.Eventually(t, func() bool { rest = leaderOf(client); return rest != "" }, 30*time.Second, 20*time.Millisecond)
	// One counted failure before the supervisor dies.
	_, err := c.run("", "kill-am", "-id", id)
	require.NoError(t, err)
	var before supervisor.Status
	require.Eventually(t, func() bool {
		before, err = client.Status(context.Background())
		rest = leaderOf(client)
		info, ok := checkpoints(rest, jobs[0])
		return err == nil && before.Attempt == 2 && len(before.Containers) == 2 && ok && info.LatestID() > info.RestoredFrom
	}, 60*time.Second, 20*time.Millisecond, "attempt 2 leads and checkpoints")
	require.Equal(t, 1, before.CountedFailures)
	info, _ := checkpoints(rest, jobs[0])
	restored := info.RestoredFrom

	killSupervisor(t, before)
	for _, pid := range sessionPIDs(before) {
		require.True(t, alive(pid), "pid %d died with the supervisor", pid)
	}
	out, err := c.run("", "status", "-id", id)
	require.Error(t, err)
	require.Contains(t, out, "yarn-session -id "+id)
	// The job goes on without a supervisor: checkpoints complete, output commits.
	n := len(committed(t, st, "counts"))
	require.Eventually(t, func() bool {
		now, ok := checkpoints(rest, jobs[0])
		return ok && now.LatestID() >= info.LatestID()+3 && len(committed(t, st, "counts")) >= n+3
	}, 30*time.Second, 20*time.Millisecond, "the job checkpoints while no supervisor runs")

	after := restartSupervisor(t, c, id, client)
	require.NotEqual(t, before.SupervisorPID, after.SupervisorPID)
	require.Equal(t, before.AMPID, after.AMPID, "the running AM is adopted, not restarted")
	require.Equal(t, 2, after.Attempt)
	require.Equal(t, before.Containers, after.Containers, "the same containers, adopted")
	require.Equal(t, 1, after.CountedFailures, "the supervisor restart costs no attempt")
	now, ok := checkpoints(rest, jobs[0])
	require.True(t, ok)
	require.Equal(t, restored, now.RestoredFrom, "no task was restarted")
	require.Eventually(t, func() bool {
		st, err := client.Status(context.Background())
		return err == nil && len(st.AMs) == 1 && st.AMs[0].Leading && st.AMs[0].REST == rest
	}, 30*time.Second, 20*time.Millisecond, "the adopted AM registered again and reported its leadership")

	// kill-am works against the adopted AM, and the budget continues.
	_, err = c.run("", "kill-am", "-id", id)
	require.NoError(t, err)
	var third supervisor.Status
	require.Eventually(t, func() bool {
		third, err = client.Status(context.Background())
		r := leaderOf(client)
		info, ok := checkpoints(r, jobs[0])
		return err == nil && third.Attempt == 3 && r != "" && r != rest && ok && info.LatestID() > info.RestoredFrom+2
	}, 60*time.Second, 20*time.Millisecond, "attempt 3 leads and checkpoints")
	require.Equal(t, 2, third.CountedFailures, "two counted failures: the budget was continued, not reset")
	require.Len(t, third.History.Attempts, 2)
	require.Equal(t, 2, third.History.Attempts[1].Attempt)
	require.True(t, third.History.Attempts[1].Counted)
	require.Equal(t, before.Containers, third.Containers, "the adopted containers serve attempt 3")
	require.False(t, alive(before.AMPID))

	_, err = c.run("", "stop", "-id", id)
	require.NoError(t, err)
	for _, pid := range sessionPIDs(third) {
		require.Eventually(t, func() bool { return !alive(pid) }, 30*time.Second, 10*time.Millisecond, "pid %d left behind", pid)
	}
	got := committed(t, st, "counts")
	requireExactCounts(t, got, n+3)
}

// fenceLine returns the supervisor log's line that closed the dead attempt's
// ZooKeeper session, or "".
func fenceLine(t *testing.T, dir, attemptID string) string {
	b, err := os.ReadFile(filepath.Join(dir, "supervisor.log"))
	require.NoError(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "closed the dead attempt's zookeeper session") && strings.Contains(l, attemptID) {
			return l
		}
	}
	return ""
}

// sessionTimeout is the longest ZooKeeper session the test servers grant
// (maxSessionTimeout, 20 ticks): a dead AM's session outlives it by that much
// unless it is closed.
func sessionTimeout() time.Duration { return 20 * zkc.TickTime() }

// orphanedSession starts a counting-job session with the longest ZooKeeper
// session timeout the servers grant, SIGKILLs its supervisor and its AM together and returns them.
func orphanedSession(t *testing.T) (c *cli, id string, client *supervisor.ControlClient, job string, counted func() []int64, before supervisor.Status) {
	c, id, client, jobs, st := jobSessionWith(t, 1, func(c *cli) {
		c.ha = append(c.ha, "-D", fmt.Sprintf("high-availability.zookeeper.client.session-timeout=%d ms", sessionTimeout().Milliseconds()))
	}, fastCounting)
	require.Eventually(t, func() bool {
		info, ok := checkpoints(leaderOf(client), jobs[0])
		return ok && info.LatestID() >= 2
	}, 60*time.Second, 20*time.Millisecond, "the job checkpoints")
	before, err := client.Status(context.Background())
	require.NoError(t, err)
	killSupervisor(t, before)
	require.NoError(t, syscall.Kill(before.AMPID, syscall.SIGKILL))
	require.Eventually(t, func() bool { return !alive(before.AMPID) }, 10*time.Second, 5*time.Millisecond)
	return c, id, client, jobs[0], func() []int64 { return committed(t, st, "counts") }, before
}

// restartForNewLeader restarts the supervisor of an orphaned session and waits
// for a leader other than the killed attempt's that runs the job within half
// the session timeout: only a fenced close of the dead AM's session lets it lead
// that soon (without it, the new AM waits for the session to expire). It
// returns the supervisor's status then.
func restartForNewLeader(t *testing.T, c *cli, id string, client *supervisor.ControlClient, job string) supervisor.Status {
	t.Helper()
	restarted := time.Now()
	restartSupervisor(t, c, id, client)
	require.Eventually(t, func() bool {
		info, ok := checkpoints(leaderOf(client), job)
		// Adopted when the job's tasks kept running (issue 18), restored when
		// they went with the machine.
		return ok && info.Latest.Completed != nil && (info.Adopted || info.RestoredFrom > 0)
	}, sessionTimeout()/2, 20*time.Millisecond, "the next attempt leads and checkpoints long before the %s session would expire", sessionTimeout())
	t.Logf("the next attempt ran the job and checkpointed %s after the supervisor restarted", time.Since(restarted))
	st, err := client.Status(context.Background())
	require.NoError(t, err)
	return st
}

// TestSupervisorAndAMKilledTogether: the AM that died while no supervisor
// watched is fenced (its ZooKeeper session closed) and counted when the
// supervisor comes back; the next attempt leads without waiting out the
// session timeout, and the output is exact.
func TestSupervisorAndAMKilledTogether(t *testing.T) {
	c, id, client, job, counted, before := orphanedSession(t)
	after := restartForNewLeader(t, c, id, client, job)
	require.Equal(t, 2, after.Attempt)
	require.Len(t, after.History.Attempts, 1)
	rec := after.History.Attempts[0]
	require.Equal(t, attempts.ExitFailed, rec.Exit)
	require.True(t, rec.Counted, "an AM that died unwatched is counted")
	require.Contains(t, rec.Diagnostics, "died while no supervisor watched")
	require.Equal(t, before.Containers, after.Containers, "the TaskManager was adopted")
	line := fenceLine(t, appDirFor(c, id), before.AttemptID)
	require.Contains(t, line, `"level":"info"`, "the dead AM's session was closed by the supervisor: %s", line)

	n := len(counted())
	require.Eventually(t, func() bool { return len(counted()) >= n+3 }, 30*time.Second, 20*time.Millisecond)
	_, err := c.run("", "stop", "-id", id)
	require.NoError(t, err)
	requireExactCounts(t, counted(), n+3)
}

// TestRecordedPIDReusedIsNotAdopted: the recorded AM is gone and its PID names
// an unrelated process now (its start time differs). The restarted supervisor
// does not adopt it (the process is left alone), counts the dead AM and starts
// the next attempt.
func TestRecordedPIDReusedIsNotAdopted(t *testing.T) {
	c, id, client, job, counted, _ := orphanedSession(t)
	other := exec.Command("sleep", "300")
	require.NoError(t, other.Start())
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	dir := appDirFor(c, id)
	rec, err := supervisor.ReadRecord(dir)
	require.NoError(t, err)
	require.Len(t, rec.AMs, 1)
	// The unrelated process under the AM's recorded PID, as after PID reuse.
	rec.AMs[0].PID = other.Process.Pid
	require.NoError(t, supervisor.WriteRecord(dir, rec))

	after := restartForNewLeader(t, c, id, client, job)
	require.Equal(t, 2, after.Attempt)
	require.NotEqual(t, other.Process.Pid, after.AMPID)
	require.True(t, alive(other.Process.Pid), "the unrelated process was not touched")
	require.Len(t, after.History.Attempts, 1)
	require.True(t, after.History.Attempts[0].Counted)
	require.Contains(t, after.History.Attempts[0].Diagnostics, "a reused pid")
	_, err = c.run("", "stop", "-id", id)
	require.NoError(t, err)
	require.True(t, alive(other.Process.Pid), "stopping the session leaves the unrelated process alone")
	requireExactCounts(t, counted(), 1)
}

// TestRebootFencesAtOnce simulates a reboot: the recorded boot ID is another
// one. Every recorded process counts as dead without a look at its PID: the
// restarted supervisor closes the AM's ZooKeeper session at once and the next
// attempt leads long before the session timeout; the lost AM is aborted, not
// counted (YARN does not count an AM lost with its node).
func TestRebootFencesAtOnce(t *testing.T) {
	c, id, client, job, counted, before := orphanedSession(t)
	// A reboot kills the TaskManager too.
	for _, ct := range before.Containers {
		require.NoError(t, syscall.Kill(ct.PID, syscall.SIGKILL))
		require.Eventually(t, func() bool { return !alive(ct.PID) }, 10*time.Second, 5*time.Millisecond)
	}
	dir := appDirFor(c, id)
	rec, err := supervisor.ReadRecord(dir)
	require.NoError(t, err)
	boot, err := procid.BootID()
	require.NoError(t, err)
	require.Equal(t, boot, rec.BootID)
	rec.BootID = "00000000-0000-4000-8000-000000000000"
	require.NoError(t, supervisor.WriteRecord(dir, rec))

	after := restartForNewLeader(t, c, id, client, job)
	require.Len(t, after.History.Attempts, 1)
	r := after.History.Attempts[0]
	require.Equal(t, attempts.ExitAborted, r.Exit)
	require.False(t, r.Counted)
	require.Contains(t, r.Diagnostics, "rebooted")
	require.Zero(t, after.CountedFailures)
	require.Contains(t, fenceLine(t, dir, before.AttemptID), `"level":"info"`)
	_, err = c.run("", "stop", "-id", id)
	require.NoError(t, err)
	requireExactCounts(t, counted(), 1)
}

// TestKeeperRestartsADeadSupervisor is the automatic path: the detached
// launcher (the keeper) restarts a supervisor that died of SIGKILL; the new one
// adopts the running AM and container, and the attempt and budget stay.
func TestKeeperRestartsADeadSupervisor(t *testing.T) {
	_, _, client, jobs, st := jobSession(t, 1, fastCounting)
	rest := ""
	require.Eventually(t, func() bool { rest = leaderOf(client); return rest != "" }, 30*time.Second, 20*time.Millisecond)
	before, err := client.Status(context.Background())
	require.NoError(t, err)
	keeper := mustKeeper(t, before.SupervisorPID)
	require.NoError(t, syscall.Kill(before.SupervisorPID, syscall.SIGKILL))
	var after supervisor.Status
	require.Eventually(t, func() bool {
		after, err = client.Status(context.Background())
		return err == nil && after.SupervisorPID != before.SupervisorPID && len(after.AMs) == 1 && after.AMs[0].Leading
	}, 30*time.Second, 20*time.Millisecond, "the keeper restarted the supervisor and the AM resynced")
	require.Equal(t, keeper, mustKeeper(t, after.SupervisorPID), "the same keeper")
	require.Equal(t, before.AMPID, after.AMPID)
	require.Equal(t, before.Attempt, after.Attempt)
	require.Equal(t, before.Containers, after.Containers)
	require.Zero(t, after.CountedFailures)
	require.Empty(t, after.History.Attempts)
	info, ok := checkpoints(rest, jobs[0])
	require.True(t, ok)
	require.Zero(t, info.RestoredFrom, "the job was never restored")
	n := len(committed(t, st, "counts"))
	require.Eventually(t, func() bool { return len(committed(t, st, "counts")) >= n+3 }, 30*time.Second, 20*time.Millisecond)
	require.NoError(t, client.Stop(context.Background()))
	require.Eventually(t, func() bool { return !alive(keeper) }, 60*time.Second, 20*time.Millisecond, "the keeper ends with the application")
	requireExactCounts(t, committed(t, st, "counts"), n+3)
}

// ownZooKeeper points the session at a ZooKeeper server of its own (the test
// pauses it), with the longest session timeout it grants.
func ownZooKeeper(t *testing.T, own *zktest.Cluster) func(*cli) {
	return func(c *cli) {
		for i := range c.ha {
			switch key, _, _ := strings.Cut(c.ha[i], "="); key {
			case "high-availability.zookeeper.quorum":
				c.ha[i] = key + "=" + own.ConnectString()
			case "high-availability.zookeeper.client.session-timeout":
				c.ha[i] = fmt.Sprintf("%s=%d ms", key, (20 * own.TickTime()).Milliseconds())
			}
		}
	}
}

// TestSupervisorKilledWhileFencingTheDeadAM: the supervisor reaps the AM and
// dies while it closes the AM's ZooKeeper session (ZooKeeper hangs), before it
// counted the death. The record still holds the attempt with the exit the
// supervisor saw, so the restarted one fences it and counts it, once, and the
// next attempt is attempt 2 — not a second attempt 1 with the death forgotten
// (which is what a record that dropped the AM before settling it gave).
func TestSupervisorKilledWhileFencingTheDeadAM(t *testing.T) {
	own := zktest.Start(t)
	c, id, client, _, _ := jobSessionWith(t, 1, ownZooKeeper(t, own))
	dir := appDirFor(c, id)
	var before supervisor.Status
	require.Eventually(t, func() bool {
		var err error
		before, err = client.Status(context.Background())
		rec, rerr := supervisor.ReadRecord(dir)
		return err == nil && rerr == nil && len(before.Containers) == 1 && len(rec.Containers) == 1 && len(rec.AMs) == 1 && rec.AMs[0].Session != nil
	}, 30*time.Second, 20*time.Millisecond, "the session settles: AM registered, container recorded")
	keeper := mustKeeper(t, before.SupervisorPID)
	require.NoError(t, syscall.Kill(keeper, syscall.SIGKILL)) // no automatic restart
	require.Eventually(t, func() bool { return !alive(keeper) }, 10*time.Second, 5*time.Millisecond)

	require.NoError(t, own.Server(0).Pause())
	t.Cleanup(func() { _ = own.Server(0).Resume() })
	require.NoError(t, syscall.Kill(before.AMPID, syscall.SIGKILL))
	// The supervisor reaps the AM and records that (it no longer records it as
	// running), then hangs in the fence (the paused server never answers): it
	// dies there.
	require.Eventually(t, func() bool {
		rec, err := supervisor.ReadRecord(dir)
		return err == nil && !slices.ContainsFunc(rec.AMs, func(a supervisor.AMRecord) bool { return a.PID == before.AMPID && a.Exit == nil })
	}, 10*time.Second, 5*time.Millisecond, "the supervisor saw the AM die")
	require.NoError(t, syscall.Kill(before.SupervisorPID, syscall.SIGKILL))
	require.Eventually(t, func() bool { return !alive(before.SupervisorPID) }, 10*time.Second, 5*time.Millisecond)
	rec, err := supervisor.ReadRecord(dir)
	require.NoError(t, err)
	require.Len(t, rec.AMs, 1, "the dead attempt stays recorded until it is settled")
	require.NotNil(t, rec.AMs[0].Exit)
	require.NoError(t, own.Server(0).Resume())

	restartSupervisor(t, c, id, client)
	// Attempt 2 leads long before the dead AM's session would expire: the
	// session was closed (by the dead supervisor's close request, which the
	// server read on resuming, or by its successor's).
	timeout := 20 * own.TickTime()
	var after supervisor.Status
	require.Eventually(t, func() bool {
		after, err = client.Status(context.Background())
		return err == nil && after.Attempt == 2 && leaderOf(client) != ""
	}, timeout/2, 20*time.Millisecond, "attempt 2 leads within half the %s session timeout", timeout)
	require.Len(t, after.History.Attempts, 1)
	r := after.History.Attempts[0]
	require.Equal(t, before.AttemptID, r.AttemptID)
	require.True(t, r.Counted)
	require.Equal(t, "killed", r.Signal, "the exit the dead supervisor saw")
	require.Contains(t, r.Diagnostics, "without FinishApplicationMaster")
	require.Equal(t, 1, after.CountedFailures)
	_, err = c.run("", "stop", "-id", id)
	require.NoError(t, err)
}

// TestAMForkedBeforeItsPIDWasRecordedIsAdopted: the supervisor died after
// forking the AM and before recording its PID (the record says "starting
// attempt 1"). The restarted supervisor finds the AM by its arguments and
// adopts it — no orphan AM beside a second attempt, no counted failure, the job
// never restored.
func TestAMForkedBeforeItsPIDWasRecordedIsAdopted(t *testing.T) {
	c, id, client, jobs, st := jobSession(t, 1, fastCounting)
	rest := ""
	require.Eventually(t, func() bool { rest = leaderOf(client); return rest != "" }, 30*time.Second, 20*time.Millisecond)
	before, err := client.Status(context.Background())
	require.NoError(t, err)
	killSupervisor(t, before)
	dir := appDirFor(c, id)
	rec, err := supervisor.ReadRecord(dir)
	require.NoError(t, err)
	require.Len(t, rec.AMs, 1)
	// The record as it was between the fork and the PID: the attempt only.
	rec.AMs[0] = supervisor.AMRecord{Attempt: rec.AMs[0].Attempt, AttemptID: rec.AMs[0].AttemptID, Started: rec.AMs[0].Started}
	require.NoError(t, supervisor.WriteRecord(dir, rec))

	after := restartSupervisor(t, c, id, client)
	require.Equal(t, before.AMPID, after.AMPID, "the AM is found and adopted, not replaced")
	require.Equal(t, 1, after.Attempt)
	require.Zero(t, after.CountedFailures)
	require.Empty(t, after.History.Attempts)
	rec, err = supervisor.ReadRecord(dir)
	require.NoError(t, err)
	require.Len(t, rec.AMs, 1)
	require.Equal(t, before.AMPID, rec.AMs[0].PID, "its PID and start time are recorded now")
	require.NotZero(t, rec.AMs[0].StartTicks)
	require.Eventually(t, func() bool {
		st, err := client.Status(context.Background())
		return err == nil && len(st.AMs) == 1 && st.AMs[0].Leading && st.AMs[0].REST == rest
	}, 30*time.Second, 20*time.Millisecond, "the adopted AM registered again")
	info, ok := checkpoints(rest, jobs[0])
	require.True(t, ok)
	require.Zero(t, info.RestoredFrom, "the job was never restored")
	n := len(committed(t, st, "counts"))
	require.Eventually(t, func() bool { return len(committed(t, st, "counts")) >= n+3 }, 30*time.Second, 20*time.Millisecond)
	_, err = c.run("", "stop", "-id", id)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return !alive(before.AMPID) }, 30*time.Second, 10*time.Millisecond)
	requireExactCounts(t, committed(t, st, "counts"), n+3)
}
