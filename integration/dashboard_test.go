package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/browsertest"
	"github.com/amkeeper/amkeeper/internal/netaddr/netaddrtest"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/jobmanager/dashboard"
)

func atLeast(n int64) func(string) bool {
	return func(s string) bool { v, err := strconv.ParseInt(s, 10, 64); return err == nil && v >= n }
}

// restLatestCheckpoint reads a job's latest completed checkpoint from the REST
// API, in amkeeper's shape (latest: the ID) or Flink's (latest.completed.id).
func restLatestCheckpoint(rest, jobID string) (int64, error) {
	var raw struct {
		Latest json.RawMessage `json:"latest"`
	}
	if err := getJSON(rest+"/jobs/"+jobID+"/checkpoints", &raw); err != nil {
		return 0, err
	}
	var id int64
	if json.Unmarshal(raw.Latest, &id) == nil {
		return id, nil
	}
	var flink struct {
		Completed *struct {
			ID int64 `json:"id"`
		} `json:"completed"`
	}
	if err := json.Unmarshal(raw.Latest, &flink); err != nil || flink.Completed == nil {
		return 0, err
	}
	return flink.Completed.ID, nil
}

// TestDashboardFollowsAFailover opens the AM's dashboard in a real headless
// Chromium on a session running the counting job: it shows the leading attempt,
// the job RUNNING with its checkpoints rising, the TaskManager and the
// configuration with origins, as the REST API reports them. Then the AM is
// SIGKILLed: without a reload the same page shows attempt 2, attempt 1 ended
// (failed, counted) in the attempt table, every phase of the failover, and the
// job restored from a checkpoint and checkpointing again. The page neither
// throws nor violates its Content-Security-Policy.
func TestDashboardFollowsAFailover(t *testing.T) {
	// A fixed REST port, so that the next attempt serves at the page's address.
	port := strconv.Itoa(netaddrtest.FreePort(t))
	_, _, client, jobs, _ := jobSessionWith(t, 1, func(c *cli) {
		for i, a := range c.ha {
			if a == "rest.port=0" {
				c.ha[i] = "rest.port=" + port
			}
		}
		// Restore, not adopt: the page shows the job restored from a checkpoint.
		c.ha = append(c.ha, "-D", "amkeeper.taskmanager.leaderless-grace=0")
	}, fastCounting)
	jobID := jobs[0]
	rest := leaderOf(client)
	require.True(t, strings.HasSuffix(rest, ":"+port), "the AM serves at the fixed port: %s", rest)
	var o jobmanager.Overview
	require.NoError(t, getJSON(rest+"/overview", &o))

	res, err := http.Get(rest + "/")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, dashboard.ContentSecurityPolicy, res.Header.Get("Content-Security-Policy"))

	b := browsertest.New(t)
	require.NoError(t, b.Navigate(rest+"/?refresh=200"))
	_, err = b.Eval(`window.__marker = "first load"`)
	require.NoError(t, err)

	// The leader, as the AM reports it.
	b.WaitFor("attempt 1", browsertest.Value("#attempt"), 30*time.Second, browsertest.Equals("1"))
	b.WaitFor("the leading attempt's ID", browsertest.Value("#attempt-id"), 10*time.Second, browsertest.Equals(o.AttemptID))
	b.WaitFor("the AM as leader", browsertest.Value("#leading"), 10*time.Second, browsertest.Equals("true"))
	row := fmt.Sprintf(`tr[data-job=%q]`, jobID)
	b.WaitFor("the job RUNNING", browsertest.Text(row+` [data-k="state"]`), 30*time.Second, browsertest.Equals(jobmanager.JobRunning))

	// Live values: the latest checkpoint the page shows rises while it is open,
	// and is one the AM reports.
	first := b.WaitFor("a completed checkpoint", browsertest.Value(row+` [data-k="latest"]`), 30*time.Second, atLeast(1))
	n, _ := strconv.ParseInt(first, 10, 64)
	shown := b.WaitFor("a later checkpoint", browsertest.Value(row+` [data-k="latest"]`), 30*time.Second, atLeast(n+3))
	latest, err := restLatestCheckpoint(rest, jobID)
	require.NoError(t, err)
	v, _ := strconv.ParseInt(shown, 10, 64)
	require.GreaterOrEqual(t, latest, v, "the page shows the AM's checkpoints")

	// The TaskManager and the configuration with its origins.
	st, err := client.Status(context.Background())
	require.NoError(t, err)
	require.Len(t, st.Containers, 1)
	b.WaitFor("the TaskManager", `[...document.querySelectorAll("#taskmanagers tr")].map((r) => r.dataset.tm).join(",")`,
		10*time.Second, browsertest.Equals(st.Containers[0].ID))
	var cfg []jobmanager.ConfigEntry
	require.NoError(t, getJSON(rest+"/jobmanager/config", &cfg))
	i := slices.IndexFunc(cfg, func(e jobmanager.ConfigEntry) bool { return e.Key == "high-availability.type" })
	require.GreaterOrEqual(t, i, 0)
	require.Equal(t, "zookeeper", cfg[i].Value)
	require.NotEmpty(t, cfg[i].Origin)
	b.WaitFor("high-availability.type with its origin", browsertest.Cells(`#config tr[data-key="high-availability.type"]`),
		10*time.Second, browsertest.Equals("high-availability.type|zookeeper|"+cfg[i].Origin))
	phases := []string{jobmanager.PhaseProcessStart, jobmanager.PhaseZKConnected, jobmanager.PhaseGranted,
		jobmanager.PhasePublished, jobmanager.PhaseJobsRecovered, jobmanager.PhaseTMsRegistered, jobmanager.PhaseTasksDeployed}
	slices.Sort(phases)
	phasesOf := func(attempt int) string {
		return fmt.Sprintf(`[...document.querySelectorAll('#failovers [data-attempt="%d"] li')].map((l) => l.dataset.phase).sort().join(",")`, attempt)
	}
	b.WaitFor("attempt 1's phases", phasesOf(1), 10*time.Second, browsertest.Equals(strings.Join(phases, ",")))

	// The AM dies; the page follows the next attempt by itself.
	_, err = client.KillAM(context.Background())
	require.NoError(t, err)
	b.WaitFor("attempt 2", browsertest.Value("#attempt"), 60*time.Second, browsertest.Equals("2"))
	b.WaitFor("attempt 2 leading", browsertest.Value("#leading"), 30*time.Second, browsertest.Equals("true"))
	b.WaitFor("attempt 1 ended, failed and counted",
		`(() => { const c = [...document.querySelectorAll('#attempts tr[data-attempt="1"] td')].map((c) => c.textContent); return c[4]?.split(" ")[0] + "|" + c[5]; })()`,
		30*time.Second, browsertest.Equals("failed|yes"))
	b.WaitFor("attempt 2 running", browsertest.Text(`#attempts tr.current[data-attempt="2"] td:nth-child(5)`), 10*time.Second, browsertest.Equals("running"))
	st, err = client.Status(context.Background())
	require.NoError(t, err)
	b.WaitFor("attempt 2 and the budget as status phrases it", browsertest.Text("#attempt"), 10*time.Second,
		browsertest.Equals(fmt.Sprintf("2 (2 of %d attempts used)", st.MaxAttempts)))
	got := b.WaitFor("every phase of the failover", phasesOf(2), 60*time.Second, browsertest.Equals(strings.Join(phases, ",")))
	t.Logf("failover phases shown: %s", got)
	b.WaitFor("attempt 1's phases, still listed", phasesOf(1), 5*time.Second, browsertest.Equals(strings.Join(phases, ",")))
	restored := b.WaitFor("the job restored from a checkpoint", browsertest.Value(row+` [data-k="restored"]`), 60*time.Second, atLeast(1))
	r, _ := strconv.ParseInt(restored, 10, 64)
	b.WaitFor("the job checkpointing under attempt 2", browsertest.Value(row+` [data-k="latest"]`), 60*time.Second, atLeast(r+2))
	b.WaitFor("the job RUNNING", browsertest.Text(row+` [data-k="state"]`), 10*time.Second, browsertest.Equals(jobmanager.JobRunning))

	// The same document throughout, without errors or CSP violations.
	marker, err := b.Eval(`window.__marker ?? "reloaded"`)
	require.NoError(t, err)
	require.Equal(t, "first load", marker, "the page followed the failover without a reload")
	require.Empty(t, b.Problems())
}
