package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/internal/netaddr/netaddrtest"
	"github.com/amkeeper/amkeeper/supervisor"
)

// webInterface is what a start prints once its AM leads, as yarn-session.sh.
var webInterface = regexp.MustCompile(`(?m)^JobManager Web Interface: (http://127\.0\.0\.1:(\d+))$`)

// withoutRESTPort is haArgs less rest.port=0: the session picks its own port.
func withoutRESTPort(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == "-D" && i+1 < len(args) && args[i+1] == "rest.port=0" {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// withDynamic is args (-D pairs) with key's value replaced by value.
func withDynamic(args []string, key, value string) []string {
	var out []string
	for _, a := range args {
		if strings.HasPrefix(a, key+"=") {
			a = key + "=" + value
		}
		out = append(out, a)
	}
	return out
}

// processesOf lists the live processes (not zombies) whose command line names
// the application directory dir: its keeper, supervisor and AMs.
func processesOf(dir string) []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), dir) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func readPropertiesID(t *testing.T, c *cli) string {
	t.Helper()
	b, err := os.ReadFile(propertiesFile(c))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^applicationID=(\S+)$`).FindStringSubmatch(string(b))
	require.NotNil(t, m, "%s", b)
	return m[1]
}

// TestTwoSessionsSideBySide: two sessions on one machine, neither setting
// rest.port, each get a REST port of their own (the fixed 8081 let only one
// start), both lead and answer at the address their detached start printed;
// .yarn-properties names the last one started; a kill-am keeps the session's
// port, so the printed address stays valid; each stop removes the properties
// file only while it names that session.
func TestTwoSessionsSideBySide(t *testing.T) {
	c := newCLI(t)
	ha := withoutRESTPort(c.ha)
	start := func(ns string) (id, rest string) {
		out, err := c.run("", append([]string{"-n", "1", "-d", "-z", ns}, ha...)...)
		require.NoError(t, err)
		id = appIDPattern.FindString(out)
		require.NotEmpty(t, id)
		m := webInterface.FindStringSubmatch(out)
		require.NotNil(t, m, "the detached start prints the web interface:\n%s", out)
		require.NotEqual(t, "8081", m[2], "a free port, not rest.port's default")
		require.Equal(t, id, readPropertiesID(t, c), ".yarn-properties names the session started last")
		return id, m[1]
	}
	idA, restA := start("side-a")
	idB, restB := start("side-b")
	require.NotEqual(t, restA, restB)
	for _, s := range []struct{ id, rest string }{{idA, restA}, {idB, restB}} {
		var overview map[string]any
		require.NoError(t, getJSON(s.rest+"/overview", &overview), "%s answers at its printed address", s.id)
		st, err := supervisor.NewControlClient(appDirFor(c, s.id)).Status(context.Background())
		require.NoError(t, err)
		require.Len(t, st.AMs, 1)
		require.True(t, st.AMs[0].Leading, s.id)
		require.Equal(t, s.rest, st.AMs[0].REST, "status shows the printed address")
	}

	// A failover keeps the port: the next attempt binds the same one.
	clientA := supervisor.NewControlClient(appDirFor(c, idA))
	_, err := c.run("", "kill-am", "-id", idA)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		st, err := clientA.Status(context.Background())
		return err == nil && st.Attempt == 2 && len(st.AMs) == 1 && st.AMs[0].Leading
	}, 60*time.Second, 20*time.Millisecond)
	st, err := clientA.Status(context.Background())
	require.NoError(t, err)
	require.Equal(t, restA, st.AMs[0].REST, "attempt 2 serves at the address printed at start")
	var overview map[string]any
	require.NoError(t, getJSON(restA+"/overview", &overview))

	// Stopping A leaves B's record; stopping B removes it.
	_, err = c.run("", "stop", "-id", idA)
	require.NoError(t, err)
	require.Equal(t, idB, readPropertiesID(t, c), "stopping A leaves the record of B")
	_, err = c.run("", "stop", "-id", idB)
	require.NoError(t, err)
	_, err = os.Stat(propertiesFile(c))
	require.True(t, os.IsNotExist(err), "B's stop removes the record naming B")
}

// TestDetachedStartFailsWithTheAMsCause: an AM that cannot start (the port of
// rest.bind-port is taken, which only the AM finds out) makes the detached start
// exit non-zero within seconds, naming the cause from the last attempt's am.log,
// once the budget is spent; the properties file of the session before stays as
// it was.
func TestDetachedStartFailsWithTheAMsCause(t *testing.T) {
	c := newCLI(t)
	props := propertiesFile(c)
	before := "#Generated YARN properties file\napplicationID=application_1_0001\nparallelism=1\ndynamicPropertiesString=\n"
	require.NoError(t, os.WriteFile(props, []byte(before), 0o600))
	port := netaddrtest.BusyPort(t)
	begin := time.Now()
	out, err := c.run("", append([]string{"-n", "1", "-d", "-D", "rest.bind-port=" + strconv.Itoa(port)}, c.ha...)...)
	took := time.Since(begin)
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 1, ee.ExitCode())
	require.Less(t, took, 30*time.Second)
	id := appIDPattern.FindString(out)
	require.NotEmpty(t, id)
	amLog := supervisor.AMLogPath(appDirFor(c, id), fmt.Sprintf("appattempt_%s_000002", strings.TrimPrefix(id, "application_")))
	require.Contains(t, out, fmt.Sprintf("session %s ended FAILED (budget-exhausted) after 2 attempt(s) before an application master led; "+
		"last error in %s: yarn-session: am: the REST endpoint: no free port in rest.bind-port \"%d\" on rest.address \"127.0.0.1\": listen tcp 127.0.0.1:%d: bind: address already in use",
		id, amLog, port, port))
	require.NotContains(t, out, "JobManager Web Interface")
	got, err := os.ReadFile(props)
	require.NoError(t, err)
	require.Equal(t, before, string(got), "a failed start leaves the properties of the session before")
}

// TestDetachedStartTimesOut: an AM that never leads (its ZooKeeper quorum is
// unreachable) within amkeeper.session.start-timeout: the detached start stops
// the session and exits non-zero with the last attempt's error.
func TestDetachedStartTimesOut(t *testing.T) {
	c := newCLI(t)
	quorum := "127.0.0.1:" + strconv.Itoa(netaddrtest.BusyPort(t)) // accepts, never answers
	ha := withDynamic(c.ha, "high-availability.zookeeper.quorum", quorum)
	begin := time.Now()
	out, err := c.run("", append([]string{"-n", "1", "-d",
		"-D", "amkeeper.session.start-timeout=4 s", "-D", "yarn.application-attempts=50", "-D", "yarn.resourcemanager.am.max-attempts=50",
		"-D", "high-availability.zookeeper.client.connection-timeout=500 ms", "-D", "high-availability.zookeeper.client.max-retry-attempts=0"}, ha...)...)
	took := time.Since(begin)
	require.Error(t, err)
	require.Less(t, took, 60*time.Second)
	id := appIDPattern.FindString(out)
	require.NotEmpty(t, id)
	require.Regexp(t, regexp.QuoteMeta("session "+id+": no application master leads after 4s (amkeeper.session.start-timeout); last error in "+
		filepath.Join(appDirFor(c, id), "attempts", "appattempt_"))+`\d+_\d+_\d{6}/am\.log: `+
		regexp.QuoteMeta("yarn-session: am: high availability: zkclient: connect "+quorum+": no session within 500ms (high-availability.zookeeper.client.connection-timeout)")+
		`.*; the session was stopped\n`, out)
	_, err = supervisor.NewControlClient(appDirFor(c, id)).Status(context.Background())
	require.Error(t, err, "the session was stopped")
	require.Eventually(t, func() bool { return len(processesOf(appDirFor(c, id))) == 0 }, 10*time.Second, 20*time.Millisecond,
		"no process of the session is left")
	_, err = os.Stat(propertiesFile(c))
	require.True(t, os.IsNotExist(err), "no properties for a session that never led")
}

// TestDetachedStartReturnsWhenItsSupervisorExits: the supervisor a detached
// start launched exits before any AM leads without ending the application —
// here it cannot start attempt 3, as the yarn-session binary it runs was
// removed while it backed off after two crashed attempts. The start returns
// then, exit 1, naming the supervisor's exit and the last error of its log,
// instead of waiting out amkeeper.session.start-timeout (10 min here) to say
// that no application master leads.
func TestDetachedStartReturnsWhenItsSupervisorExits(t *testing.T) {
	c := newCLI(t)
	b, err := os.ReadFile(bin)
	require.NoError(t, err)
	exe := filepath.Join(t.TempDir(), "yarn-session")
	require.NoError(t, os.WriteFile(exe, b, 0o755))
	port := netaddrtest.BusyPort(t)
	start := exec.Command(exe, append([]string{"-n", "1", "-d", "-D", "rest.bind-port=" + strconv.Itoa(port),
		"-D", "yarn.application-attempts=10", "-D", "yarn.resourcemanager.am.max-attempts=10",
		"-D", "amkeeper.attempts.backoff.initial=5 s", "-D", "amkeeper.attempts.backoff.max=5 s",
		"-D", "amkeeper.session.start-timeout=10 min"}, c.ha...)...)
	start.Env = c.env
	var out lockedBuffer
	start.Stdout, start.Stderr = &out, &out
	require.NoError(t, start.Start())
	done := make(chan error, 1)
	go func() { done <- start.Wait() }()
	t.Cleanup(func() {
		_ = start.Process.Kill()
		<-done
	})
	var dir string
	require.Eventually(t, func() bool {
		dirs, _ := filepath.Glob(filepath.Join(c.home, "application_*"))
		if len(dirs) == 1 {
			dir = dirs[0]
		}
		return dir != ""
	}, 30*time.Second, 10*time.Millisecond, "the start makes the application directory")
	client := supervisor.NewControlClient(dir)
	require.Eventually(t, func() bool {
		st, err := client.Status(context.Background())
		return err == nil && st.Backoff != nil && st.Backoff.NextAttempt == 3
	}, 60*time.Second, 10*time.Millisecond, "the supervisor backs off after two crashed attempts")
	require.NoError(t, os.Remove(exe))

	var werr error
	select {
	case werr = <-done:
		done <- werr
	case <-time.After(2 * time.Minute):
		t.Fatalf("the start still waits 2 min after its supervisor could not start attempt 3:\n%s", out.String())
	}
	t.Logf("yarn-session -d:\n%s", out.String())
	requireExit(t, 1, werr)
	id := filepath.Base(dir)
	// Attempt 3, or a later one should the removal come after attempt 3 started.
	require.Regexp(t, "(?m)^"+regexp.QuoteMeta(fmt.Sprintf("yarn-session: session %s: its supervisor exited (exit status 1) before an application master led; "+
		"last error in %s: yarn-session: supervise %s: supervisor: start attempt %s_", id, filepath.Join(dir, "supervisor.log"), id, strings.Replace(id, "application_", "appattempt_", 1)))+
		`\d{6}`+regexp.QuoteMeta(fmt.Sprintf(": fork/exec %s: no such file or directory", exe))+"$", out.String())
	_, err = readEndedFile(dir)
	require.ErrorIs(t, err, os.ErrNotExist, "the application did not end: its supervisor exited")
}

// TestDetachedStartAndItsKeeper: the AM of these starts never leads (its
// ZooKeeper quorum accepts and never answers; it waits 20 s for a session). A keeper killed
// alone leaves its supervisor running, and the start waits on, to
// amkeeper.session.start-timeout; a keeper killed with its supervisor (SIGKILL
// to their process group) ends the start at once, exit 1, saying that the
// supervisor exited and that the AM it recorded may still run, and how to
// adopt and stop it.
func TestDetachedStartAndItsKeeper(t *testing.T) {
	c := newCLI(t)
	quorum := "127.0.0.1:" + strconv.Itoa(netaddrtest.BusyPort(t))
	ha := append(withDynamic(c.ha, "high-availability.zookeeper.quorum", quorum),
		"-D", "high-availability.zookeeper.client.connection-timeout=20 s", "-D", "high-availability.zookeeper.client.max-retry-attempts=0")
	// start runs a detached start, calls kill once an AM runs (with the
	// supervisor's status), and returns the start's output and exit.
	start := func(timeout string, kill func(st supervisor.Status)) (string, string, error) {
		n, _ := filepath.Glob(filepath.Join(c.home, "application_*"))
		cmd := exec.Command(bin, append([]string{"-n", "1", "-d", "-D", "amkeeper.session.start-timeout=" + timeout}, ha...)...)
		cmd.Env = c.env
		var out lockedBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		require.NoError(t, cmd.Start())
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		defer func() {
			_ = cmd.Process.Kill()
			<-done
			t.Logf("yarn-session -d:\n%s", out.String())
		}()
		var dir string
		require.Eventually(t, func() bool {
			dirs, _ := filepath.Glob(filepath.Join(c.home, "application_*"))
			if len(dirs) == len(n)+1 {
				dir = dirs[len(dirs)-1]
			}
			return dir != ""
		}, 30*time.Second, 10*time.Millisecond, "the start makes the application directory")
		var st supervisor.Status
		require.Eventually(t, func() bool {
			var err error
			st, err = supervisor.NewControlClient(dir).Status(context.Background())
			return err == nil && st.AMPID != 0
		}, 30*time.Second, 10*time.Millisecond, "an AM runs")
		kill(st)
		select {
		case err := <-done:
			done <- err
			return out.String(), filepath.Base(dir), err
		case <-time.After(2 * time.Minute):
			t.Fatalf("the start still waits 2 min later:\n%s", out.String())
		}
		return "", "", nil
	}
	keeper := func(st supervisor.Status) int {
		pgid, err := syscall.Getpgid(st.SupervisorPID)
		require.NoError(t, err)
		return pgid // the keeper leads its own session (setsid); the supervisor is in its group
	}

	out, id, err := start("15 s", func(st supervisor.Status) { require.NoError(t, syscall.Kill(keeper(st), syscall.SIGKILL)) })
	requireExit(t, 1, err)
	require.Contains(t, out, "yarn-session: session "+id+": no application master leads after 15s (amkeeper.session.start-timeout); ")
	require.True(t, strings.HasSuffix(out, "; the session was stopped\n"), "its supervisor ran on, so the timeout stopped it")

	var amPID int
	out, id, err = start("10 min", func(st supervisor.Status) {
		amPID = st.AMPID
		require.NoError(t, syscall.Kill(-keeper(st), syscall.SIGKILL))
	})
	requireExit(t, 1, err)
	dir := appDirFor(c, id)
	// The kill may come before the start's own first status answer.
	require.Regexp(t, "(?m)^"+regexp.QuoteMeta("yarn-session: session "+id+": its supervisor exited (signal: killed) before ")+"(it answered|an application master led); "+
		".*"+regexp.QuoteMeta("; 1 AM(s) and 0 container(s) it recorded may still run: `yarn-session -id "+id+"` restarts its supervisor (which adopts them), `yarn-session stop -id "+id+"` then stops them\n")+"$", out)
	require.True(t, alive(amPID), "the AM outlived its supervisor")
	_, err = readEndedFile(dir)
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestCrashLoopBacksOff: attempts that fail at once (their REST port is taken)
// are restarted at once the first time, then after the initial backoff,
// doubling up to the maximum; the supervisor's status and metrics show the
// wait and the next start while it lasts. The waits are checked in the history
// (start minus the previous end), not by catching each one while it lasts.
func TestCrashLoopBacksOff(t *testing.T) {
	c := newCLI(t)
	port := netaddrtest.BusyPort(t)
	cmd, out, id := c.startAttached("-n", "1", "-D", "rest.bind-port="+strconv.Itoa(port),
		"-D", "yarn.application-attempts=6", "-D", "yarn.resourcemanager.am.max-attempts=6",
		"-D", "amkeeper.attempts.backoff.initial=300 ms", "-D", "amkeeper.attempts.backoff.max=1 s")
	client := supervisor.NewControlClient(appDirFor(c, id))

	// While it backs off, its status and metrics show the wait: a snapshot
	// taken between two status reads of the same wait.
	var (
		b       supervisor.Backoff
		lastEnd time.Time // the end of the attempt before the wait
		metrics string
	)
	require.Eventually(t, func() bool {
		st, err := client.Status(context.Background())
		if err != nil || st.Backoff == nil || len(st.History.Attempts) == 0 {
			return false
		}
		m, err := client.Metrics(context.Background())
		if err != nil {
			return false
		}
		again, err := client.Status(context.Background())
		if err != nil || again.Backoff == nil || again.Backoff.NextAttempt != st.Backoff.NextAttempt {
			return false // the wait ended while the metrics were read
		}
		b, lastEnd, metrics = *st.Backoff, st.History.Attempts[len(st.History.Attempts)-1].End, string(m)
		return true
	}, 60*time.Second, 10*time.Millisecond)
	require.Equal(t, b.NextAttempt-1, b.Crashes, "every attempt before crashed")
	require.Equal(t, min(0.3*float64(int(1)<<(b.Crashes-2)), 1), b.DelaySeconds, "300ms after 2 crashes, doubling, capped at 1s")
	require.Equal(t, lastEnd.Add(time.Duration(b.DelaySeconds*float64(time.Second))).UnixMilli(), b.NextStart.UnixMilli(),
		"attempt %d starts at the last end plus the delay", b.NextAttempt)
	require.Contains(t, metrics, fmt.Sprintf("\namkeeper_supervisor_backoff_crashes %d\n", b.Crashes))
	require.Contains(t, metrics, fmt.Sprintf("\namkeeper_supervisor_backoff_seconds %g\n", b.DelaySeconds))

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.Error(t, err, "the budget (6) is spent")
	case <-time.After(60 * time.Second):
		t.Fatal("the session did not end")
	}
	require.Contains(t, out.String(), "failed: budget-exhausted; last error in ")

	// The history, once ended, shows every wait: attempt n started no sooner
	// than the end of attempt n-1 plus the delay (none for attempt 2).
	raw, err := readEndedFile(appDirFor(c, id))
	require.NoError(t, err)
	var e struct {
		History attempts.History `json:"history"`
	}
	require.NoError(t, json.Unmarshal(raw, &e))
	h := e.History.Attempts
	require.Len(t, h, 6)
	delays := map[int]time.Duration{2: 0, 3: 300 * time.Millisecond, 4: 600 * time.Millisecond, 5: time.Second, 6: time.Second}
	for i, a := range h {
		require.Equal(t, i+1, a.Attempt)
		require.Equal(t, "the AM exited without FinishApplicationMaster: exit status 1; last error in am.log: "+
			fmt.Sprintf(`yarn-session: am: the REST endpoint: no free port in rest.bind-port "%d" on rest.address "127.0.0.1": listen tcp 127.0.0.1:%d: bind: address already in use`, port, port),
			a.Diagnostics, "the attempt history names each attempt's cause")
		if i > 0 {
			require.GreaterOrEqual(t, a.Start.Sub(h[i-1].End), delays[a.Attempt], "attempt %d waits", a.Attempt)
		}
	}
}
