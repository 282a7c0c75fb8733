package dashboard_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/browsertest"
	"github.com/amkeeper/amkeeper/jobmanager/dashboard"
)

// flinkShaped are responses in Flink's REST shapes (as Flink 1.17 answers;
// no amkeeper fields where Flink has its own), plus amkeeper's /attempts and
// /failover. The job's name would run a script if it were parsed as HTML.
var flinkShaped = map[string]string{
	"/overview": `{"taskmanagers":1,"slots-total":2,"slots-available":1,"jobs-running":1,"jobs-finished":0,
		"jobs-cancelled":0,"jobs-failed":0,"flink-version":"1.17.1","flink-commit":"2750d5c"}`,
	"/config": `{"refresh-interval":3000,"timezone-name":"Coordinated Universal Time","timezone-offset":0,
		"flink-version":"1.17.1","flink-revision":"2750d5c @ 2023-05-19T10:45:46+02:00","features":{"web-submit":false}}`,
	"/jobs": `{"jobs":[{"id":"a1b2c3d4e5f60718293a4b5c6d7e8f90","status":"RUNNING"}]}`,
	"/jobs/overview": `{"jobs":[{"jid":"a1b2c3d4e5f60718293a4b5c6d7e8f90","name":"<img src=x id=injected>","start-time":1700000000000,
		"end-time":-1,"duration":5000,"state":"RUNNING","last-modification":1700000001000,
		"tasks":{"total":1,"created":0,"scheduled":0,"deploying":0,"running":1,"finished":0,"canceling":0,"canceled":0,"failed":0,"reconciling":0,"initializing":0}}]}`,
	"/jobs/a1b2c3d4e5f60718293a4b5c6d7e8f90/checkpoints": `{"counts":{"restored":1,"total":12,"in_progress":0,"completed":11,"failed":1},
		"summary":{"checkpointed_size":{"min":10,"max":20,"avg":15},"state_size":{"min":10,"max":20,"avg":15},"end_to_end_duration":{"min":3,"max":9,"avg":5}},
		"latest":{"completed":{"className":"completed","id":12,"status":"COMPLETED","is_savepoint":false,"trigger_timestamp":1700000000900,
			"latest_ack_timestamp":1700000000950,"state_size":20,"end_to_end_duration":5,"num_subtasks":1,"num_acknowledged_subtasks":1,
			"external_path":"file:///ha/chk-12","discarded":false},
		"savepoint":null,"failed":null,
		"restored":{"id":5,"restore_timestamp":1700000000000,"is_savepoint":false,"external_path":"file:///ha/chk-5"}},
		"history":[{"className":"completed","id":12,"status":"COMPLETED"},{"className":"failed","id":11,"status":"FAILED"}]}`,
	"/taskmanagers": `{"taskmanagers":[{"id":"container_1_0001_01_000002","path":"akka.tcp://flink@127.0.0.1:40123/user/rpc/taskmanager_0",
		"dataPort":40124,"jmxPort":-1,"timeSinceLastHeartbeat":1700000001000,"slotsNumber":2,"freeSlots":1,
		"totalResource":{},"freeResource":{},"hardware":{"cpuCores":2,"physicalMemory":1,"freeMemory":1,"managedMemory":1},"memoryConfiguration":{}}]}`,
	"/jobmanager/config": `[{"key":"jobmanager.rpc.address","value":"localhost"},{"key":"rest.port","value":"8081"}]`,
	"/attempts": `{"attemptId":"appattempt_1_0001_000003","attempt":3,"maxAttempts":4,"history":{"version":1,"attempts":[
		{"attempt":1,"attempt_id":"appattempt_1_0001_000001","end":"2023-11-14T22:13:21Z","exit":"failed","signal":"killed","counted":true,"reason":"within-budget","counted_failures":1},
		{"attempt":2,"attempt_id":"appattempt_1_0001_000002","end":"2023-11-14T22:13:25Z","exit":"preempted","counted":false,"reason":"not-counted","counted_failures":1}]}}`,
	"/failover": `{"process_start":1.5,"zk_connected":40.25,"leader_granted":80,"published":85}`,
}

// TestPageReadsFlinkShapes renders the page in a real headless Chromium against
// Flink-shaped responses: each section shows the values Flink's fields carry,
// names are shown as text (never parsed as HTML), and the page sent nothing but
// GET requests.
func TestPageReadsFlinkShapes(t *testing.T) {
	var mu sync.Mutex
	methods := map[string]int{}
	mux := http.NewServeMux()
	ui := dashboard.Handler()
	mux.Handle("GET /{$}", ui)
	mux.Handle("GET "+dashboard.PathAssets, ui)
	for path, body := range flinkShaped {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(body))
		})
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		methods[r.Method]++
		mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	b := browsertest.New(t)
	require.NoError(t, b.Navigate(srv.URL+"/?refresh=250"))
	const wait = 10 * time.Second
	eq := browsertest.Equals
	// Attempt 2 was preempted (not counted): attempt 3 is the second attempt used.
	b.WaitFor("the attempt", browsertest.Text("#attempt"), wait, eq("3 (2 of 4 attempts used)"))
	b.WaitFor("the attempt ID", browsertest.Text("#attempt-id"), wait, eq("appattempt_1_0001_000003"))
	b.WaitFor("the slots", browsertest.Text("#slots"), wait, eq("1 free of 2"))
	b.WaitFor("the TaskManager count", browsertest.Text("#tm-count"), wait, eq("1"))
	b.WaitFor("the ended attempts and the running one", `[...document.querySelectorAll("#attempts tr")].map((r) => r.cells[0].textContent + ":" + r.cells[4].textContent + ":" + r.cells[5].textContent).join(",")`,
		wait, eq("1:failed (killed):yes,2:preempted:no,3:running:–"))
	b.WaitFor("the phases in order", `[...document.querySelectorAll('#failovers [data-attempt="3"] li')].map((l) => l.textContent).join(",")`,
		wait, eq("process_start: 1.5 ms,zk_connected: 40.3 ms,leader_granted: 80.0 ms,published: 85.0 ms"))
	b.WaitFor("the job with its checkpoints", browsertest.Cells(`#jobs tr[data-job="a1b2c3d4e5f60718293a4b5c6d7e8f90"]`),
		wait, eq("<img src=x id=injected>|a1b2c3d4e5f60718293a4b5c6d7e8f90|RUNNING|12|11|5|–|12 COMPLETED, 11 FAILED"))
	// The last cell is the heartbeat's time of day in the browser's zone.
	b.WaitFor("the TaskManager", browsertest.Cells("#taskmanagers tr"), wait, func(s string) bool {
		return strings.HasPrefix(s, "container_1_0001_01_000002|akka.tcp://flink@127.0.0.1:40123/user/rpc/taskmanager_0|1 free of 2|–|")
	})
	b.WaitFor("the configuration", browsertest.Cells("#config tr"), wait, eq("jobmanager.rpc.address|localhost|–\nrest.port|8081|–"))
	b.WaitFor("no element made from a name", `document.getElementById("injected") === null ? "none" : "injected"`, wait, eq("none"))
	b.WaitFor("the connection live", `document.getElementById("conn").dataset.state`, wait, eq("live"))

	require.Empty(t, b.Problems())
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{http.MethodGet}, keys(methods), "the page only reads")
}

func keys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
