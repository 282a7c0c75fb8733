package jobmanager_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/flinkshape"
	"github.com/amkeeper/amkeeper/internal/httpjson"
)

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// TestAMServesFlinkShapes: a leading AM with one TaskManager answers /overview,
// /config, /taskmanagers, /jobmanager/config and /jobmanager/metrics with every
// field of Flink's responses (the recorded lists), its own fields beside them;
// an unknown path and a refused mutation answer Flink's {"errors":[…]}; and
// /metrics is Prometheus text with Flink's JobManager metric names.
func TestAMServesFlinkShapes(t *testing.T) {
	dir := t.TempDir()
	cfg, err := conf.Load(conf.Options{Dynamic: []string{"rest.port=0", "heartbeat.interval=50 ms"}})
	require.NoError(t, err)
	rm := &fakeRM{t: t, dir: dir}
	am, _ := runAM(t, cfg, rm, 1)
	o := awaitLeading(t, am, httpjson.Client{})
	require.Equal(t, 1, o.SlotsTotal)
	require.Equal(t, 1, o.SlotsAvailable, "no job takes the slot")
	require.NotEmpty(t, o.FlinkVersion)
	require.Equal(t, 2, o.Attempt, "amkeeper's own fields stay")

	for _, ep := range []string{"/overview", "/config", "/taskmanagers", "/jobmanager/config", "/jobmanager/metrics", "/jobmanager/metrics?get=numRunningJobs"} {
		status, body := get(t, am.Address()+ep)
		require.Equal(t, http.StatusOK, status, "%s: %s", ep, body)
		flinkshape.Check(t, ep, body)
	}
	status, body := get(t, am.Address()+"/jobmanager/metrics?get=numRegisteredTaskManagers,taskSlotsTotal")
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `[{"id":"numRegisteredTaskManagers","value":"1"},{"id":"taskSlotsTotal","value":"1"}]`, string(body))

	status, body = get(t, am.Address()+"/nonexistent")
	require.Equal(t, http.StatusNotFound, status)
	flinkshape.Check(t, "/nonexistent", body)
	require.JSONEq(t, `{"errors":["Not found: /nonexistent"]}`, string(body))

	resp, err := http.Post(am.Address()+"/jobs", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.JSONEq(t, `{"errors":["Unauthorized"]}`, string(b), "a refused mutation is Flink-shaped too")

	status, body = get(t, am.Address()+"/metrics")
	require.Equal(t, http.StatusOK, status)
	for _, line := range []string{
		"flink_jobmanager_numRegisteredTaskManagers 1",
		"flink_jobmanager_taskSlotsTotal 1",
		"flink_jobmanager_taskSlotsAvailable 1",
		"flink_jobmanager_numRunningJobs 0",
		"amkeeper_am_attempt 2",
		"amkeeper_am_max_attempts 2",
		"amkeeper_am_attempts_left 0",
		"amkeeper_am_leader 1",
	} {
		require.Contains(t, strings.Split(string(body), "\n"), line)
	}
}
