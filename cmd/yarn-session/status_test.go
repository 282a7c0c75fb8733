package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/internal/privdir"
	"github.com/amkeeper/amkeeper/supervisor"
)

const endedApp = "application_1796311383599_0001"

// endedAppDir writes what a supervisor leaves behind when its application's
// budget is spent: session.json, two attempt logs, ended.json with the history.
// Attempt 1 was SIGKILLed (no error in its log), attempt 2 could not reach
// ZooKeeper and exited printing why.
func endedAppDir(t *testing.T) (home, dir string) {
	home = filepath.Join(t.TempDir(), "home")
	t.Setenv(privdir.EnvHome, home)
	dir = filepath.Join(home, endedApp)
	require.NoError(t, privdir.Ensure(home))
	require.NoError(t, privdir.Ensure(dir))
	b, err := json.Marshal(spec{AppID: endedApp, Name: "counting"})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "session.json"), b, 0o600))
	id1, id2 := "appattempt_1796311383599_0001_000001", "appattempt_1796311383599_0001_000002"
	writeLog := func(id, content string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(supervisor.AMLogPath(dir, id)), 0o700))
		require.NoError(t, os.WriteFile(supervisor.AMLogPath(dir, id), []byte(content), 0o600))
	}
	writeLog(id1, `{"level":"info","role":"am","attempt":1,"time":"2026-12-03T15:23:03Z","message":"am serving"}`+"\n")
	writeLog(id2, `{"level":"info","role":"am","attempt":2,"time":"2026-12-03T15:23:09Z","message":"am serving","addr":"http://127.0.0.1:8081"}`+"\n"+
		`{"level":"error","role":"am","attempt":2,"error":"dial tcp 127.0.0.1:2181: connect: connection refused","time":"2026-12-03T15:23:10Z","message":"ZooKeeper unreachable"}`+"\n"+
		"yarn-session: am: high availability: no quorum\n")
	at := func(s string) time.Time { tm, err := time.Parse(time.RFC3339, s); require.NoError(t, err); return tm }
	e := ended{ApplicationID: endedApp, Name: "counting", TrackingURL: "http://127.0.0.1:8081", FinalStatus: "FAILED",
		Reason: "budget-exhausted", Attempts: 2, ClusterID: "prod", ClusterPath: "/flink/prod", HARemoved: true,
		End: at("2026-12-03T15:23:15Z"), MaxAttempts: 2, Window: "10m0s",
		History: &attempts.History{Attempts: []attempts.AttemptRecord{
			{Attempt: 1, AttemptID: id1, Start: at("2026-12-03T15:23:03Z"), End: at("2026-12-03T15:23:08Z"), Exit: attempts.ExitFailed,
				ExitCode: -1, Signal: "killed", Counted: true, Reason: attempts.ReasonWithinBudget, CountedFailures: 1,
				Diagnostics: "the AM exited without FinishApplicationMaster: signal: killed"},
			{Attempt: 2, AttemptID: id2, Start: at("2026-12-03T15:23:08Z"), End: at("2026-12-03T15:23:15Z"), Exit: attempts.ExitFailed,
				ExitCode: 1, Counted: true, Reason: attempts.ReasonBudgetExhausted, FinalStatus: attempts.FinalFailed, CountedFailures: 2},
		}}}
	require.NoError(t, writeEnded(dir, e))
	return home, dir
}

// TestStatusOfAnEndedApplicationFromItsDirectory: with no supervisor, status
// reads the application directory: the report's fields, each attempt's cause
// from its log (or the history's diagnostics), the budget as attempts used, and
// exit code 5.
func TestStatusOfAnEndedApplicationFromItsDirectory(t *testing.T) {
	_, dir := endedAppDir(t)
	out, code := run(t, "status", "-id", endedApp, "-o", "json")
	require.Equal(t, exitEnded, code)
	var r map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Equal(t, endedApp, r["applicationId"])
	require.Equal(t, "counting", r["name"])
	require.Equal(t, "FAILED", r["state"])
	require.Equal(t, "FAILED", r["finalStatus"])
	require.Equal(t, "http://127.0.0.1:8081", r["trackingUrl"])
	require.Equal(t, "2026-12-03T15:23:15Z", r["finishTime"])
	require.Equal(t, time.UnixMilli(1796311383599).Format(time.RFC3339Nano), r["startTime"])
	require.Equal(t, "ended FAILED (budget-exhausted) after 2 attempt(s); attempt 2: yarn-session: am: high availability: no quorum", r["diagnostics"])
	require.Equal(t, map[string]any{"maxAttempts": 2.0, "used": 2.0, "countedFailures": 2.0, "window": "10m0s", "remaining": 0.0,
		"text": "2 of 2 attempts used; failures older than 10m0s are forgotten"}, r["budget"])
	atts := r["attempts"].([]any)
	require.Len(t, atts, 2)
	a1, a2 := atts[0].(map[string]any), atts[1].(map[string]any)
	require.Equal(t, "the AM exited without FinishApplicationMaster: signal: killed", a1["cause"], "no error line: the history's diagnostics")
	require.Equal(t, "killed", a1["signal"])
	require.Equal(t, "yarn-session: am: high availability: no quorum", a2["cause"], "the last error line of am.log")
	require.Equal(t, 1.0, a2["exitCode"])
	require.Equal(t, "budget-exhausted", a2["reason"])
	require.Equal(t, supervisor.AMLogPath(dir, "appattempt_1796311383599_0001_000002"), a2["log"])
	require.Equal(t, map[string]any{"clusterId": "prod", "path": "/flink/prod", "removed": true}, r["ha"])

	out, code = run(t, "status", "-id", endedApp)
	require.Equal(t, exitEnded, code)
	require.Regexp(t, `(?m)^ State :\s+FAILED$`, out)
	require.Regexp(t, `(?m)^ Budget :\s+2 of 2 attempts used; failures older than 10m0s are forgotten$`, out)
	require.Regexp(t, `(?m)^2\s+appattempt_1796311383599_0001_000002\s+ENDED\s+-\s+15:23:08\s+15:23:15\s+failed \(code 1\)\s+true\s+yarn-session: am: high availability: no quorum$`, out)
	require.NotContains(t, out, "Attempt 3 of 2")
	require.Contains(t, out, "Session "+endedApp+" ended: FAILED (budget-exhausted) after 2 attempt(s).")
}

// TestStatusWhileTheSupervisorStops: the supervisor still answers but reports
// the end (it is stopping its containers): status says the application ended,
// with exit code 5 and the end record once it is written.
func TestStatusWhileTheSupervisorStops(t *testing.T) {
	_, dir := endedAppDir(t)
	serveFakeSupervisor(t, dir, supervisor.Status{ApplicationID: endedApp, State: "FAILED", MaxAttempts: 2, SupervisorPID: os.Getpid()}, nil)
	out, code := run(t, "status", "-id", endedApp, "-o", "json")
	require.Equal(t, exitEnded, code, out)
	var r map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Equal(t, "FAILED", r["state"])
	require.Equal(t, "2026-12-03T15:23:15Z", r["finishTime"], "read from ended.json")

	require.NoError(t, os.Remove(filepath.Join(dir, endedFile)))
	out, code = run(t, "status", "-id", endedApp, "-o", "json")
	require.Equal(t, exitEnded, code, "no end record yet: still ended")
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Equal(t, "FAILED", r["state"])
}

// TestStatusOfAnUnknownApplication: no directory for the ID is exit 4, naming
// where it looked; a usage error stays 2.
func TestStatusOfAnUnknownApplication(t *testing.T) {
	home, _ := endedAppDir(t)
	var b strings.Builder
	err := newApp(&b, &b).Run([]string{"yarn-session", "status", "-id", "application_1_0001"})
	require.Error(t, err)
	require.Equal(t, exitNoSuchApp, exitCode(err))
	require.Equal(t, "no such application: application_1_0001 (looked in "+home+")", err.Error())
	_, code := run(t, "logs", "-id", "application_1_0001")
	require.Equal(t, exitNoSuchApp, code)
	_, code = run(t, "status", "-id", "application_1_0001", "-o", "yaml")
	require.Equal(t, exitUsage, code)
}

// TestLogsOfAnEndedApplication: logs reads the attempt logs from the directory:
// the last attempt by default, rendered as plain lines; -o json gives the lines
// as written; --attempt selects; an unknown attempt is a usage error naming
// those there are.
func TestLogsOfAnEndedApplication(t *testing.T) {
	_, dir := endedAppDir(t)
	out, code := run(t, "logs", "-id", endedApp)
	require.Equal(t, 0, code)
	require.Equal(t, "2026-12-03T15:23:09Z INFO  am/2 am serving addr=http://127.0.0.1:8081\n"+
		"2026-12-03T15:23:10Z ERROR am/2 ZooKeeper unreachable error=\"dial tcp 127.0.0.1:2181: connect: connection refused\"\n"+
		"yarn-session: am: high availability: no quorum\n", out)

	out, code = run(t, "logs", "-id", endedApp, "-o", "json", "--attempt", "1")
	require.Equal(t, 0, code)
	b, err := os.ReadFile(supervisor.AMLogPath(dir, "appattempt_1796311383599_0001_000001"))
	require.NoError(t, err)
	require.Equal(t, string(b), out)

	// -f on an ended application prints what there is and returns.
	out, code = run(t, "logs", "-id", endedApp, "-f")
	require.Equal(t, 0, code)
	require.Equal(t, 3, strings.Count(out, "\n"))

	_, code = run(t, "logs", "-id", endedApp, "--attempt", "7")
	require.Equal(t, exitUsage, code)
	_, code = run(t, "logs", "-id", endedApp, "--container", "../../etc")
	require.Equal(t, exitUsage, code)
}
