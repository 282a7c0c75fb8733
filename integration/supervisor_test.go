package integration_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/supervisor"
)

type session struct {
	sup     *supervisor.Supervisor
	leader  func() recovery.LeaderInfo
	cancel  context.CancelFunc
	outcome chan supervisor.Outcome
}

// startSession runs a supervisor in the test process; the AM attempts and the
// TaskManagers are real processes of the yarn-session binary.
func startSession(t *testing.T, budget attempts.Budget, mode containers.Mode, tms int) *session {
	t.Helper()
	return startSessionWith(t, budget, mode, tms, nil)
}

func startSessionWith(t *testing.T, budget attempts.Budget, mode containers.Mode, tms int, standby []string, extra ...string) *session {
	t.Helper()
	args := append(haArgs(t), extra...)
	var props []string
	for i := 1; i < len(args); i += 2 {
		props = append(props, args[i])
	}
	props = append(props,
		conf.YarnApplicationAttempts.Key()+"="+strconv.Itoa(budget.MaxAttempts),
		conf.YarnAMMaxAttempts.Key()+"="+strconv.Itoa(budget.MaxAttempts),
		conf.YarnAttemptFailuresValidityInterval.Key()+"="+strconv.FormatInt(budget.Window.Milliseconds(), 10)+" ms",
		conf.YarnContainersAcrossAttempts.Key()+"="+mode.String())
	confDir := ""
	if len(standby) > 0 {
		// Hot standby comes from conf/masters, one AM per line with its web UI
		// port; a line without one gets any free port.
		confDir = t.TempDir()
		var masters strings.Builder
		for _, port := range standby {
			if port == "0" {
				masters.WriteString("localhost\n")
			} else {
				fmt.Fprintf(&masters, "localhost:%s\n", port)
			}
		}
		require.NoError(t, os.WriteFile(filepath.Join(confDir, conf.MastersFile), []byte(masters.String()), 0o600))
	}
	app := containers.AppID{ClusterTimestamp: 1, Seq: 1}
	cfg, err := conf.Load(conf.Options{Dir: confDir, Dynamic: props, ApplicationID: app.String()})
	require.NoError(t, err)
	sc, err := supervisor.ConfigFrom(context.Background(), cfg, supervisor.Session{App: app,
		Dir: filepath.Join(t.TempDir(), "app"), TaskManagers: tms, TaskManagerMemory: 128 << 20, Slots: 1,
		Executable: bin, Logger: logging.ForTest(t)})
	require.NoError(t, err)
	t.Cleanup(func() { sc.Close() })
	require.Equal(t, budget.MaxAttempts, sc.Budget.MaxAttempts)
	require.Equal(t, budget.Window, sc.Budget.Window)
	require.Equal(t, mode, sc.Containers)
	require.Equal(t, zkc.Addrs(), sc.ZooKeeper, "fast fencing on the test's ZooKeeper")
	sup, err := supervisor.New(sc)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{sup: sup, leader: leaderREST(t, args), cancel: cancel, outcome: make(chan supervisor.Outcome, 1)}
	go func() {
		o, err := sup.Run(ctx)
		if err != nil {
			t.Errorf("supervisor: %v", err)
		}
		s.outcome <- o
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.outcome:
		case <-time.After(60 * time.Second):
			t.Errorf("supervisor did not stop")
		}
	})
	return s
}

// waitLeader waits for a leader other than prev with n registered TaskManagers.
func (s *session) waitLeader(t *testing.T, prev recovery.LeaderInfo, n int) (recovery.LeaderInfo, map[string]int) {
	t.Helper()
	var l recovery.LeaderInfo
	var pids map[string]int
	require.Eventually(t, func() bool {
		l = s.leader()
		pids = registeredPIDs(l)
		return l.Known() && l.SessionID != prev.SessionID && len(pids) == n
	}, 60*time.Second, 20*time.Millisecond, "a new leader with %d TaskManagers", n)
	return l, pids
}

func (s *session) killAM(t *testing.T) {
	t.Helper()
	pid := s.sup.AMPID()
	require.NotZero(t, pid)
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	require.Eventually(t, func() bool { return s.sup.AMPID() != pid }, 30*time.Second, 5*time.Millisecond)
}

func TestSupervisorKeepsTaskManagersAcrossAMKills(t *testing.T) {
	s := startSession(t, attempts.Budget{MaxAttempts: 3, Window: 10 * time.Minute}, containers.Keep, 2)
	first, pids := s.waitLeader(t, recovery.LeaderInfo{}, 2)

	s.killAM(t)
	second, pids2 := s.waitLeader(t, first, 2)
	require.Equal(t, pids, pids2, "the same TaskManager processes re-register with attempt 2")
	require.Equal(t, 1, s.sup.Policy().CountedFailures())

	// A preemption does not count against the budget.
	require.NoError(t, s.sup.Preempt())
	_, pids3 := s.waitLeader(t, second, 2)
	require.Equal(t, pids, pids3)
	require.Equal(t, 1, s.sup.Policy().CountedFailures(), "preempted: not counted")
	require.Equal(t, 3, s.sup.Policy().NextAttempt(), "attempt 3 runs")
	h := s.sup.Policy().History()
	require.Len(t, h.Attempts, 2)
	require.Equal(t, attempts.ExitFailed, h.Attempts[0].Exit)
	require.True(t, h.Attempts[0].Counted)
	require.Equal(t, attempts.ExitPreempted, h.Attempts[1].Exit)
	require.False(t, h.Attempts[1].Counted)
}

func TestSupervisorBudgetExhaustedEndsTheApplication(t *testing.T) {
	s := startSession(t, attempts.Budget{MaxAttempts: 3, Window: 10 * time.Second}, containers.Keep, 1)
	prev := recovery.LeaderInfo{}
	for i := 0; i < 3; i++ {
		prev, _ = s.waitLeader(t, prev, 1)
		s.killAM(t)
	}
	select {
	case o := <-s.outcome:
		require.False(t, o.Decision.Restart)
		require.Equal(t, attempts.ReasonBudgetExhausted, o.Decision.Reason)
		require.Equal(t, attempts.FinalFailed, o.Decision.FinalStatus)
		require.Len(t, o.History.Attempts, 3)
		s.outcome <- o // for the cleanup
	case <-time.After(60 * time.Second):
		t.Fatal("three quick failures must end the application")
	}
	for _, c := range s.sup.Containers().List() {
		require.Equal(t, containers.Completed, c.State, "container %s stopped", c.ID)
		require.Error(t, syscall.Kill(c.PID, 0), "container process %d gone", c.PID)
	}
}

func TestSupervisorRestartAllReplacesTaskManagers(t *testing.T) {
	s := startSession(t, attempts.Budget{MaxAttempts: 2, Window: 10 * time.Minute}, containers.RestartAll, 1)
	first, pids := s.waitLeader(t, recovery.LeaderInfo{}, 1)
	s.killAM(t)
	_, pids2 := s.waitLeader(t, first, 1)
	require.NotEqual(t, fmt.Sprint(pids), fmt.Sprint(pids2), "restart-all starts new containers")
}

// TestSupervisorKillsSpacedWiderThanTheWindowNeverEndIt: with 2 attempts and a
// 1 s window, each failure has left the window before the next one, so the
// application keeps running however many times the AM dies.
func TestSupervisorKillsSpacedWiderThanTheWindowNeverEndIt(t *testing.T) {
	s := startSession(t, attempts.Budget{MaxAttempts: 2, Window: time.Second}, containers.Keep, 1)
	for i := 1; i <= 3; i++ {
		require.Eventually(t, func() bool { return s.sup.AMPID() != 0 && s.sup.Policy().CountedFailures() == 0 },
			30*time.Second, 10*time.Millisecond, "earlier failures leave the window")
		s.killAM(t)
	}
	require.Eventually(t, func() bool { return s.sup.Policy().NextAttempt() == 4 && s.sup.AMPID() != 0 },
		30*time.Second, 10*time.Millisecond, "attempt 4 runs")
	select {
	case o := <-s.outcome:
		t.Fatalf("the application ended: %v", o.Decision)
	default:
	}
	for _, a := range s.sup.Policy().History().Attempts {
		require.True(t, a.Counted, "each kill is a counted failure, just not inside one window")
	}
}

// TestHotStandbyTakesOverWithoutAProcessStart runs two AMs at once (conf/masters
// with two entries): killing the leader hands leadership to the standby that was
// already running, the same TaskManagers register with it, and the killed slot is
// restarted as the new standby.
func TestHotStandbyTakesOverWithoutAProcessStart(t *testing.T) {
	s := startSessionWith(t, attempts.Budget{MaxAttempts: 5, Window: 10 * time.Minute}, containers.Keep, 2, []string{"0", "0"})
	first, pids := s.waitLeader(t, recovery.LeaderInfo{}, 2)
	require.Eventually(t, func() bool { return len(s.sup.AMPIDs()) == 2 }, 30*time.Second, 10*time.Millisecond)
	before := s.sup.AMPIDs()

	killed, err := s.sup.KillAM()
	require.NoError(t, err)
	_, pids2 := s.waitLeader(t, first, 2)
	require.Equal(t, pids, pids2, "the same TaskManagers serve the new leader")
	var standby int
	for _, p := range before {
		if p != killed {
			standby = p
		}
	}
	require.NotZero(t, standby)
	require.Eventually(t, func() bool {
		for _, p := range s.sup.AMPIDs() {
			if p == standby {
				return len(s.sup.AMPIDs()) == 2
			}
		}
		return false
	}, 30*time.Second, 10*time.Millisecond, "the standby keeps running and the killed slot is restarted")
	pid, err := s.sup.KillAM()
	require.NoError(t, err)
	require.Equal(t, standby, pid, "the process that was standing by leads now")
}

// TestReplacementStandbyStartsAfterTheTakeover: with hot standby, the slot of
// a killed leader starts its replacement AM only once the standby reported that
// it leads, and supervisor.StandbySettle after that, so that the replacement's
// start does not compete with the new leader's first checkpoint; a killed
// standby (no takeover) is replaced at once.
func TestReplacementStandbyStartsAfterTheTakeover(t *testing.T) {
	// No crash-loop backoff: the second kill ends an AM soon after its start.
	s := startSessionWith(t, attempts.Budget{MaxAttempts: 5, Window: 10 * time.Minute}, containers.Keep, 1, []string{"0", "0"},
		"-D", "amkeeper.attempts.backoff.initial=0")
	s.waitLeader(t, recovery.LeaderInfo{}, 1)
	leading := func(st supervisor.Status) (lead supervisor.AMState, ok bool) {
		for _, a := range st.AMs {
			if a.Leading {
				return a, true
			}
		}
		return supervisor.AMState{}, false
	}
	var st supervisor.Status
	require.Eventually(t, func() bool {
		st = s.sup.Status()
		_, ok := leading(st)
		return len(st.AMs) == 2 && ok
	}, 30*time.Second, 5*time.Millisecond, "two AMs run, one leads")
	newest := st.AMs[1].Attempt
	// replaced waits for an AM of an attempt above newest, returning the status
	// in which it first shows.
	replaced := func() (supervisor.Status, supervisor.AMState) {
		var found supervisor.AMState
		require.Eventually(t, func() bool {
			st = s.sup.Status()
			for _, a := range st.AMs {
				if a.Attempt > newest {
					found = a
					return true
				}
			}
			return false
		}, 30*time.Second, time.Millisecond, "the killed AM's slot starts another")
		newest = found.Attempt
		return st, found
	}

	killed := time.Now()
	pid, err := s.sup.KillAM()
	require.NoError(t, err)
	st, repl := replaced()
	lead, ok := leading(st)
	require.True(t, ok, "the standby reported its takeover before the replacement started: %+v", st.AMs)
	require.NotEqual(t, pid, lead.PID)
	require.GreaterOrEqual(t, repl.Start.Sub(killed), supervisor.StandbySettle,
		"the replacement starts StandbySettle after the takeover, not at the leader's exit")
	t.Logf("replacement standby started %s after the kill", repl.Start.Sub(killed))

	// The standby dies: nobody takes over, the leader leads on, and its slot
	// starts the next one without waiting for a takeover.
	require.Eventually(t, func() bool { st = s.sup.Status(); return len(st.AMs) == 2 }, 30*time.Second, 5*time.Millisecond)
	var standby supervisor.AMState
	for _, a := range st.AMs {
		if a.PID != lead.PID {
			standby = a
		}
	}
	killed = time.Now()
	require.NoError(t, syscall.Kill(standby.PID, syscall.SIGKILL))
	st, repl = replaced()
	require.Less(t, repl.Start.Sub(killed), supervisor.StandbyWaitMax, "a dead standby's slot does not wait for a takeover")
	now, ok := leading(st)
	require.True(t, ok)
	require.Equal(t, lead.PID, now.PID, "the leader leads on")
}

// TestFastFencingHandsOverBeforeTheSessionTimeout: with a 10 s ZooKeeper session,
// a killed AM's latch node would block the next attempt for about 10 s; the
// supervisor closes the dead attempt's session once it has reaped the process,
// so the next attempt leads within a fraction of that.
func TestFastFencingHandsOverBeforeTheSessionTimeout(t *testing.T) {
	s := startSessionWith(t, attempts.Budget{MaxAttempts: 5, Window: 10 * time.Minute}, containers.Keep, 1, nil,
		"-D", "high-availability.zookeeper.client.session-timeout=10 s")
	first, pids := s.waitLeader(t, recovery.LeaderInfo{}, 1)
	for i := 0; i < 3; i++ {
		killed := time.Now()
		s.killAM(t)
		var next recovery.LeaderInfo
		require.Eventually(t, func() bool {
			next = s.leader()
			return next.Known() && next.SessionID != first.SessionID && fmt.Sprint(registeredPIDs(next)) == fmt.Sprint(pids)
		}, 5*time.Second, 5*time.Millisecond, "the next attempt leads long before the 10 s session would expire")
		t.Logf("kill %d: next leader with the TaskManager re-registered after %s", i+1, time.Since(killed))

		// Every failover phase is timed from the previous attempt's exit, each after
		// the phases it depends on (job recovery and publishing run side by side).
		var phases map[string]float64
		require.Eventually(t, func() bool {
			var report jobmanager.FailoverReport
			phases = nil
			if getJSON(next.Address+"/failover", &report) == nil {
				phases = report.Phases
			}
			return len(phases) == 7
		}, 10*time.Second, 10*time.Millisecond, "all failover phases reached")
		for _, dep := range [][2]string{
			{"process_start", "zk_connected"}, {"zk_connected", "leader_granted"},
			{"leader_granted", "published"}, {"leader_granted", "jobs_recovered"},
			{"published", "tms_registered"}, {"jobs_recovered", "tasks_deployed"},
		} {
			require.LessOrEqual(t, phases[dep[0]], phases[dep[1]], "%s before %s", dep[0], dep[1])
		}
		require.GreaterOrEqual(t, phases["process_start"], 0.0)
		t.Logf("kill %d phases (ms since the previous AM was reaped): %v", i+1, phases)
		first = next
	}
}
