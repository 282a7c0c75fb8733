package integration_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/supervisor"
	"github.com/amkeeper/amkeeper/taskmanager"
)

// haSnapshot is a cluster's HA data: its pointers in ZooKeeper and its files in storage.
type haSnapshot struct {
	graphs      []string          // job graph pointers
	checkpoints []string          // the job's checkpoint pointers
	payloads    map[string]string // pointer -> the storage name it points to
	files       []string          // storage names under the cluster's directory
}

func snapshotHA(t *testing.T, c *cli, st hdfsstore.Store, jobID string) haSnapshot {
	t.Helper()
	raw := zkc.Conn(t)
	cluster := c.haValue("high-availability.cluster-id")
	root := c.haValue("high-availability.zookeeper.path.root") + "/" + cluster
	s := haSnapshot{payloads: map[string]string{}}
	pointers := func(dir string) []string {
		names, _, err := raw.Children(dir)
		require.NoError(t, err, dir)
		slices.Sort(names)
		for _, n := range names {
			b, _, err := raw.Get(dir + "/" + n)
			require.NoError(t, err)
			var p struct {
				Path string `json:"path"`
			}
			require.NoError(t, json.Unmarshal(b, &p), "pointer %s/%s", dir, n)
			s.payloads[dir+"/"+n] = p.Path
		}
		return names
	}
	s.graphs = pointers(root + "/jobgraphs")
	s.checkpoints = pointers(root + "/jobs/" + jobID + "/checkpoints")
	files, err := st.List(context.Background(), cluster+"/")
	require.NoError(t, err)
	slices.Sort(files)
	s.files = files
	return s
}

// TestBudgetSpentKeepsHADataAndANewSessionResumes: the restart budget runs out
// while a counting job runs; the application ends FAILED but its job is not
// terminal, so its job graph, checkpoints and state all stay and committed output
// is untouched. A new session with -z on the same cluster-id recovers the job from
// its latest checkpoint and the output goes on exactly once.
func TestBudgetSpentKeepsHADataAndANewSessionResumes(t *testing.T) {
	c, id, client, jobs, st := jobSessionWith(t, 1, func(c *cli) {
		c.ha = append(c.ha, "-D", "yarn.application-attempts=2")
	}, fastCounting)
	cluster, jobID := c.haValue("high-availability.cluster-id"), jobs[0]

	checkpointing := func(client *supervisor.ControlClient) func() bool {
		return func() bool {
			rest := leaderOf(client)
			var info jobmanager.CheckpointInfo
			return rest != "" && getJSON(rest+"/jobs/"+jobID+"/checkpoints", &info) == nil && info.LatestID() > info.RestoredFrom+1
		}
	}
	require.Eventually(t, checkpointing(client), 60*time.Second, 20*time.Millisecond, "the job checkpoints")
	require.Eventually(t, func() bool { return len(committed(t, st, "counts")) >= 3 }, 60*time.Second, 20*time.Millisecond)
	sup, err := client.Status(context.Background())
	require.NoError(t, err)
	// Two counted failures within the validity window: the budget is spent.
	_, err = client.KillAM(context.Background())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		s, err := client.Status(context.Background())
		return err == nil && s.Attempt == 2
	}, 30*time.Second, 20*time.Millisecond)
	require.Eventually(t, checkpointing(client), 30*time.Second, 20*time.Millisecond, "the job checkpoints under attempt 2")
	_, err = client.KillAM(context.Background())
	require.NoError(t, err)
	require.Eventually(t, func() bool { return !alive(sup.SupervisorPID) }, 60*time.Second, 20*time.Millisecond, "the application ends")

	storage := strings.TrimPrefix(c.haValue("high-availability.storageDir"), "file://")
	h, err := os.ReadFile(storage + "/attempts/" + id + "/history.json")
	require.NoError(t, err)
	require.Contains(t, string(h), `"final_status": "FAILED"`)

	// Everything of the job is still there: one job graph, its retained
	// checkpoints, each pointing to a payload in storage, with their state.
	before := snapshotHA(t, c, st, jobID)
	require.Equal(t, []string{jobID}, before.graphs)
	require.NotEmpty(t, before.checkpoints)
	for ptr, payload := range before.payloads {
		require.Contains(t, before.files, payload, "the payload of %s", ptr)
	}
	for _, cp := range before.checkpoints {
		n, err := strconv.ParseInt(cp, 10, 64)
		require.NoError(t, err)
		require.Contains(t, stateCheckpoints(t, st, jobID), "chk-"+strconv.FormatInt(n, 10), "the state of checkpoint %d", n)
	}
	latest, err := strconv.ParseInt(before.checkpoints[len(before.checkpoints)-1], 10, 64)
	require.NoError(t, err)
	parts := committedBytes(t, st, "counts")
	require.NotEmpty(t, parts)

	// The supervisor, its log and status say how to resume.
	resume := "yarn-session -z " + cluster
	log, err := os.ReadFile(filepath.Join(appDirFor(c, id), "supervisor.log"))
	require.NoError(t, err)
	require.Contains(t, string(log), "HA data kept")
	require.Contains(t, string(log), resume)
	out, err := c.run("", "status", "-id", id)
	requireExit(t, endedExit, err) // status of an ended application
	require.Contains(t, out, "ended: FAILED")
	require.Contains(t, out, jobID)
	require.Contains(t, out, resume)

	// Nothing changed while no session ran.
	require.Equal(t, before, snapshotHA(t, c, st, jobID))

	// A new session on the same cluster-id (-z, not -D) recovers the job.
	var args []string
	for i := 0; i < len(c.ha); i += 2 {
		if !strings.HasPrefix(c.ha[i+1], "high-availability.cluster-id=") {
			args = append(args, c.ha[i], c.ha[i+1])
		}
	}
	out, err = c.run("", append([]string{"-n", "1", "-d", "-z", cluster}, args...)...)
	require.NoError(t, err)
	id2 := appIDPattern.FindString(out)
	require.NotEqual(t, id, id2)
	client2 := supervisor.NewControlClient(appDirFor(c, id2))
	t.Cleanup(func() { dumpLogs(t, appDirFor(c, id2)) })
	var info jobmanager.CheckpointInfo
	require.Eventually(t, func() bool {
		rest := leaderOf(client2)
		return rest != "" && getJSON(rest+"/jobs/"+jobID+"/checkpoints", &info) == nil && info.LatestID() > info.RestoredFrom+3
	}, 60*time.Second, 20*time.Millisecond, "the new session runs the job on")
	require.Equal(t, latest, info.RestoredFrom, "restored from the latest checkpoint the failed application kept")
	n := len(committed(t, st, "counts"))
	require.Eventually(t, func() bool { return len(committed(t, st, "counts")) >= n+3 }, 60*time.Second, 20*time.Millisecond)
	_, err = c.run("", "stop", "-id", id2)
	require.NoError(t, err)
	// A stop suspends the running job: its data stays, and status says how to resume.
	require.Equal(t, []string{jobID}, snapshotHA(t, c, st, jobID).graphs)
	out, err = c.run("", "status", "-id", id2)
	requireExit(t, endedExit, err) // status of an ended application
	require.Contains(t, out, "ended: STOPPED")
	require.Contains(t, out, resume)

	after := committedBytes(t, st, "counts")
	for name, b := range parts {
		require.Equal(t, b, after[name], "committed part %s", name)
	}
	got, err := job.ReadCommittedJob(context.Background(), st, job.OutputDir(taskmanager.OutputRoot, "counts"), job.JobID(jobID))
	require.NoError(t, err)
	t.Logf("committed %d windows across two applications (%d before the budget ran out)", len(got), len(parts))
	requireExactCounts(t, got, n+3)
}

// TestBudgetSpentWithOnlyTerminalJobsRemovesHAData: an application whose only
// job was canceled (its result is in the job result store) removes its HA data
// when the budget runs out, and says so.
func TestBudgetSpentWithOnlyTerminalJobsRemovesHAData(t *testing.T) {
	c, id, client, jobs, _ := jobSessionWith(t, 1, func(c *cli) {
		c.ha = append(c.ha, "-D", "yarn.application-attempts=1")
	}, fastCounting)
	cluster, jobID := c.haValue("high-availability.cluster-id"), jobs[0]
	clusterPath := c.haValue("high-availability.zookeeper.path.root") + "/" + cluster
	storage := strings.TrimPrefix(c.haValue("high-availability.storageDir"), "file://")
	raw := zkc.Conn(t)
	require.Eventually(t, func() bool {
		names, _, err := raw.Children(clusterPath + "/jobs/" + jobID + "/checkpoints")
		return err == nil && len(names) > 0
	}, 60*time.Second, 20*time.Millisecond, "the job checkpoints")
	_, err := c.run("", "cancel", "-id", id, jobID)
	require.NoError(t, err)
	sup, err := client.Status(context.Background())
	require.NoError(t, err)
	_, err = client.KillAM(context.Background())
	require.NoError(t, err)
	require.Eventually(t, func() bool { return !alive(sup.SupervisorPID) }, 60*time.Second, 20*time.Millisecond, "the application ends")

	ok, _, err := raw.Exists(clusterPath)
	require.NoError(t, err)
	require.False(t, ok, "the znodes of an application whose jobs all ended are removed")
	_, err = os.Stat(filepath.Join(storage, cluster))
	require.True(t, os.IsNotExist(err), "its HA storage is removed: %v", err)
	out, err := c.run("", "status", "-id", id)
	requireExit(t, endedExit, err) // status of an ended application
	require.Contains(t, out, "ended: FAILED")
	require.Contains(t, out, "HA data ("+clusterPath+") was removed")
}

// TestBudgetSpentWithATerminalAndARunningJobKeepsAll: one job canceled, one
// running, the budget spent: the running job's graph, checkpoints and state stay,
// and so does the job result store, which keeps the canceled job from ever running
// again in the session that resumes the other.
func TestBudgetSpentWithATerminalAndARunningJobKeepsAll(t *testing.T) {
	other := strings.ReplaceAll(fastCounting, "path: counts", "path: other")
	c, id, client, jobs, st := jobSessionWith(t, 1, func(c *cli) {
		c.ha = append(c.ha, "-D", "yarn.application-attempts=1", "-D", "yarn.resourcemanager.am.max-attempts=1")
	}, fastCounting, other)
	cluster := c.haValue("high-availability.cluster-id")
	root := c.haValue("high-availability.zookeeper.path.root") + "/" + cluster
	raw := zkc.Conn(t)
	for _, j := range jobs {
		require.Eventually(t, func() bool {
			names, _, err := raw.Children(root + "/jobs/" + j + "/checkpoints")
			return err == nil && len(names) > 0
		}, 60*time.Second, 20*time.Millisecond, "job %s checkpoints", j)
	}
	_, err := c.run("", "cancel", "-id", id, jobs[1])
	require.NoError(t, err)
	sup, err := client.Status(context.Background())
	require.NoError(t, err)
	_, err = client.KillAM(context.Background())
	require.NoError(t, err)
	require.Eventually(t, func() bool { return !alive(sup.SupervisorPID) }, 60*time.Second, 20*time.Millisecond, "the application ends")

	kept := snapshotHA(t, c, st, jobs[0])
	require.Equal(t, []string{jobs[0]}, kept.graphs, "the running job's graph stays; the canceled one's went with its cancel")
	require.NotEmpty(t, kept.checkpoints)
	for ptr, payload := range kept.payloads {
		require.Contains(t, kept.files, payload, "the payload of %s", ptr)
	}
	require.Contains(t, kept.files, cluster+"/job-result-store/"+jobs[1]+".json", "the canceled job's result stays")
	out, err := c.run("", "status", "-id", id)
	requireExit(t, endedExit, err) // status of an ended application
	require.Contains(t, out, "job(s) "+jobs[0]+" did not finish")
	require.Contains(t, out, "yarn-session -z "+cluster)
}
