package integration_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/browsertest"
	"github.com/amkeeper/amkeeper/internal/netaddr/netaddrtest"
	"github.com/amkeeper/amkeeper/jobmanager"
)

// takeoverOf is how the leader at rest took job over, as GET /jobs/{id},
// /jobs/{id}/checkpoints, /attempts and /failover report it; nil until it has
// (or while no leader answers). The four must agree.
func takeoverOf(t *testing.T, rest, jobID string) *jobmanager.Takeover {
	t.Helper()
	var detail jobmanager.JobDetail
	var info jobmanager.CheckpointInfo
	var attempts struct {
		Takeover map[string]jobmanager.Takeover `json:"takeover"`
	}
	var failover jobmanager.FailoverReport
	if getJSON(rest+"/jobs/"+jobID, &detail) != nil || getJSON(rest+"/jobs/"+jobID+"/checkpoints", &info) != nil ||
		getJSON(rest+"/attempts", &attempts) != nil || getJSON(rest+"/failover", &failover) != nil || detail.Takeover == nil {
		return nil
	}
	require.Equal(t, *detail.Takeover, failover.Jobs[jobID], "GET /jobs/{id} and /failover agree")
	require.Equal(t, detail.Takeover, info.Takeover, "GET /jobs/{id} and /jobs/{id}/checkpoints agree")
	a, ok := attempts.Takeover[jobID]
	require.True(t, ok, "GET /attempts lists the job's takeover: %+v", attempts.Takeover)
	require.Equal(t, *detail.Takeover, a, "GET /jobs/{id} and /attempts agree")
	return detail.Takeover
}

// TestTakeoverShownAdoptedOrRestored: an AM kill with the TaskManager alive is
// an adoption, and the REST API (GET /jobs/{id}, /jobs/{id}/checkpoints,
// /attempts, /failover), the metrics and the dashboard say so; an AM killed together with
// the job's TaskManager forces a restore, and they say that, from which
// checkpoint, and why the tasks were not adopted (the subtask does not run in
// the recorded execution). yarn-session status says the same.
func TestTakeoverShownAdoptedOrRestored(t *testing.T) {
	port := strconv.Itoa(netaddrtest.FreePort(t)) // the next attempt serves at the page's address
	c, id, client, jobs, _ := jobSessionWith(t, 1, func(c *cli) {
		for i, a := range c.ha {
			if a == "rest.port=0" {
				c.ha[i] = "rest.port=" + port
			}
		}
	}, fastCounting)
	jobID := jobs[0]
	ctx := context.Background()
	rest := checkpointedAt(t, client, jobID, 1)
	first := takeoverOf(t, rest, jobID)
	require.NotNil(t, first)
	require.Equal(t, jobmanager.TakeoverStarted, first.Outcome, "a submitted job is started, not taken over")
	takeovers := func(rest string) map[string]float64 {
		fams := scrape(t, httpGet(t, rest+"/metrics"))
		out := map[string]float64{}
		for _, o := range []string{jobmanager.TakeoverAdopted, jobmanager.TakeoverRestored, jobmanager.TakeoverStarted} {
			out[o] = value(t, fams, "amkeeper_job_takeovers_total", map[string]string{"outcome": o})
		}
		return out
	}
	// Under load the leader may lose its ZooKeeper session and be granted again in
	// the same process: that grant adopts the job (the counts below allow it).
	m := takeovers(rest)
	require.Equal(t, 1.0, m["started"])
	require.Zero(t, m["restored"])

	b := browsertest.New(t)
	require.NoError(t, b.Navigate(rest+"/?refresh=200"))
	row := fmt.Sprintf(`tr[data-job=%q]`, jobID)
	b.WaitFor("the job's row", browsertest.Text(row+` [data-k="state"]`), 30*time.Second, browsertest.Equals(jobmanager.JobRunning))

	// The AM alone dies: the next leader adopts the running task.
	st, err := client.Status(ctx)
	require.NoError(t, err)
	_, err = client.KillAM(ctx)
	require.NoError(t, err)
	var adopted *jobmanager.Takeover
	require.Eventually(t, func() bool {
		s, err := client.Status(ctx)
		if err != nil || s.Attempt != st.Attempt+1 {
			return false
		}
		rest = leaderOf(client)
		adopted = nil
		if rest != "" {
			adopted = takeoverOf(t, rest, jobID)
		}
		return adopted != nil
	}, 60*time.Second, 10*time.Millisecond, "the next leader takes the job over")
	t.Logf("after an AM kill: %+v", *adopted)
	require.Equal(t, jobmanager.TakeoverAdopted, adopted.Outcome)
	require.NotEmpty(t, adopted.Execution)
	require.Empty(t, adopted.Reason)
	m = takeovers(rest)
	require.GreaterOrEqual(t, m["adopted"], 1.0, "the new AM counts the adoption")
	require.Zero(t, m["restored"])
	require.Zero(t, m["started"])
	b.WaitFor("the job adopted", browsertest.Value(row+` [data-k="takeover"]`), 60*time.Second, browsertest.Equals(jobmanager.TakeoverAdopted))
	b.WaitFor("the job adopted, in words", browsertest.Text(row+` [data-k="takeover"]`), 10*time.Second, browsertest.Equals("adopted"))
	out, err := c.run("", "status", "-id", id)
	require.NoError(t, err)
	require.Contains(t, out, fmt.Sprintf("%s  adopted: its tasks kept running (execution %s, checkpoint %d)", jobID, adopted.Execution, adopted.Checkpoint))

	// The AM dies with the job's TaskManager: the next leader must restore.
	require.Eventually(t, func() bool {
		_, info := checkpointsUnder(client, jobID)
		return info.Latest.Completed != nil
	}, 60*time.Second, 10*time.Millisecond, "the job checkpoints under the adopting leader")
	st, err = client.Status(ctx)
	require.NoError(t, err)
	require.Len(t, st.Containers, 1)
	require.NoError(t, syscall.Kill(st.Containers[0].PID, syscall.SIGKILL))
	_, err = client.KillAM(ctx)
	require.NoError(t, err)
	var restored *jobmanager.Takeover
	require.Eventually(t, func() bool {
		s, err := client.Status(ctx)
		if err != nil || s.Attempt != st.Attempt+1 {
			return false
		}
		rest = leaderOf(client)
		restored = nil
		if rest != "" {
			restored = takeoverOf(t, rest, jobID)
		}
		return restored != nil
	}, 60*time.Second, 10*time.Millisecond, "the next leader takes the job over")
	t.Logf("after an AM and TaskManager kill: %+v", *restored)
	require.Equal(t, jobmanager.TakeoverRestored, restored.Outcome)
	require.Positive(t, restored.Checkpoint, "restored from the latest checkpoint")
	require.Contains(t, restored.Reason, "subtask 0 not running in execution "+adopted.Execution)
	require.NotEqual(t, adopted.Execution, restored.Execution, "a new execution runs")
	var info jobmanager.CheckpointInfo
	require.NoError(t, getJSON(rest+"/jobs/"+jobID+"/checkpoints", &info))
	require.Equal(t, restored.Checkpoint, info.RestoredFrom)
	m = takeovers(rest)
	require.Equal(t, 1.0, m["restored"], "the new AM counts the restore")
	require.Zero(t, m["started"])
	b.WaitFor("the job restored", browsertest.Value(row+` [data-k="takeover"]`), 60*time.Second, browsertest.Equals(jobmanager.TakeoverRestored))
	text := b.WaitFor("the job restored, in words", browsertest.Text(row+` [data-k="takeover"]`), 10*time.Second,
		func(s string) bool {
			return strings.HasPrefix(s, fmt.Sprintf("restored from %d: subtask 0 not running", restored.Checkpoint))
		})
	t.Logf("the dashboard shows: %s", text)
	out, err = c.run("", "status", "-id", id)
	require.NoError(t, err)
	require.Contains(t, out, fmt.Sprintf("%s  restored from checkpoint %d: %s", jobID, restored.Checkpoint, restored.Reason))
	require.Empty(t, b.Problems())
}
