package integration_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/integration/netns"
	"github.com/amkeeper/amkeeper/internal/procid"
	"github.com/amkeeper/amkeeper/internal/sessionctl"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/supervisor"
)

// cli runs yarn-session in an isolated home and temp directory.
type cli struct {
	t         *testing.T
	home, tmp string // AMKEEPER_HOME and TMPDIR of its runs
	env       []string
	ha        []string
	rest      *http.Client // how the test reaches the AMs' REST (nil: plain HTTP)
}

func newCLI(t *testing.T) *cli {
	home, tmp := t.TempDir(), t.TempDir()
	t.Cleanup(func() { stopSessions(t, home) })
	return &cli{t: t, home: home, tmp: tmp, env: append(os.Environ(), "AMKEEPER_HOME="+home, "TMPDIR="+tmp), ha: haArgs(t)}
}

// stopSessions stops every session left under home — a test that failed before
// its own stop must not leave a detached supervisor running — and, if one does
// not stop, kills its supervisor and the AMs and containers it recorded (they
// outlive it).
func stopSessions(t *testing.T, home string) {
	dirs, _ := filepath.Glob(filepath.Join(home, "application_*"))
	for _, dir := range dirs {
		client := supervisor.NewControlClient(dir)
		st, err := client.Status(context.Background())
		if err != nil {
			// No supervisor: the processes it recorded may outlive it.
			killRecorded(t, dir)
			continue
		}
		_ = client.Stop(context.Background())
		deadline := time.Now().Add(30 * time.Second)
		for alive(st.SupervisorPID) && time.Now().Before(deadline) {
			<-time.After(20 * time.Millisecond)
		}
		if alive(st.SupervisorPID) {
			t.Logf("session %s did not stop: killing its supervisor %d", st.ApplicationID, st.SupervisorPID)
			if k := keeperOf(st.SupervisorPID); k != 0 {
				_ = syscall.Kill(k, syscall.SIGKILL) // else it would restart the supervisor
			}
			_ = syscall.Kill(st.SupervisorPID, syscall.SIGKILL)
			killRecorded(t, dir)
		}
	}
}

// keeperOf returns the PID of the keeper (`yarn-session keep`) that runs the
// supervisor pid, or 0 when its parent is anything else (an attached session's
// supervisor is the CLI itself, a child of the test).
func keeperOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", ppid))
	if err != nil || !strings.HasPrefix(string(cmdline), bin+"\x00") || !strings.Contains(string(cmdline), "\x00keep\x00") {
		return 0
	}
	return ppid
}

// killRecorded SIGKILLs the AMs and containers a dead supervisor recorded that
// still run (verified by PID and start time).
func killRecorded(t *testing.T, dir string) {
	rec, err := supervisor.ReadRecord(dir)
	if err != nil {
		return
	}
	var ids []procid.Identity
	for _, a := range rec.AMs {
		ids = append(ids, a.Identity)
	}
	for _, c := range rec.Containers {
		ids = append(ids, c.Identity)
	}
	for _, id := range ids {
		if procid.Verify(id) == nil {
			t.Logf("killing %v, left running by a dead supervisor", id)
			_ = syscall.Kill(id.PID, syscall.SIGKILL)
		}
	}
}

func (c *cli) run(stdin string, args ...string) (string, error) {
	c.t.Helper()
	return c.runOn(nil, stdin, args...)
}

// runOn is run on a host of the multi-host bed (nil: this host).
func (c *cli) runOn(host *netns.Host, stdin string, args ...string) (string, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	if host != nil {
		host.Wrap(cmd)
	}
	cmd.Env = c.env
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	c.t.Logf("yarn-session %s:\n%s", strings.Join(args, " "), out.String())
	return out.String(), err
}

// alive reports whether pid is a live process (not gone, not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func sessionPIDs(st supervisor.Status) []int {
	pids := []int{st.AMPID}
	for _, c := range st.Containers {
		pids = append(pids, c.PID)
	}
	return pids
}

var appIDPattern = regexp.MustCompile(`application_\d+_\d{4}`)

func TestSessionDetachedStatusKillAttachStop(t *testing.T) {
	c := newCLI(t)
	out, err := c.run("", append([]string{"-n", "2", "-d", "-jm", "512m", "-D", "yarn.application-attempts=2"}, c.ha...)...)
	require.NoError(t, err)
	id := appIDPattern.FindString(out)
	require.NotEmpty(t, id)
	client := supervisor.NewControlClient(appDirFor(c, id))

	var first supervisor.Status
	require.Eventually(t, func() bool {
		st, err := client.Status(context.Background())
		first = st
		return err == nil && len(st.Containers) == 2 && st.AMPID != 0
	}, 60*time.Second, 20*time.Millisecond)
	// -jm is the AM's memory: its Go runtime's soft limit, as -tm is a TaskManager's.
	assert.Equal(t, strconv.FormatInt(containers.MemLimit(512<<20), 10), environOf(t, first.AMPID)[containers.EnvGoMemLimit])

	out, err = c.run("", "status") // the session from .yarn-properties-<user>
	require.NoError(t, err)
	require.Contains(t, out, "1 of 2 attempts used")

	_, err = c.run("", "kill-am", "-id", id)
	require.NoError(t, err)
	var second supervisor.Status
	require.Eventually(t, func() bool {
		st, err := client.Status(context.Background())
		second = st
		return err == nil && st.Attempt == 2 && st.AMPID != 0
	}, 60*time.Second, 20*time.Millisecond)
	require.Equal(t, first.Containers, second.Containers, "the TaskManager containers outlive the AM")

	// The new AM serves the attempt history on its REST endpoint.
	require.Eventually(t, func() bool {
		st, err := client.Status(context.Background())
		if err != nil || len(st.AMs) != 1 || st.AMs[0].REST == "" {
			return false
		}
		var res struct {
			Attempt int              `json:"attempt"`
			History attempts.History `json:"history"`
		}
		return getJSON(st.AMs[0].REST+"/attempts", &res) == nil && res.Attempt == 2 &&
			len(res.History.Attempts) == 1 && res.History.Attempts[0].Counted
	}, 30*time.Second, 20*time.Millisecond, "GET /attempts shows attempt 1's counted failure")

	out, err = c.run("stop\n", "-id", id)
	require.NoError(t, err)
	require.Contains(t, out, "stopped")
	for _, pid := range append(sessionPIDs(first), sessionPIDs(second)...) {
		require.Eventually(t, func() bool { return !alive(pid) }, 30*time.Second, 10*time.Millisecond, "pid %d left behind", pid)
	}
	_, err = os.Stat(propertiesFile(c))
	require.True(t, os.IsNotExist(err), ".yarn-properties removed when the session stops")
}

func TestAttachedSessionSIGTERMLeavesNoProcess(t *testing.T) {
	c := newCLI(t)
	cmd, out, id := c.startAttached("-n", "2")
	client := supervisor.NewControlClient(appDirFor(c, id))
	var st supervisor.Status
	require.Eventually(t, func() bool {
		s, err := client.Status(context.Background())
		st = s
		return err == nil && len(s.Containers) == 2 && s.AMPID != 0
	}, 60*time.Second, 20*time.Millisecond)
	// Once the AM leads, the attached start prints its address, as a detached one does.
	require.Eventually(t, func() bool {
		m := webInterface.FindStringSubmatch(out.String())
		return m != nil && m[1] == leaderOf(client)
	}, 30*time.Second, 20*time.Millisecond, "JobManager Web Interface: <the leader's REST address>")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "a stopped session exits 0:\n%s", out.String())
	case <-time.After(60 * time.Second):
		t.Fatal("yarn-session did not exit on SIGTERM")
	}
	for _, pid := range sessionPIDs(st) {
		require.False(t, alive(pid), "pid %d left behind", pid)
	}
}

func appDirFor(c *cli, id string) string { return filepath.Join(c.home, id) }

func propertiesFile(c *cli) string { return filepath.Join(c.tmp, ".yarn-properties-"+currentUser()) }

func currentUser() string {
	u, err := user.Current()
	if err != nil {
		return strconv.Itoa(os.Getuid())
	}
	return u.Username
}

// startAttached starts an attached session (args, then the HA arguments) with
// its stdin held open, as at a terminal, and waits until it prints the
// application's ID. The process is killed when the test ends.
func (c *cli) startAttached(args ...string) (cmd *exec.Cmd, out *lockedBuffer, id string) {
	t := c.t
	t.Helper()
	cmd = exec.Command(bin, append(args, c.ha...)...)
	cmd.Env = c.env
	out = &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	stdin, err := cmd.StdinPipe() // attached mode reads commands; keep stdin open
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); _ = stdin.Close() })
	require.Eventually(t, func() bool { id = appIDPattern.FindString(out.String()); return id != "" }, 30*time.Second, 10*time.Millisecond,
		"the session prints its application ID")
	return cmd, out, id
}

// lockedBuffer is a bytes.Buffer safe for a writing process and a reading test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// haValue returns the value of a -D property in the cli's HA arguments.
func (c *cli) haValue(key string) string {
	for i := 1; i < len(c.ha); i += 2 {
		if v, ok := strings.CutPrefix(c.ha[i], key+"="); ok {
			return v
		}
	}
	return ""
}

// TestTerminalSessionCleansHADataStopKeepsIt: a stopped session keeps its HA
// data for a later restart; a session whose last attempt failed removes its
// znodes and HA storage, and keeps its attempt history.
func TestTerminalSessionCleansHADataStopKeepsIt(t *testing.T) {
	c := newCLI(t)
	clusterPath := c.haValue("high-availability.zookeeper.path.root") + "/" + c.haValue("high-availability.cluster-id")
	storage := strings.TrimPrefix(c.haValue("high-availability.storageDir"), "file://")
	raw := zkc.Conn(t)

	// Stopped: kept.
	out, err := c.run("", append([]string{"-n", "1", "-d"}, c.ha...)...)
	require.NoError(t, err)
	id := appIDPattern.FindString(out)
	require.Eventually(t, func() bool { ok, _, _ := raw.Exists(clusterPath + "/leader/latch"); return ok }, 30*time.Second, 10*time.Millisecond)
	_, err = c.run("", "stop", "-id", id)
	require.NoError(t, err)
	ok, _, err := raw.Exists(clusterPath)
	require.NoError(t, err)
	require.True(t, ok, "a stopped session keeps its HA data")

	// Failed for good (one attempt): removed, history kept.
	out, err = c.run("", append([]string{"-n", "1", "-d", "-D", "yarn.application-attempts=1"}, c.ha...)...)
	require.NoError(t, err)
	id = appIDPattern.FindString(out)
	client := supervisor.NewControlClient(appDirFor(c, id))
	require.Eventually(t, func() bool { st, err := client.Status(context.Background()); return err == nil && st.AMPID != 0 }, 30*time.Second, 10*time.Millisecond)
	_, err = client.KillAM(context.Background())
	require.NoError(t, err)
	require.Eventually(t, func() bool { ok, _, err := raw.Exists(clusterPath); return err == nil && !ok }, 60*time.Second, 20*time.Millisecond,
		"the failed application's znodes are removed")
	_, err = os.Stat(storage + "/" + c.haValue("high-availability.cluster-id"))
	require.True(t, os.IsNotExist(err), "its HA storage is removed")
	h, err := os.ReadFile(storage + "/attempts/" + id + "/history.json")
	require.NoError(t, err, "the attempt history stays")
	require.Contains(t, string(h), `"final_status": "FAILED"`)
}

// TestJobsSurviveAMKillAndCancelSticks: a submitted job is stored before it is
// acknowledged, so the next AM runs it again; a canceled job is recorded in the
// job result store first, so no later AM runs it.
func TestJobsSurviveAMKillAndCancelSticks(t *testing.T) {
	c := newCLI(t)
	out, err := c.run("", append([]string{"-n", "1", "-d"}, c.ha...)...)
	require.NoError(t, err)
	id := appIDPattern.FindString(out)
	client := supervisor.NewControlClient(appDirFor(c, id))
	var rest string
	require.Eventually(t, func() bool { rest = leaderOf(client); return rest != "" }, 30*time.Second, 20*time.Millisecond)

	jobs := []string{"000000000000000000000000000000a1", "000000000000000000000000000000b2"}
	for _, j := range jobs {
		spec := strings.Replace(fastCounting, "path: counts", "path: counts-"+j[30:], 1)
		// Submit retries while the new leader still lists its stored jobs (503).
		secret, err := sessionctl.SessionSecret(appDirFor(c, id))
		require.NoError(t, err)
		require.NoError(t, sessionctl.Submit(context.Background(), secret, nil, rest, jobmanager.JobSubmission{JobID: j, Name: "job " + j[30:], Graph: encodeGraph(t, j, spec)}))
	}
	out, err = c.run("", "list", "-id", id)
	require.NoError(t, err)
	require.Contains(t, out, jobs[0])
	require.Contains(t, out, jobs[1])
	_, err = c.run("", "cancel", "-id", id, jobs[1])
	require.NoError(t, err)

	_, err = c.run("", "kill-am", "-id", id)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		r := leaderOf(client)
		if r == "" || r == rest {
			return false
		}
		out, err := c.run("", "list", "-id", id)
		return err == nil && strings.Contains(out, jobs[0]) && !strings.Contains(out, jobs[1])
	}, 60*time.Second, 100*time.Millisecond, "the new leader runs the submitted job, not the canceled one")
	_, err = c.run("", "stop", "-id", id)
	require.NoError(t, err)
}

// environOf returns the environment of the live process pid.
func environOf(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	require.NoError(t, err)
	env := map[string]string{}
	for _, kv := range strings.Split(string(b), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}
