package integration_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/flinkshape"
	"github.com/amkeeper/amkeeper/jobmanager"
)

// scrape parses Prometheus text.
func scrape(t *testing.T, text []byte) map[string]*dto.MetricFamily {
	t.Helper()
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	require.NoError(t, err, "%s", text)
	return fams
}

// value is the value of the gauge or counter name whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f, ok := fams[name]
	require.True(t, ok, "no metric %s", name)
next:
	for _, m := range f.GetMetric() {
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		if g := m.GetGauge(); g != nil {
			return g.GetValue()
		}
		return m.GetCounter().GetValue()
	}
	require.Failf(t, "no series", "%s%v", name, want)
	return 0
}

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", url, b)
	return b
}

// TestMetricsAndFlinkShapesAcrossAFailover: a session runs the counting job;
// the leader's /metrics (Prometheus text) and the supervisor's (on its control
// socket) name the job, its checkpoints and the leader. After the AM is
// SIGKILLed, the next attempt's numRestarts is 1 (it restored the job from the
// first attempt's checkpoint), its attempt number and the failover phases are
// there, and the supervisor saw a second leadership grant by attempt 2. Every
// Flink-shaped endpoint of the new leader has Flink's fields, and a canceled
// job is still served by /jobs/{id}, CANCELED.
func TestMetricsAndFlinkShapesAcrossAFailover(t *testing.T) {
	c, id, client, jobs, _ := jobSessionWith(t, 1, func(c *cli) {
		c.ha = append(c.ha, "-D", "yarn.application-attempts=3", "-D", "yarn.resourcemanager.am.max-attempts=3",
			// Restore, not adopt: the restart and restore metrics are the subject.
			"-D", "amkeeper.taskmanager.leaderless-grace=0")
	}, fastCounting)
	jobID := jobs[0]
	job := map[string]string{"job_id": jobID, "job_name": "counting"}

	var first string
	require.Eventually(t, func() bool {
		first = leaderOf(client)
		var info jobmanager.CheckpointInfo
		return first != "" && getJSON(first+"/jobs/"+jobID+"/checkpoints", &info) == nil && info.Counts.Completed >= 2
	}, 60*time.Second, 20*time.Millisecond, "attempt 1 checkpoints")
	m := scrape(t, httpGet(t, first+"/metrics"))
	require.Equal(t, 0.0, value(t, m, "flink_jobmanager_job_numRestarts", job), "submitted here: never restarted")
	require.GreaterOrEqual(t, value(t, m, "flink_jobmanager_job_numberOfCompletedCheckpoints", job), 2.0)
	require.Equal(t, 1.0, value(t, m, "flink_jobmanager_numRunningJobs", nil))
	require.Equal(t, 1.0, value(t, m, "amkeeper_am_attempt", nil))
	require.Equal(t, 1.0, value(t, m, "amkeeper_am_leader", nil))
	require.Equal(t, 1.0, value(t, m, "amkeeper_zookeeper_connection_state", map[string]string{"state": "CONNECTED"}))
	sm, err := client.Metrics(context.Background())
	require.NoError(t, err)
	s := scrape(t, sm)
	require.Equal(t, 1.0, value(t, s, "amkeeper_supervisor_leader_attempt", nil))
	require.Equal(t, 1.0, value(t, s, "amkeeper_supervisor_leadership_grants_total", nil))
	require.Equal(t, 2.0, value(t, s, "amkeeper_supervisor_attempts_left", nil))

	_, err = client.KillAM(context.Background())
	require.NoError(t, err)
	var second string
	var info jobmanager.CheckpointInfo
	require.Eventually(t, func() bool {
		second = leaderOf(client)
		return second != "" && second != first && getJSON(second+"/jobs/"+jobID+"/checkpoints", &info) == nil &&
			info.RestoredFrom > 0 && info.Counts.Completed >= 1
	}, 60*time.Second, 20*time.Millisecond, "attempt 2 restores the job and checkpoints")
	m = scrape(t, httpGet(t, second+"/metrics"))
	require.Equal(t, 1.0, value(t, m, "flink_jobmanager_job_numRestarts", job), "restored from attempt 1's checkpoint: one restart")
	require.Equal(t, 2.0, value(t, m, "amkeeper_am_attempt", nil))
	require.Equal(t, 1.0, value(t, m, "amkeeper_am_leader", nil))
	require.Equal(t, 1.0, value(t, m, "amkeeper_am_attempts_left", nil))
	require.Contains(t, m, "amkeeper_failover_phase_seconds")
	require.Equal(t, uint64(1), m["amkeeper_failover_phase_seconds"].GetMetric()[0].GetHistogram().GetSampleCount())
	require.Eventually(t, func() bool {
		sm, err := client.Metrics(context.Background())
		if err != nil {
			return false
		}
		s := scrape(t, sm)
		return value(t, s, "amkeeper_supervisor_leader_attempt", nil) == 2 &&
			value(t, s, "amkeeper_supervisor_leadership_grants_total", nil) == 2 &&
			value(t, s, "amkeeper_supervisor_attempts_left", nil) == 1
	}, 10*time.Second, 20*time.Millisecond, "the supervisor saw attempt 2 take over")

	// Flink's shapes, live. (The checkpoints' latest.failed may be null: a
	// failed checkpoint is not forced here; the unit tests cover that shape.)
	for _, ep := range []string{"/overview", "/config", "/jobs", "/jobs/overview", "/taskmanagers", "/jobmanager/config", "/jobmanager/metrics"} {
		flinkshape.Check(t, ep, httpGet(t, second+ep))
	}
	flinkshape.Check(t, "/jobs/:id", httpGet(t, second+"/jobs/"+jobID))
	require.NotNil(t, info.Latest.Restored)
	require.Equal(t, info.RestoredFrom, info.Latest.Restored.ID)

	_, err = c.run("", "cancel", "-id", id, jobID)
	require.NoError(t, err)
	var d jobmanager.JobDetail
	require.NoError(t, getJSON(second+"/jobs/"+jobID, &d))
	require.Equal(t, "CANCELED", d.State, "a canceled job is still served")
	require.Positive(t, d.EndTime)
	var o jobmanager.Overview
	require.NoError(t, getJSON(second+"/overview", &o))
	require.Equal(t, jobmanager.JobCounts{Cancelled: 1}, o.JobCounts)
}
