package integration_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/sessionctl"
	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/taskmanager"
)

// encodeGraph encodes spec as the graph of job id.
func encodeGraph(t *testing.T, id, spec string) []byte {
	t.Helper()
	s, err := job.ParseSpec([]byte(spec), "test.yaml")
	require.NoError(t, err)
	b, err := job.Graph{ID: job.JobID(id), Spec: s}.Encode()
	require.NoError(t, err)
	return b
}

// postJSON posts v to url as the session in appDir's own user (with its
// secret) and returns the status and body.
func postJSON(t *testing.T, appDir, url string, v any) (int, string) {
	t.Helper()
	body, err := json.Marshal(v)
	require.NoError(t, err)
	secret, err := sessionctl.SessionSecret(appDir)
	require.NoError(t, err)
	resp, err := secret.Client(&http.Client{Timeout: 30 * time.Second}).Post(url, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, b.String()
}

// znodesUnder lists every znode below root (root itself excluded), sorted.
func znodesUnder(t *testing.T, conn *zk.Conn, root string) []string {
	t.Helper()
	var out []string
	var walk func(p string)
	walk = func(p string) {
		kids, _, err := conn.Children(p)
		if err == zk.ErrNoNode {
			return
		}
		require.NoError(t, err)
		for _, k := range kids {
			out = append(out, p+"/"+k)
			walk(p + "/" + k)
		}
	}
	walk(root)
	slices.Sort(out)
	return out
}

// matching keeps the names that contain s.
func matching(names []string, s string) []string {
	var out []string
	for _, n := range names {
		if strings.Contains(n, s) {
			out = append(out, n)
		}
	}
	return out
}

// haFiles lists the storage names of the cluster's HA data that name job (sink
// output excluded), with their bytes.
func haFiles(t *testing.T, st hdfsstore.Store, job string) map[string][]byte {
	t.Helper()
	names, err := st.List(context.Background(), "")
	require.NoError(t, err)
	out := map[string][]byte{}
	for _, n := range names {
		if strings.HasPrefix(n, taskmanager.OutputRoot+"/") || !strings.Contains(n, job) {
			continue
		}
		b, err := hdfsstore.GetBytes(context.Background(), st, n)
		if err != nil {
			b = []byte("unreadable: " + err.Error())
		}
		out[n] = b
	}
	return out
}

// TestSubmissionsAreValidated: an undecodable graph is refused with 400 and its
// reason; a graph whose ID is not the job ID too; resubmitting a running job's ID
// and a second job on the same sink path are refused with 409 naming the running
// job; none of them stores anything, the running job's stored graph stays byte for
// byte. After an AM kill the recovered job keeps its name.
func TestSubmissionsAreValidated(t *testing.T) {
	c, id, client, jobs, st := jobSession(t, 1, fastCounting)
	clusterZK := c.haValue("high-availability.zookeeper.path.root") + "/" + c.haValue("high-availability.cluster-id")
	conn := zkc.Conn(t)
	rest := leaderOf(client)
	require.NotEmpty(t, rest)
	// Deploying records the job's execution in its stored graph (a new payload
	// replaces the submitted one): the snapshot below is taken after that.
	require.Eventually(t, func() bool { info, ok := checkpoints(rest, jobs[0]); return ok && info.Deployed },
		60*time.Second, 20*time.Millisecond, "the job is deployed")
	graphsBefore := znodesUnder(t, conn, clusterZK+recovery.JobGraphsDir)
	require.Contains(t, graphsBefore, clusterZK+recovery.JobGraphsDir+"/"+jobs[0])
	stored := func() map[string][]byte {
		all := map[string][]byte{}
		names, err := st.List(context.Background(), "")
		require.NoError(t, err)
		for _, n := range names {
			if strings.Contains(n, "submittedJobGraph") {
				b, err := hdfsstore.GetBytes(context.Background(), st, n)
				require.NoError(t, err)
				all[n] = b
			}
		}
		return all
	}
	before := stored()
	require.Len(t, before, 1)

	other := string(job.NewJobID())
	status, body := postJSON(t, appDirFor(c, id), rest+"/jobs", jobmanager.JobSubmission{JobID: other, Name: "bad", Graph: []byte(`{"version":1}`)})
	require.Equal(t, http.StatusBadRequest, status, body)
	require.Contains(t, body, "invalid job graph")

	status, body = postJSON(t, appDirFor(c, id), rest+"/jobs", jobmanager.JobSubmission{JobID: other, Name: "mismatch",
		Graph: encodeGraph(t, jobs[0], strings.Replace(fastCounting, "path: counts", "path: elsewhere", 1))})
	require.Equal(t, http.StatusBadRequest, status, body)
	require.Contains(t, body, "want the job ID")

	replacement := strings.Replace(strings.Replace(fastCounting, "path: counts", "path: counts-new", 1), "name: counting", "name: replacement", 1)
	status, body = postJSON(t, appDirFor(c, id), rest+"/jobs", jobmanager.JobSubmission{JobID: jobs[0], Name: "replacement", Graph: encodeGraph(t, jobs[0], replacement)})
	require.Equal(t, http.StatusConflict, status, body)
	require.Contains(t, body, jobs[0])

	status, body = postJSON(t, appDirFor(c, id), rest+"/jobs", jobmanager.JobSubmission{JobID: other, Name: "same-sink", Graph: encodeGraph(t, other, fastCounting)})
	require.Equal(t, http.StatusConflict, status, body)
	require.Contains(t, body, jobs[0], "the refusal names the job that writes the path")
	require.Contains(t, body, `\"counts\"`, "and the path (quoted, in the {\"errors\":[…]} body)")

	require.Equal(t, before, stored(), "the running job's stored graph is unchanged, nothing else is stored")
	require.Equal(t, graphsBefore, znodesUnder(t, conn, clusterZK+recovery.JobGraphsDir))

	_, err := client.KillAM(context.Background())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		r := leaderOf(client)
		var j jobmanager.JobStatus
		return r != "" && r != rest && getJSON(r+"/jobs/"+jobs[0], &j) == nil && j.State == jobmanager.JobRunning
	}, 60*time.Second, 50*time.Millisecond, "the next leader recovers the job")
	out, err := c.run("", "list", "-id", id)
	require.NoError(t, err)
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, jobs[0]) {
			line = l
		}
	}
	require.Equal(t, []string{jobs[0], "counting", jobmanager.JobRunning}, strings.Fields(line), "the recovered job keeps its name")
	require.Empty(t, committed(t, st, "counts-new"), "the refused replacement never ran")
}

// TestCancelRemovesTheJobsHAData: canceling a job removes its job graph, its
// checkpoint pointers and ID counter, its checkpoint metadata and task state, and
// keeps its result (clean) and its committed output; the job stays queryable as
// CANCELED, also from the next leader after an AM kill. The other job runs on.
func TestCancelRemovesTheJobsHAData(t *testing.T) {
	b := strings.Replace(fastCounting, "path: counts", "path: counts-b", 1)
	b = strings.Replace(b, "name: counting", "name: counting-b", 1)
	c, id, client, jobs, st := jobSession(t, 2, fastCounting, b)
	clusterZK := c.haValue("high-availability.zookeeper.path.root") + "/" + c.haValue("high-availability.cluster-id")
	cluster := c.haValue("high-availability.cluster-id")
	conn := zkc.Conn(t)
	canceled := jobs[1]
	require.Eventually(t, func() bool {
		return len(committed(t, st, "counts")) >= 3 && len(committed(t, st, "counts-b")) >= 3
	}, 60*time.Second, 20*time.Millisecond, "both jobs commit output")

	// What the job has before: its graph, checkpoints and counter in ZooKeeper;
	// graph, checkpoint metadata and task state in storage.
	zkBefore := matching(znodesUnder(t, conn, clusterZK), canceled)
	require.Contains(t, zkBefore, clusterZK+"/jobgraphs/"+canceled)
	require.Contains(t, zkBefore, clusterZK+"/jobs/"+canceled+"/checkpoint_id_counter")
	require.NotEmpty(t, matching(zkBefore, "/jobs/"+canceled+"/checkpoints/0"))
	filesBefore := haFiles(t, st, canceled)
	kinds := map[string]bool{}
	for n := range filesBefore {
		switch {
		case strings.HasPrefix(n, cluster+"/submittedJobGraph-"+canceled):
			kinds["graph"] = true
		case strings.HasPrefix(n, cluster+"/completedCheckpoint-"+canceled):
			kinds["metadata"] = true
		case strings.HasPrefix(n, cluster+"/state/"+canceled+"/"):
			kinds["state"] = true
		}
	}
	require.Equal(t, map[string]bool{"graph": true, "metadata": true, "state": true}, kinds, "files before: %v", filesBefore)

	_, err := c.run("", "cancel", "-id", id, canceled)
	require.NoError(t, err)
	output := committedBytes(t, st, "counts-b")
	require.NotEmpty(t, output)

	require.Empty(t, matching(znodesUnder(t, conn, clusterZK), canceled), "no znode of the job is left")
	after := haFiles(t, st, canceled)
	require.Equal(t, []string{cluster + "/job-result-store/" + canceled + ".json"}, slices.Sorted(maps.Keys(after)),
		"only the job's clean result is left in HA storage")
	var res struct {
		Result struct{ State, Name string } `json:"result"`
	}
	require.NoError(t, json.Unmarshal(after[cluster+"/job-result-store/"+canceled+".json"], &res))
	require.Equal(t, jobmanager.JobCanceled, res.Result.State)
	require.Equal(t, "counting-b", res.Result.Name)

	rest := leaderOf(client)
	var j jobmanager.JobStatus
	require.NoError(t, getJSON(rest+"/jobs/"+canceled, &j))
	require.Equal(t, jobmanager.JobStatus{JobID: canceled, Name: "counting-b", State: jobmanager.JobCanceled}, j)

	a := len(committed(t, st, "counts"))
	_, err = client.KillAM(context.Background())
	require.NoError(t, err)
	require.Eventually(t, func() bool { r := leaderOf(client); return r != "" && r != rest }, 60*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return len(committed(t, st, "counts")) >= a+5 }, 60*time.Second, 20*time.Millisecond,
		"the other job runs on under the next leader")
	rest = leaderOf(client)
	require.NoError(t, getJSON(rest+"/jobs/"+canceled, &j))
	require.Equal(t, jobmanager.JobStatus{JobID: canceled, Name: "counting-b", State: jobmanager.JobCanceled}, j,
		"the canceled job stays queryable after a failover")
	var finished struct {
		Jobs []jobmanager.JobStatus `json:"jobs"`
	}
	require.NoError(t, getJSON(rest+"/jobs/finished", &finished))
	require.Equal(t, []jobmanager.JobStatus{j}, finished.Jobs)
	require.Equal(t, output, committedBytes(t, st, "counts-b"), "the canceled job's committed output is never deleted")
	require.Equal(t, after, haFiles(t, st, canceled))
	requireExactCounts(t, committed(t, st, "counts"), a+5)
	requireExactCounts(t, committed(t, st, "counts-b"), len(output))
}

// TestPausedOldLeaderQueuedCancelChangesNothing: two AMs (hot standby). The
// leader is paused (SIGSTOP) until the standby leads; a cancel sent to the old
// leader's REST port waits in its socket; the old leader resumes (SIGCONT) and
// handles it. It must change nothing: no job result is written, every part
// committed before it resumed keeps its bytes, the job runs on under the new
// leader and, after another failover, under the next one, exactly once.
func TestPausedOldLeaderQueuedCancelChangesNothing(t *testing.T) {
	// Tolerating suspended connections, the resumed leader learns that its session
	// is gone only when it reconnects: its own view still says it leads while it
	// handles the queued request.
	j := countingWithStandby(t, "-D", "high-availability.zookeeper.client.tolerate-suspended-connections=true")
	s, first, progress := j.session, j.leader, j.progress
	ctx := context.Background()
	st := storageOf(t, first.Address)
	results := func() []string {
		names, err := st.List(ctx, "")
		require.NoError(t, err)
		return matching(names, "job-result-store/")
	}

	resume := pauseAM(t, s, first.Address)
	second, _ := s.waitLeader(t, first, 1)
	require.Eventually(t, func() bool { return progress(second.Address).LatestID() > progress(second.Address).RestoredFrom },
		60*time.Second, 20*time.Millisecond, "the job checkpoints under the new leader")

	// The cancel waits in the paused process's socket.
	addr := strings.TrimPrefix(first.Address, "http://")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	cancel, err := http.NewRequest(http.MethodPost, "http://"+addr+"/jobs/"+j.jobID+"/cancel", strings.NewReader("{}"))
	require.NoError(t, err)
	require.NoError(t, s.sup.Secret().Authorize(cancel))
	_, err = fmt.Fprintf(conn, "POST /jobs/%s/cancel HTTP/1.1\r\nHost: %s\r\n%s: %s\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
		j.jobID, addr, appsecret.HeaderAuthorization, cancel.Header.Get(appsecret.HeaderAuthorization))
	require.NoError(t, err)
	parts := committedBytes(t, st, "counts") // what the resumed old leader must not touch
	resume()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(60*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "the resumed old leader answers the queued cancel")
	var b strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
	resp.Body.Close()
	t.Logf("the resumed old leader answered the cancel: %d %s", resp.StatusCode, b.String())
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "the old leader does not lead: ask the leader (%s)", b.String())
	require.Empty(t, results(), "no job result is written by the old leader")

	latest := progress(second.Address).LatestID()
	require.Eventually(t, func() bool { return progress(second.Address).LatestID() >= latest+2 }, 60*time.Second, 20*time.Millisecond,
		"the job runs on under the new leader")
	_, err = s.sup.KillAM()
	require.NoError(t, err)
	third, _ := s.waitLeader(t, second, 1)
	require.Eventually(t, func() bool { p := progress(third.Address); return p.Deployed && p.LatestID() > p.RestoredFrom+1 },
		60*time.Second, 20*time.Millisecond, "after another failover the job still runs")
	require.Empty(t, results())
	// Every part committed before the old leader resumed keeps its bytes, and the
	// output goes on exactly once past them.
	had := len(windowsOf(t, parts, nil))
	require.Eventually(t, func() bool { return len(committed(t, st, "counts")) >= had+3 }, 60*time.Second, 20*time.Millisecond,
		"the job commits three windows more")
	after := committedBytes(t, st, "counts")
	for name, b := range parts {
		require.Equal(t, b, after[name], "committed part %s keeps its bytes", name)
	}
	got, err := job.ReadCommittedJob(ctx, st, job.OutputDir(taskmanager.OutputRoot, "counts"), job.JobID(j.jobID))
	require.NoError(t, err)
	requireExactCounts(t, got, had+3)
}

// standbyJob is the setup of the paused-old-leader tests: a session of two AMs
// (a leader and a hot standby) running fastCounting.
type standbyJob struct {
	*session
	leader recovery.LeaderInfo // the first leader, the job's submitter
	jobID  string
}

// countingWithStandby starts a session of two AMs (extra adds to its
// configuration), submits fastCounting to the leader and waits until the job has
// completed two checkpoints.
func countingWithStandby(t *testing.T, extra ...string) standbyJob {
	t.Helper()
	s := startSessionWith(t, attempts.Budget{MaxAttempts: 5, Window: 10 * time.Minute}, containers.Keep, 1, []string{"0", "0"}, extra...)
	leader, _ := s.waitLeader(t, recovery.LeaderInfo{}, 1)
	require.Eventually(t, func() bool { return len(s.sup.AMPIDs()) == 2 }, 30*time.Second, 10*time.Millisecond, "the standby runs")
	sub, err := sessionctl.NewSubmission([]byte(fastCounting), "counting.yaml")
	require.NoError(t, err)
	require.NoError(t, sessionctl.Submit(context.Background(), s.sup.Secret(), nil, leader.Address, sub))
	j := standbyJob{session: s, leader: leader, jobID: sub.JobID}
	require.Eventually(t, func() bool { return j.progress(leader.Address).LatestID() >= 2 }, 60*time.Second, 20*time.Millisecond,
		"the job checkpoints under the first leader")
	return j
}

// progress reads the job's checkpoint statistics from the AM at rest (zero when
// it does not answer).
func (j standbyJob) progress(rest string) jobmanager.CheckpointInfo {
	info, _ := checkpoints(rest, j.jobID)
	return info
}

// pauseAM stops (SIGSTOP) the AM of s serving rest, as a paused leader; resume
// continues it, and runs at the test's end if the test did not call it.
func pauseAM(t *testing.T, s *session, rest string) (resume func()) {
	t.Helper()
	var pid int
	for _, am := range s.sup.Status().AMs {
		if am.REST == rest {
			pid = am.PID
		}
	}
	require.NotZero(t, pid, "the process of the AM at %s", rest)
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	var once sync.Once
	resume = func() { once.Do(func() { require.NoError(t, syscall.Kill(pid, syscall.SIGCONT)) }) }
	t.Cleanup(func() { once.Do(func() { _ = syscall.Kill(pid, syscall.SIGCONT) }) })
	return resume
}
