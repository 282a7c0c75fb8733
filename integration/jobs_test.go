package integration_test

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/integration/multihost"
	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/supervisor"
	"github.com/amkeeper/amkeeper/taskmanager"
)

// fastCounting is the seed's job, sped up: a window every 0.2 s, a checkpoint
// every 0.3 s.
const fastCounting = multihost.CountingJob

// leaderOf returns the REST address of the session's leading AM, or "".
func leaderOf(client *supervisor.ControlClient) string { return leaderVia(nil, client) }

// leaderVia is leaderOf asking the AMs through hc (nil: plain HTTP).
func leaderVia(hc *http.Client, client *supervisor.ControlClient) string {
	st, err := client.Status(context.Background())
	if err != nil {
		return ""
	}
	for _, am := range st.AMs {
		var o jobmanager.Overview
		if am.REST != "" && getJSONWith(hc, am.REST+"/overview", &o) == nil && o.Leader {
			return am.REST
		}
	}
	return ""
}

// requireExactCounts checks committed output window k == 10000k + 4950, at
// least min windows, no gap, no duplicate.
func requireExactCounts(t *testing.T, got []int64, min int) {
	t.Helper()
	require.GreaterOrEqual(t, len(got), min)
	for k, v := range got {
		require.Equal(t, int64(10000*k+4950), v, "window %d of %d", k, len(got))
	}
}

// TestCountingJobExactlyOnceThroughAMKills is the first seed's story: the AM is
// SIGKILLed ten times at random moments (some mid-checkpoint); each new attempt
// adopts the job's tasks, which kept running on the same TaskManagers (issue 18),
// and the committed output is exactly 4950, 14950, 24950, … with no gap and no
// duplicate.
func TestCountingJobExactlyOnceThroughAMKills(t *testing.T) {
	c := newCLI(t)
	storage := strings.TrimPrefix(c.haValue("high-availability.storageDir"), "file://")
	spec := filepath.Join(t.TempDir(), "counting.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(fastCounting), 0o600))
	// The kills come about a second apart, which the crash-loop backoff would
	// take for a crash loop and delay (1 s, 2 s, … 60 s): off, as in the bench.
	out, err := c.run("", append([]string{"-n", "2", "-d", "-D", "amkeeper.attempts.backoff.initial=0",
		"-D", "yarn.application-attempts=20", "-D", "yarn.resourcemanager.am.max-attempts=20"}, c.ha...)...)
	require.NoError(t, err)
	id := appIDPattern.FindString(out)
	client := supervisor.NewControlClient(appDirFor(c, id))
	require.Eventually(t, func() bool { return leaderOf(client) != "" }, 30*time.Second, 20*time.Millisecond)
	out, err = c.run("", "run", "-id", id, spec)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	jobID := lines[len(lines)-1]

	// progress returns the leader and its latest completed checkpoint for the job.
	progress := func() (string, jobmanager.CheckpointInfo) {
		rest := leaderOf(client)
		var info jobmanager.CheckpointInfo
		if rest == "" || getJSON(rest+"/jobs/"+jobID+"/checkpoints", &info) != nil {
			return "", info
		}
		return rest, info
	}
	// The leader asks for the two containers once it leads; the job needs only
	// one, so the other may still be on its way: compare against both running.
	var st0 supervisor.Status
	require.Eventually(t, func() bool {
		var err error
		st0, err = client.Status(context.Background())
		return err == nil && len(st0.Containers) == 2 &&
			!slices.ContainsFunc(st0.Containers, func(c supervisor.ContainerState) bool { return c.State != string(containers.Running) || c.PID == 0 })
	}, 60*time.Second, 20*time.Millisecond, "-n 2: two TaskManager containers run")
	rng := rand.New(rand.NewSource(42))
	for kill := 1; kill <= 10; kill++ {
		require.Eventually(t, func() bool {
			rest, info := progress()
			return rest != "" && info.LatestID() > info.RestoredFrom
		}, 60*time.Second, 20*time.Millisecond, "kill %d: the job checkpoints under the new leader", kill)
		// A random moment within about one checkpoint interval: some kills land
		// while a checkpoint is in flight.
		<-time.After(time.Duration(rng.Intn(300)) * time.Millisecond)
		_, err := client.KillAM(context.Background())
		require.NoError(t, err)
	}
	var last jobmanager.CheckpointInfo
	require.Eventually(t, func() bool {
		rest, info := progress()
		last = info
		return rest != "" && info.LatestID() > info.RestoredFrom+3
	}, 60*time.Second, 20*time.Millisecond, "the job runs on after the last kill")
	require.True(t, last.Adopted, "the last attempt adopted the running tasks")
	require.Zero(t, last.RestoredFrom, "the last attempt restored nothing")
	st1, err := client.Status(context.Background())
	require.NoError(t, err)
	require.Equal(t, st0.Containers, st1.Containers, "the same TaskManager containers throughout")
	require.Equal(t, 11, st1.Attempt)

	st, err := hdfsstore.Open(context.Background(), "file://"+storage)
	require.NoError(t, err)
	defer st.Close()
	// Storage does not grow with the checkpoints taken: the state of subsumed ones
	// goes, also what a killed attempt left between storing a checkpoint and
	// removing the older state. One is retained; one more may be in flight and
	// one subsumed but not yet removed.
	var chks []string
	require.Eventually(t, func() bool {
		chks = stateCheckpoints(t, st, jobID)
		return len(chks) <= 3
	}, 30*time.Second, 50*time.Millisecond, "state of subsumed checkpoints is removed")
	t.Logf("checkpoint state kept: %v", chks)

	_, err = c.run("", "stop", "-id", id)
	require.NoError(t, err)
	got, err := job.ReadCommittedJob(context.Background(), st, job.OutputDir(taskmanager.OutputRoot, "counts"), job.JobID(jobID))
	require.NoError(t, err)
	t.Logf("committed %d windows through 10 AM kills: %v…", len(got), fmt.Sprint(got[:min(5, len(got))]))
	requireExactCounts(t, got, 10)
}

// stateCheckpoints lists the checkpoints (chk-<id>) a job's TaskManagers have
// state files of.
func stateCheckpoints(t *testing.T, st hdfsstore.Store, jobID string) []string {
	names, err := st.List(context.Background(), "")
	require.NoError(t, err)
	var chks []string
	for _, n := range names {
		_, rest, ok := strings.Cut(n, "/state/"+jobID+"/")
		if chk, _, _ := strings.Cut(rest, "/"); ok && !slices.Contains(chks, chk) {
			chks = append(chks, chk)
		}
	}
	return chks
}

// jobSession starts a session with n TaskManagers and runs the given specs.
func jobSession(t *testing.T, n int, specs ...string) (c *cli, id string, client *supervisor.ControlClient, jobs []string, store hdfsstore.Store) {
	return jobSessionWith(t, n, nil, specs...)
}

// jobSessionWith is jobSession with the cli's HA properties adjusted by mod first.
func jobSessionWith(t *testing.T, n int, mod func(*cli), specs ...string) (c *cli, id string, client *supervisor.ControlClient, jobs []string, store hdfsstore.Store) {
	c = newCLI(t)
	if mod != nil {
		mod(c)
	}
	out, err := c.run("", append([]string{"-n", strconv.Itoa(n), "-d",
		"-D", "yarn.application-attempts=10", "-D", "yarn.resourcemanager.am.max-attempts=10"}, c.ha...)...)
	require.NoError(t, err)
	id = appIDPattern.FindString(out)
	client = supervisor.NewControlClient(appDirFor(c, id))
	t.Cleanup(func() { dumpLogs(t, appDirFor(c, id)) })
	require.Eventually(t, func() bool { return leaderVia(c.rest, client) != "" }, 30*time.Second, 20*time.Millisecond)
	for i, s := range specs {
		f := filepath.Join(t.TempDir(), fmt.Sprintf("job-%d.yaml", i))
		require.NoError(t, os.WriteFile(f, []byte(s), 0o600))
		out, err := c.run("", "run", "-id", id, f)
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		jobs = append(jobs, lines[len(lines)-1])
	}
	store, err = hdfsstore.Open(context.Background(), c.haValue("high-availability.storageDir"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	return c, id, client, jobs, store
}

func committed(t *testing.T, st hdfsstore.Store, path string) []int64 {
	got, err := job.ReadCommitted(context.Background(), st, job.OutputDir(taskmanager.OutputRoot, path))
	require.NoError(t, err)
	return got
}

func TestTaskManagerKilledTasksComeBackOnAReplacement(t *testing.T) {
	_, _, client, _, st := jobSession(t, 1, fastCounting)
	require.Eventually(t, func() bool { return len(committed(t, st, "counts")) >= 3 }, 60*time.Second, 20*time.Millisecond)
	before, err := client.Status(context.Background())
	require.NoError(t, err)
	require.Len(t, before.Containers, 1)
	require.NoError(t, syscall.Kill(before.Containers[0].PID, syscall.SIGKILL))

	var after supervisor.Status
	require.Eventually(t, func() bool {
		after, err = client.Status(context.Background())
		return err == nil && len(after.Containers) == 1 && after.Containers[0].ID != before.Containers[0].ID
	}, 60*time.Second, 20*time.Millisecond, "a replacement container")
	n := len(committed(t, st, "counts"))
	require.Eventually(t, func() bool { return len(committed(t, st, "counts")) >= n+3 }, 60*time.Second, 20*time.Millisecond,
		"the job runs on in the replacement")
	require.Equal(t, before.Attempt, after.Attempt, "a TaskManager's death does not cost an AM attempt")
	requireExactCounts(t, committed(t, st, "counts"), n+3)
}

func TestTwoJobsCancelOneThenKillTheAM(t *testing.T) {
	b := strings.Replace(fastCounting, "path: counts", "path: counts-b", 1)
	b = strings.Replace(b, "name: counting", "name: counting-b", 1)
	c, id, client, jobs, st := jobSession(t, 2, fastCounting, b)
	require.Eventually(t, func() bool {
		return len(committed(t, st, "counts")) >= 3 && len(committed(t, st, "counts-b")) >= 3
	}, 60*time.Second, 20*time.Millisecond, "both jobs commit output")

	_, err := c.run("", "cancel", "-id", id, jobs[1])
	require.NoError(t, err)
	_, err = client.KillAM(context.Background())
	require.NoError(t, err)
	stopped := len(committed(t, st, "counts-b"))
	a := len(committed(t, st, "counts"))
	require.Eventually(t, func() bool { return len(committed(t, st, "counts")) >= a+5 }, 60*time.Second, 20*time.Millisecond,
		"job A runs on under the next AM")
	out, err := c.run("", "list", "-id", id)
	require.NoError(t, err)
	require.Contains(t, out, jobs[0])
	require.NotContains(t, out, jobs[1], "the canceled job stays canceled")
	out, err = c.run("", "list", "-a", "-id", id)
	require.NoError(t, err)
	require.Regexp(t, jobs[1]+`\s+counting-b\s+CANCELED`, out, "list -a shows it, canceled (from the job result store after the failover)")
	require.Equal(t, stopped, len(committed(t, st, "counts-b")), "the canceled job commits nothing more")
	requireExactCounts(t, committed(t, st, "counts"), a+5)
	requireExactCounts(t, committed(t, st, "counts-b"), stopped)
}

// TestSameSinkPathJobsKeepTheirPartsThroughAFailover: job A writes sink path
// "counts" and is canceled; job B is then submitted on the same path (allowed:
// A no longer runs). The AM is killed while B runs, so B restores from its
// checkpoint and drops its own uncommitted part. A's committed parts keep their
// bytes, every other part in the directory is B's (its name carries B's ID),
// and each job's output is exact.
func TestSameSinkPathJobsKeepTheirPartsThroughAFailover(t *testing.T) {
	c, id, client, jobs, st := jobSession(t, 1, fastCounting)
	a := jobs[0]
	require.Eventually(t, func() bool { return len(committed(t, st, "counts")) >= 3 }, 60*time.Second, 20*time.Millisecond,
		"job A commits output")
	_, err := c.run("", "cancel", "-id", id, a)
	require.NoError(t, err)
	partsA := committedBytes(t, st, "counts")
	windowsA := windowsOf(t, partsA, nil)
	requireExactCounts(t, windowsA, 3)

	spec := filepath.Join(t.TempDir(), "b.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(strings.Replace(fastCounting, "name: counting", "name: counting-b", 1)), 0o600))
	out, err := c.run("", "run", "-id", id, spec)
	require.NoError(t, err, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	b := lines[len(lines)-1]
	require.NotEqual(t, a, b)
	progress := func() jobmanager.CheckpointInfo { _, info := checkpointsUnder(client, b); return info }
	require.Eventually(t, func() bool { return progress().LatestID() >= 2 }, 60*time.Second, 20*time.Millisecond, "job B checkpoints")
	_, err = client.KillAM(context.Background())
	require.NoError(t, err)
	require.Eventually(t, func() bool { p := progress(); return p.Adopted && p.Latest.Completed != nil }, 60*time.Second, 20*time.Millisecond,
		"the next attempt adopts job B's running tasks and checkpoints them")

	outputOf := func(jobID string) []int64 {
		got, err := job.ReadCommittedJob(context.Background(), st, job.OutputDir(taskmanager.OutputRoot, "counts"), job.JobID(jobID))
		require.NoError(t, err)
		return got
	}
	n := len(outputOf(b))
	require.Eventually(t, func() bool { return len(outputOf(b)) >= n+3 }, 60*time.Second, 20*time.Millisecond, "job B runs on")
	after := committedBytes(t, st, "counts")
	for name, bytes := range partsA {
		require.Equal(t, bytes, after[name], "A's committed part %s keeps its bytes", name)
	}
	for name := range after {
		if _, ok := partsA[name]; ok {
			continue
		}
		p, ok := job.ParsePart(name)
		require.True(t, ok, name)
		require.Equal(t, job.JobID(b), p.Job, "part %s is B's", name)
	}
	require.Equal(t, windowsA, outputOf(a), "A's output, exactly")
	requireExactCounts(t, outputOf(b), n+3)
}

// dumpLogs prints an application's logs when the test failed.
func dumpLogs(t *testing.T, dir string) {
	if !t.Failed() {
		return
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	more, _ := filepath.Glob(filepath.Join(dir, "*", "*", "*.log"))
	for _, f := range append(logs, more...) {
		b, _ := os.ReadFile(f)
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		t.Logf("---- %s (tail) ----\n%s", f, b)
	}
}

// committedBytes returns each committed part of a sink path with its bytes.
func committedBytes(t *testing.T, st hdfsstore.Store, path string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	parts, err := job.CommittedParts(ctx, st, job.OutputDir(taskmanager.OutputRoot, path))
	require.NoError(t, err)
	out := map[string][]byte{}
	for _, p := range parts {
		b, err := job.ReadPart(ctx, st, p.Name)
		require.NoError(t, err)
		out[p.Name] = b
	}
	return out
}
