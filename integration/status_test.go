package integration_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/supervisor"
)

// Exit codes of yarn-session (cmd/yarn-session, docs/sessions.md).
const (
	usageExit  = 2
	noSuchExit = 4 // status/logs: no such application
	endedExit  = 5 // status: the application has ended
)

// exitOf is the exit code of a c.run error: 0 for none, -1 if it did not exit.
func exitOf(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}

func requireExit(t *testing.T, code int, err error) {
	t.Helper()
	require.Equal(t, code, exitOf(err), "exit code (%v)", err)
}

// report is the part of `status -o json` the tests read (docs/sessions.md).
type report struct {
	ApplicationID string     `json:"applicationId"`
	Name          string     `json:"name"`
	State         string     `json:"state"`
	FinalStatus   string     `json:"finalStatus"`
	Diagnostics   string     `json:"diagnostics"`
	TrackingURL   string     `json:"trackingUrl"`
	StartTime     time.Time  `json:"startTime"`
	FinishTime    *time.Time `json:"finishTime"`
	Budget        struct {
		MaxAttempts     int    `json:"maxAttempts"`
		Used            int    `json:"used"`
		CountedFailures int    `json:"countedFailures"`
		Window          string `json:"window"`
		Remaining       int    `json:"remaining"`
		Text            string `json:"text"`
	} `json:"budget"`
	Attempts []struct {
		Attempt   int    `json:"attempt"`
		AttemptID string `json:"attemptId"`
		State     string `json:"state"`
		Leading   bool   `json:"leading"`
		PID       int    `json:"pid"`
		Exit      string `json:"exit"`
		Signal    string `json:"signal"`
		Counted   bool   `json:"counted"`
		Reason    string `json:"reason"`
		Cause     string `json:"cause"`
		Log       string `json:"log"`
	} `json:"attempts"`
	Containers []supervisor.ContainerState `json:"containers"`
}

func (c *cli) status(t *testing.T, id string, code int) report {
	t.Helper()
	out, err := c.run("", "status", "-id", id, "-o", "json")
	requireExit(t, code, err)
	var r report
	require.NoError(t, json.Unmarshal([]byte(out), &r), "status -o json parses")
	return r
}

// TestStatusAndLogsOfARunningThenEndedApplication: status reports a running
// application as `yarn application -status` does, then — after two kill-am
// spend its budget of 2 — the ended one from its directory (exit 5); `logs -f`
// started during attempt 1 follows attempt 2 once it starts and returns when
// the application ends; an unknown application is exit 4, naming where it was
// looked for.
func TestStatusAndLogsOfARunningThenEndedApplication(t *testing.T) {
	c := newCLI(t)
	out, err := c.run("", append([]string{"-n", "1", "-d", "-nm", "counting", "-D", "yarn.application-attempts=2"}, c.ha...)...)
	require.NoError(t, err)
	id := appIDPattern.FindString(out)
	require.NotEmpty(t, id)
	dir := appDirFor(c, id)
	client := supervisor.NewControlClient(dir)
	leads := func(attempt int) func() bool {
		return func() bool {
			st, err := client.Status(context.Background())
			return err == nil && len(st.AMs) == 1 && st.AMs[0].Attempt == attempt && st.AMs[0].Leading && st.AMs[0].REST != "" && len(st.Containers) == 1
		}
	}
	require.Eventually(t, leads(1), 60*time.Second, 20*time.Millisecond, "attempt 1 leads")
	st, err := client.Status(context.Background())
	require.NoError(t, err)

	r := c.status(t, id, 0)
	require.Equal(t, id, r.ApplicationID)
	require.Equal(t, "counting", r.Name)
	require.Equal(t, "RUNNING", r.State)
	require.Equal(t, "UNDEFINED", r.FinalStatus)
	require.Equal(t, st.AMs[0].REST, r.TrackingURL)
	require.Nil(t, r.FinishTime)
	require.Equal(t, 2, r.Budget.MaxAttempts)
	require.Equal(t, 1, r.Budget.Used)
	require.Equal(t, 1, r.Budget.Remaining)
	require.Equal(t, "1 of 2 attempts used; failures older than 10s are forgotten; survives 1 more failure", r.Budget.Text)
	require.Len(t, r.Attempts, 1)
	require.Equal(t, "RUNNING", r.Attempts[0].State)
	require.True(t, r.Attempts[0].Leading)
	require.Equal(t, st.AMPID, r.Attempts[0].PID)
	require.Equal(t, st.Containers, r.Containers)
	out, err = c.run("", "status", "-id", id)
	require.NoError(t, err)
	require.Contains(t, out, "JobManager Web Interface: "+st.AMs[0].REST+"\n")

	// The other -o json outputs parse, with their documented fields.
	out, err = c.run("", "list", "-id", id, "-o", "json")
	require.NoError(t, err)
	var jobs map[string][]map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &jobs))
	require.Equal(t, map[string][]map[string]any{"jobs": {}}, jobs)
	cmd := exec.Command(bin, append([]string{"ha", "inspect", "-o", "json"}, c.ha...)...)
	cmd.Env = c.env
	stdout, err := cmd.Output() // its log lines go to stderr
	require.NoError(t, err)
	var inspect struct {
		Mode        string `json:"mode"`
		ClusterPath string `json:"clusterPath"`
		Healthy     bool   `json:"healthy"`
		Nodes       []struct {
			Kind string `json:"kind"`
		} `json:"nodes"`
	}
	require.NoError(t, json.Unmarshal(stdout, &inspect), "%s", stdout)
	require.Equal(t, "zookeeper", inspect.Mode)
	require.True(t, inspect.Healthy)
	require.Equal(t, c.haValue("high-availability.cluster-id"), inspect.ClusterPath)
	require.NotEmpty(t, inspect.Nodes, "the leader's latch and connection info")

	// logs -f from attempt 1 on.
	logs := exec.Command(bin, "logs", "-id", id, "-f")
	logs.Env = c.env
	var followed lockedBuffer
	logs.Stdout, logs.Stderr = &followed, &followed
	require.NoError(t, logs.Start())
	done := make(chan error, 1)
	go func() { done <- logs.Wait() }()
	t.Cleanup(func() {
		_ = logs.Process.Kill()
		<-done
	})
	require.Eventually(t, func() bool { return strings.Contains(followed.String(), " am/1 ") }, 30*time.Second, 20*time.Millisecond,
		"logs -f prints attempt 1 as plain lines")

	_, err = c.run("", "kill-am", "-id", id)
	require.NoError(t, err)
	require.Eventually(t, leads(2), 60*time.Second, 20*time.Millisecond, "attempt 2 leads")
	banner := fmt.Sprintf("==> attempt 2 (%s) <==\n", strings.Replace(id, "application_", "appattempt_", 1)+"_000002")
	require.Eventually(t, func() bool {
		s := followed.String()
		i := strings.Index(s, banner)
		return i >= 0 && strings.Contains(s[i:], " am/2 ")
	}, 30*time.Second, 20*time.Millisecond, "logs -f follows attempt 2")

	r = c.status(t, id, 0)
	require.Equal(t, 2, r.Budget.Used)
	require.Equal(t, "2 of 2 attempts used; failures older than 10s are forgotten; the next failure ends it", r.Budget.Text)
	require.Len(t, r.Attempts, 2)
	require.Equal(t, "ENDED", r.Attempts[0].State)
	require.Equal(t, "failed", r.Attempts[0].Exit)
	require.Equal(t, "killed", r.Attempts[0].Signal)
	require.True(t, r.Attempts[0].Counted)
	require.NotEmpty(t, r.Attempts[0].Cause)
	require.Equal(t, "RUNNING", r.Attempts[1].State)
	tracking := r.TrackingURL
	// An error an AM logged before a signal killed it is not why it ended: each
	// attempt's log gets a stale one (attempt 2's while it runs, before the
	// supervisor reads it on the kill).
	for _, a := range r.Attempts {
		appendLine(t, a.Log, `{"level":"error","role":"am","time":"t","message":"stale, logged before the kill"}`)
	}

	_, err = c.run("", "kill-am", "-id", id)
	require.NoError(t, err)
	select {
	case err := <-done:
		require.NoError(t, err, "logs -f ends with the application")
		done <- nil
	case <-time.After(60 * time.Second):
		t.Fatalf("logs -f still running 60s after the budget was spent:\n%s", followed.String())
	}
	_, err = readEndedFile(dir)
	require.NoError(t, err, "logs -f returned once the application recorded its end")
	require.Less(t, strings.Index(followed.String(), " am/1 "), strings.Index(followed.String(), banner))

	// Ended: from the application directory.
	r = c.status(t, id, endedExit)
	require.Equal(t, "FAILED", r.State)
	require.Equal(t, "FAILED", r.FinalStatus)
	require.Equal(t, tracking, r.TrackingURL)
	require.NotNil(t, r.FinishTime)
	require.True(t, r.FinishTime.After(r.StartTime))
	require.Equal(t, "2 of 2 attempts used; failures older than 10s are forgotten", r.Budget.Text)
	require.Len(t, r.Attempts, 2)
	for i, a := range r.Attempts {
		require.Equal(t, i+1, a.Attempt)
		require.Equal(t, "ENDED", a.State)
		require.Equal(t, "killed", a.Signal)
		require.True(t, a.Counted)
		require.Equal(t, "the AM exited without FinishApplicationMaster: signal: killed", a.Cause, "attempt %d", a.Attempt)
	}
	require.Equal(t, "budget-exhausted", r.Attempts[1].Reason)
	require.True(t, strings.HasPrefix(r.Diagnostics, "ended FAILED (budget-exhausted) after 2 attempt(s); attempt 2: "), r.Diagnostics)
	require.Empty(t, r.Containers)
	out, err = c.run("", "status", "-id", id)
	requireExit(t, endedExit, err)
	require.Regexp(t, `(?m)^ State :\s+FAILED$`, out)
	require.NotContains(t, out, "Attempt 3 of 2")

	// logs after the end: the last attempt, plain; -o json the lines as written.
	out, err = c.run("", "logs", "-id", id)
	require.NoError(t, err)
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\S+ (INFO |WARN |ERROR|DEBUG) am(/2)? `, out)
	require.NotContains(t, out, `{"level"`)
	b, err := os.ReadFile(r.Attempts[0].Log)
	require.NoError(t, err)
	cmd = exec.Command(bin, "logs", "-id", id, "--attempt", "1", "-o", "json")
	cmd.Env = c.env
	raw, err := cmd.Output()
	require.NoError(t, err)
	require.Equal(t, string(b), string(raw))

	// Unknown: its own exit code and where it looked.
	out, err = c.run("", "status", "-id", "application_1_0001")
	requireExit(t, noSuchExit, err)
	require.Equal(t, "yarn-session: no such application: application_1_0001 (looked in "+c.home+")\n", out)
	_, err = c.run("", "status", "-id", id, "--bogus")
	requireExit(t, usageExit, err)
}

// readEndedFile reads the application directory's ended.json.
func readEndedFile(dir string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, "ended.json")) }

// TestShellCompletion: the script `completion bash` prints completes commands
// and flags in a real bash, by asking the binary.
func TestShellCompletion(t *testing.T) {
	c := newCLI(t)
	script, err := c.run("", "completion", "bash")
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "yarn-session.bash")
	require.NoError(t, os.WriteFile(file, []byte(script), 0o600))
	complete := func(words ...string) []string {
		sh := fmt.Sprintf(`source %q; COMP_WORDS=(%s); COMP_CWORD=%d; _yarn_session_complete; printf '%%s\n' "${COMPREPLY[@]}"`,
			file, strings.Join(words, " "), len(words)-1)
		cmd := exec.Command("bash", "-c", sh)
		cmd.Env = append(c.env, "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
		out, err := cmd.Output()
		require.NoError(t, err)
		return strings.Fields(string(out))
	}
	require.Equal(t, []string{"zookeeper"}, complete("yarn-session", "zoo"))
	require.Equal(t, []string{"start", "status", "stop"}, slices.Sorted(slices.Values(complete("yarn-session", "zookeeper", "st"))))
	require.Equal(t, []string{"--output"}, complete("yarn-session", "status", "--ou"))
}

// TestStatusBudgetCountsOnlyFailuresInTheWindow: with a validity interval of
// 1 s, a failure is forgotten a second later, so attempt 3 runs with a budget of
// 2 — and status says "1 of 2 attempts used", never "Attempt 3 of 2".
func TestStatusBudgetCountsOnlyFailuresInTheWindow(t *testing.T) {
	c := newCLI(t)
	out, err := c.run("", append([]string{"-n", "1", "-d", "-D", "yarn.application-attempts=2",
		"-D", "yarn.application-attempt-failures-validity-interval=1 s"}, c.ha...)...)
	require.NoError(t, err)
	id := appIDPattern.FindString(out)
	require.NotEmpty(t, id)
	client := supervisor.NewControlClient(appDirFor(c, id))
	for attempt := 1; attempt <= 2; attempt++ {
		require.Eventually(t, func() bool {
			st, err := client.Status(context.Background())
			return err == nil && st.Attempt == attempt && st.AMPID != 0 && st.CountedFailures == 0
		}, 60*time.Second, 20*time.Millisecond, "attempt %d runs and no failure is in the window", attempt)
		_, err = c.run("", "kill-am", "-id", id)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		st, err := client.Status(context.Background())
		return err == nil && st.Attempt == 3 && st.AMPID != 0 && st.CountedFailures == 0
	}, 60*time.Second, 20*time.Millisecond, "attempt 3 runs once the second failure left the window")
	r := c.status(t, id, 0)
	require.Equal(t, "RUNNING", r.State)
	require.Equal(t, "1 of 2 attempts used; failures older than 1s are forgotten; survives 1 more failure", r.Budget.Text)
	require.Len(t, r.Attempts, 3)
	require.Equal(t, "RUNNING", r.Attempts[2].State)
	out, err = c.run("", "status", "-id", id)
	require.NoError(t, err)
	require.Contains(t, out, "1 of 2 attempts used")
	require.NotContains(t, out, "of 2 (")
}

// appendLine appends a line to a file (an am.log the AM opened for appending).
func appendLine(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(line + "\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
}
