package integration_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/internal/sessionctl"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/supervisor"
	"github.com/amkeeper/amkeeper/taskmanager/tmapi"
)

// envAttack, when set, makes the test binary the attacker: it runs the attacks
// of the JSON attackPlan the variable holds, prints their results as JSON and
// exits (TestMain). TestOtherUserCannotCommandTheSession runs it as nobody.
const envAttack = "AMKEEPER_TEST_ATTACK"

// attackPlan is what the attacker knows: every address, the fencing token
// (as if it had learned it), a real container ID and the job it goes after.
type attackPlan struct {
	AM            string // the leader's REST address
	RPC           string // the leader's RPC endpoint (the TaskManagers' registry)
	TM            string // a TaskManager's address
	LeaderSession string
	ContainerID   string
	JobID         string
	Submission    jobmanager.JobSubmission
	SecretFile    string
	AMPID         int
}

// attackResult is one attack's outcome: the reply's status and body, or the
// error of a file read.
type attackResult struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
	Err    string `json:"err"`
}

// runAttacks runs plan (JSON) and prints the results; it is the attacker
// process's main.
func runAttacks(planJSON string) int {
	var p attackPlan
	if err := json.Unmarshal([]byte(planJSON), &p); err != nil {
		fmt.Fprintln(os.Stderr, "attacker:", err)
		return 2
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	call := func(method, url string, header map[string]string, body string) attackResult {
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			return attackResult{Err: err.Error()}
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return attackResult{Err: err.Error()}
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return attackResult{Status: resp.StatusCode, Body: string(b)}
	}
	read := func(path string) attackResult {
		b, err := os.ReadFile(path)
		if err != nil {
			return attackResult{Err: err.Error()}
		}
		return attackResult{Body: string(b)}
	}
	jsonType := map[string]string{"Content-Type": "application/json"}
	fenced := map[string]string{"Content-Type": "application/json", tmapi.HeaderLeaderSession: p.LeaderSession}
	sub, _ := json.Marshal(p.Submission)
	reg, _ := json.Marshal(tmapi.Registration{ContainerID: p.ContainerID, PID: os.Getpid(), Slots: 1,
		Address: "http://127.0.0.1:9", LeaderSession: p.LeaderSession})
	hb, _ := json.Marshal(tmapi.Heartbeat{ContainerID: p.ContainerID, LeaderSession: p.LeaderSession})
	out := map[string]attackResult{
		"uid":                  {Body: strconv.Itoa(os.Getuid())},
		"overview":             call(http.MethodGet, p.AM+"/overview", nil, ""),
		"tm status":            call(http.MethodGet, p.TM+tmapi.PathStatus, nil, ""),
		"tm cancel":            call(http.MethodDelete, p.TM+tmapi.PathTasks+"/"+p.JobID, fenced, ""),
		"tm checkpoint":        call(http.MethodPost, p.TM+tmapi.PathTasks+"/"+p.JobID+"/0/checkpoint", fenced, fmt.Sprintf(`{"id":%d}`, int64(math.MaxInt64))),
		"tm complete":          call(http.MethodPost, p.TM+tmapi.PathTasks+"/"+p.JobID+"/0/complete", fenced, fmt.Sprintf(`{"id":%d}`, int64(math.MaxInt64))),
		"register":             call(http.MethodPost, p.RPC+tmapi.PathRegister, jsonType, string(reg)),
		"heartbeat":            call(http.MethodPost, p.RPC+tmapi.PathHeartbeat, jsonType, string(hb)),
		"submit":               call(http.MethodPost, p.AM+"/jobs", jsonType, string(sub)),
		"cancel":               call(http.MethodPost, p.AM+"/jobs/"+p.JobID+"/cancel", jsonType, "{}"),
		"fallback":             call(http.MethodPost, p.AM+"/jobs/"+p.JobID+"/checkpoints/fallback", jsonType, `{"to":1,"confirm":true}`),
		"cross-origin submit":  call(http.MethodPost, p.AM+"/jobs", map[string]string{"Origin": "http://evil.example", "Content-Type": "text/plain"}, string(sub)),
		"secret file":          read(p.SecretFile),
		"am environment":       read(fmt.Sprintf("/proc/%d/environ", p.AMPID)),
		"forged secret submit": call(http.MethodPost, p.AM+"/jobs", map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + strings.Repeat("00", appsecret.Size)}, string(sub)),
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "attacker:", err)
		return 2
	}
	return 0
}

// getOverview reads an AM's overview as the session in appDir's own user, with
// its secret: only then does it hold the leader session.
func getOverview(appDir, rest string, o *jobmanager.Overview) error {
	secret, err := sessionctl.SessionSecret(appDir)
	if err != nil {
		return err
	}
	return sessionctl.GetJSON(context.Background(), secret.Client(&http.Client{Timeout: 2 * time.Second}), rest+"/overview", o)
}

// attackAsNobody runs the attacker as the user nobody (setpriv, no groups, an
// environment of nothing but the plan) from a copy of this test binary that
// nobody may execute, and returns its results.
func attackAsNobody(t *testing.T, plan attackPlan) map[string]attackResult {
	t.Helper()
	dir, err := os.MkdirTemp("", "amkeeper-attacker-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	self, err := os.Executable()
	require.NoError(t, err)
	b, err := os.ReadFile(self)
	require.NoError(t, err)
	exe := filepath.Join(dir, "attacker")
	require.NoError(t, os.WriteFile(exe, b, 0o755))
	p, err := json.Marshal(plan)
	require.NoError(t, err)
	cmd := exec.Command("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", exe, "-test.run=^$")
	cmd.Env = []string{envAttack + "=" + string(p)}
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "attacker: %s", stderr.String())
	var out map[string]attackResult
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &out), "attacker output: %s", stdout.String())
	for name, r := range out {
		t.Logf("attack as nobody: %-20s → %d %q %s", name, r.Status, strings.TrimSpace(r.Body), r.Err)
	}
	return out
}

// TestOtherUserCannotCommandTheSession runs a session (its ZooKeeper digest given
// with -D) with the seed's job, and tries, as the user nobody, every attack of
// issue 13 that needs no file of the session: read the leader session ID,
// cancel tasks and send a checkpoint to a TaskManager with it, register a fake
// TaskManager with a real container ID, submit, cancel and fall back over REST,
// submit cross-origin, read the secret and the AM's environment. Each is
// refused; the job runs on, its output exact; and no process of the session has
// the digest or the secret on its command line.
func TestOtherUserCannotCommandTheSession(t *testing.T) {
	digest := "amk:" + hex.EncodeToString([]byte(t.Name()))[:24]
	password := strings.TrimPrefix(digest, "amk:")
	c, id, client, jobs, st := jobSessionWith(t, 1, func(c *cli) {
		c.ha = append(c.ha, "-D", conf.ZKDigest.Key()+"="+digest)
	}, fastCounting)
	jobID := jobs[0]
	appDir := appDirFor(c, id)
	require.Eventually(t, func() bool { return len(committed(t, st, "counts")) >= 2 }, 60*time.Second, 20*time.Millisecond)

	// What the session's own user sees, with the secret from the session directory.
	secretFile := supervisor.SecretPath(appDir)
	fi, err := os.Lstat(secretFile)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode(), "the secret file is private")
	secret, err := sessionctl.SessionSecret(appDir)
	require.NoError(t, err)
	rest := leaderOf(client)
	require.NotEmpty(t, rest)
	var o jobmanager.Overview
	require.NoError(t, getOverview(appDir, rest, &o))
	require.NotEmpty(t, o.LeaderSession, "the leader session is served with the secret")
	var tms struct {
		TaskManagers []jobmanager.TaskManagerInfo `json:"taskmanagers"`
	}
	require.NoError(t, getJSON(rest+"/taskmanagers", &tms))
	require.Len(t, tms.TaskManagers, 1)
	tm0 := tms.TaskManagers[0]
	status, err := client.Status(context.Background())
	require.NoError(t, err)
	require.Len(t, status.Containers, 1)
	require.Equal(t, status.Containers[0].ID, tm0.ContainerID)

	sub, err := sessionctl.NewSubmission([]byte(strings.ReplaceAll(fastCounting, "counts", "evil")), "evil.yaml")
	require.NoError(t, err)
	rpc := followLeader(t, c.ha, recovery.ResourceManager)
	require.Eventually(t, func() bool { return rpc().Known() }, 30*time.Second, 20*time.Millisecond)
	require.NotEqual(t, rest, rpc().Address, "the registry is the RPC endpoint, not REST")
	got := attackAsNobody(t, attackPlan{AM: rest, RPC: rpc().Address, TM: tm0.Address, LeaderSession: o.LeaderSession, ContainerID: tm0.ContainerID,
		JobID: jobID, Submission: sub, SecretFile: secretFile, AMPID: status.AMPID})

	require.Equal(t, "65534", got["uid"].Body, "the attacks ran as nobody")
	require.Equal(t, http.StatusOK, got["overview"].Status, "reads stay open")
	require.NotContains(t, got["overview"].Body, o.LeaderSession, "but the fencing token is not in them")
	require.NotContains(t, got["overview"].Body, "leaderSession")
	for _, name := range []string{"tm status", "tm cancel", "tm checkpoint", "tm complete", "register", "heartbeat", "submit", "cancel", "fallback", "forged secret submit"} {
		require.Equal(t, http.StatusUnauthorized, got[name].Status, name)
		require.Contains(t, []string{"Unauthorized\n", `{"errors":["Unauthorized"]}` + "\n"}, got[name].Body,
			"%s: no detail (a TaskManager's plain text, the AM's Flink-shaped error)", name)
	}
	require.Equal(t, http.StatusForbidden, got["cross-origin submit"].Status)
	require.Contains(t, got["secret file"].Err, "permission denied")
	require.Contains(t, got["am environment"].Err, "permission denied")

	// The session's own user is not refused a cross-origin call either: a
	// browser page of another origin carries no secret, but the check does not
	// depend on that.
	err = sessionctl.Command(secret, nil, 10*time.Second).Do(context.Background(), httpjson.Request{Method: http.MethodPost, URL: rest + "/jobs",
		Header: http.Header{"Origin": {"http://evil.example"}}, Body: sub, Status: http.StatusAccepted}, nil)
	require.Equal(t, http.StatusForbidden, httpjson.StatusCode(err), "cross-origin, even with the secret")

	// The job ran on through it all: the same TaskManager, registered at its
	// own address; no job but the real one; checkpoints go on; the output is
	// exact; no checkpoint MaxInt64 anywhere.
	n := len(committed(t, st, "counts"))
	require.Eventually(t, func() bool { return len(committed(t, st, "counts")) >= n+3 }, 60*time.Second, 20*time.Millisecond,
		"the job runs on after the attacks")
	requireExactCounts(t, committed(t, st, "counts"), n+3)
	require.NoError(t, getJSON(rest+"/taskmanagers", &tms))
	require.Equal(t, []string{tm0.ContainerID + " " + tm0.Address}, []string{tms.TaskManagers[0].ContainerID + " " + tms.TaskManagers[0].Address})
	var list struct {
		Jobs []jobmanager.JobStatus `json:"jobs"`
	}
	require.NoError(t, getJSON(rest+"/jobs", &list))
	require.Len(t, list.Jobs, 1)
	require.Equal(t, jobID, list.Jobs[0].JobID)
	require.Equal(t, jobmanager.JobRunning, list.Jobs[0].State)
	require.Empty(t, committed(t, st, "evil"), "nobody's job never ran")
	require.NotContains(t, stateCheckpoints(t, st, jobID), fmt.Sprintf("chk-%d", int64(math.MaxInt64)))
	after, err := client.Status(context.Background())
	require.NoError(t, err)
	require.Equal(t, status.Attempt, after.Attempt, "no failover happened")
	require.Equal(t, status.Containers, after.Containers, "nor a TaskManager replaced")

	// Secrets are never on a command line: not the digest, not the application
	// secret. They reach the AM and the TaskManager through the environment,
	// which only the session's user can read; the AM has the digest.
	raw, err := os.ReadFile(secretFile)
	require.NoError(t, err)
	hexSecret := strings.TrimSpace(string(raw))
	pids := append([]int{status.SupervisorPID}, sessionPIDs(status)...)
	for _, pid := range pids {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		require.NoError(t, err)
		require.NotContains(t, string(cmdline), password, "pid %d: %q", pid, cmdline)
		require.NotContains(t, string(cmdline), hexSecret, "pid %d", pid)
	}
	for _, pid := range sessionPIDs(status) {
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		require.NoError(t, err)
		require.Contains(t, string(env), "\x00"+appsecret.EnvFile+"="+secretFile+"\x00", "pid %d", pid)
		require.NotContains(t, string(env), hexSecret, "the secret itself travels by file, pid %d", pid)
	}
	var cfg []jobmanager.ConfigEntry
	require.NoError(t, getJSON(rest+"/jobmanager/config", &cfg))
	require.Contains(t, cfg, jobmanager.ConfigEntry{Key: conf.ZKDigest.Key(), Value: "******", Origin: "-D"}, "the AM has the digest, and does not show it")
}
