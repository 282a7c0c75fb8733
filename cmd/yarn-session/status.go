package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/sessionctl"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/supervisor"
)

// Exit codes of `status` beyond exitFailure and exitUsage (after systemctl
// status): the report was printed, and the code says what it is about.
const (
	exitNoSuchApp = 4 // no application directory for the ID
	exitEnded     = 5 // the application has ended; the report is read from its directory
)

// Application states in a report, after YARN's: RUNNING while a supervisor
// runs it, then FINISHED (final status SUCCEEDED), FAILED, or KILLED (final
// status KILLED, or STOPPED by `stop`, Ctrl-C or SIGTERM).
const (
	stateRunning  = "RUNNING"
	stateFinished = "FINISHED"
	stateFailed   = "FAILED"
	stateKilled   = "KILLED"
)

// appReport is what `status` shows, as `yarn application -status` does; its
// JSON (`status -o json`) field names are stable and documented in
// docs/sessions.md.
type appReport struct {
	ApplicationID string       `json:"applicationId"`
	Name          string       `json:"name"`
	State         string       `json:"state"`
	FinalStatus   string       `json:"finalStatus"` // UNDEFINED while it runs
	Diagnostics   string       `json:"diagnostics"`
	TrackingURL   string       `json:"trackingUrl"`
	StartTime     time.Time    `json:"startTime"`
	FinishTime    *time.Time   `json:"finishTime,omitempty"`
	Budget        budgetReport `json:"budget"`
	// Backoff is set while the supervisor waits out the crash-loop backoff
	// before the next attempt (see docs/restart-budget.md).
	Backoff       *supervisor.Backoff         `json:"backoff,omitempty"`
	Attempts      []attemptReport             `json:"attempts"`
	SupervisorPID int                         `json:"supervisorPid,omitempty"`
	Containers    []supervisor.ContainerState `json:"containers"`
	// HA is what became of the HA data of an ended application.
	HA *haReport `json:"ha,omitempty"`
	// Takeover is how the leading attempt took each job over (GET /failover's
	// jobs), while the application runs and its leader answers.
	Takeover map[string]jobmanager.Takeover `json:"takeover,omitempty"`

	ended *ended // printed after the report
}

// haReport is what became of an ended application's HA data.
type haReport struct {
	ClusterID  string   `json:"clusterId"`
	Path       string   `json:"path"`
	Removed    bool     `json:"removed"`
	Unfinished []string `json:"unfinishedJobs,omitempty"` // suspended jobs a new session on the cluster-id resumes
	Resume     string   `json:"resume,omitempty"`         // how to resume them
	Error      string   `json:"error,omitempty"`          // why it could not be examined (then it was kept)
	StopError  string   `json:"stopError,omitempty"`      // why some processes may still run (then it was kept)
}

// budgetReport is the restart budget: how many attempts of MaxAttempts are
// used, counting the failures inside the validity interval and the running
// attempt.
type budgetReport struct {
	MaxAttempts     int    `json:"maxAttempts"`
	Used            int    `json:"used"`
	CountedFailures int    `json:"countedFailures"`
	Window          string `json:"window"` // "0s": failures are never forgotten
	Remaining       int    `json:"remaining"`
	Text            string `json:"text"`
}

// attemptReport is one AM attempt, running or ended.
type attemptReport struct {
	Attempt   int        `json:"attempt"`
	AttemptID string     `json:"attemptId"`
	State     string     `json:"state"` // RUNNING, or ENDED
	Leading   bool       `json:"leading,omitempty"`
	PID       int        `json:"pid,omitempty"`
	Start     *time.Time `json:"start,omitempty"`
	End       *time.Time `json:"end,omitempty"`
	Exit      string     `json:"exit,omitempty"` // failed, finished, preempted, … (attempts.ExitKind)
	ExitCode  int        `json:"exitCode,omitempty"`
	Signal    string     `json:"signal,omitempty"`
	Counted   bool       `json:"counted"`
	Reason    string     `json:"reason,omitempty"`
	Cause     string     `json:"cause,omitempty"` // the last error line of its am.log
	Log       string     `json:"log"`
}

// runningBudget is the budget of a running application as its supervisor
// reports it: the running attempt is one of the attempts used.
func runningBudget(st supervisor.Status) budgetReport {
	b := budgetReport{MaxAttempts: st.MaxAttempts, CountedFailures: st.CountedFailures, Window: st.Window,
		Remaining: st.Remaining, Used: min(st.CountedFailures+1, st.MaxAttempts)}
	b.Text = budgetPhrase(b, false)
	return b
}

// budgetPhrase says how much of the budget is used, never "attempt 3 of 2":
// attempts that did not count, or left the window, are not in it.
func budgetPhrase(b budgetReport, ended bool) string {
	s := fmt.Sprintf("%d of %d attempts used", b.Used, b.MaxAttempts)
	if d, err := time.ParseDuration(b.Window); err == nil && d > 0 {
		s += fmt.Sprintf("; failures older than %s are forgotten", d)
	} else {
		s += "; failures are never forgotten (no validity interval)"
	}
	switch {
	case ended:
	case b.Remaining == 0:
		s += "; the next failure ends it"
	case b.Remaining == 1:
		s += "; survives 1 more failure"
	default:
		s += fmt.Sprintf("; survives %d more failures", b.Remaining)
	}
	return s
}

// stateOf maps a final status to the report's state.
func stateOf(final string) string {
	switch final {
	case string(attempts.FinalSucceeded):
		return stateFinished
	case string(attempts.FinalFailed):
		return stateFailed
	case "":
		return stateRunning
	}
	return stateKilled
}

func endedAttempts(dir string, h attempts.History) []attemptReport {
	out := []attemptReport{}
	for _, a := range h.Attempts {
		r := attemptReport{Attempt: a.Attempt, AttemptID: a.AttemptID, State: "ENDED", Exit: string(a.Exit),
			ExitCode: a.ExitCode, Signal: a.Signal, Counted: a.Counted, Reason: string(a.Reason),
			Log: supervisor.AMLogPath(dir, a.AttemptID)}
		if !a.Start.IsZero() {
			r.Start = &a.Start
		}
		end := a.End
		r.End = &end
		if a.Signal == "" && a.ExitCode >= 0 { // a killed AM's last error is stale
			r.Cause = logging.LastErrorOf(r.Log)
		}
		if r.Cause == "" {
			r.Cause = a.Diagnostics
		}
		out = append(out, r)
	}
	return out
}

// startTime is when the application was started: its ID's cluster timestamp.
func startTime(id string) time.Time {
	app, err := containers.ParseAppID(id)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(app.ClusterTimestamp)
}

// runningReport builds the report of an application its supervisor runs.
func runningReport(dir string, st supervisor.Status) appReport {
	r := appReport{ApplicationID: st.ApplicationID, State: stateRunning, FinalStatus: "UNDEFINED",
		StartTime: startTime(st.ApplicationID), SupervisorPID: st.SupervisorPID, Containers: append([]supervisor.ContainerState{}, st.Containers...)}
	if st.State != stateRunning { // the policy ended it; the supervisor is stopping
		r.State, r.FinalStatus = stateOf(st.State), st.State
	}
	if sp, err := readSpec(dir); err == nil {
		r.Name = sp.Name
	}
	r.Attempts = endedAttempts(dir, st.History)
	for _, am := range st.AMs {
		a := attemptReport{Attempt: am.Attempt, AttemptID: am.AttemptID, State: stateRunning,
			Leading: am.Leading, PID: am.PID, Log: am.Log}
		if !am.Start.IsZero() {
			a.Start = &am.Start
		}
		r.Attempts = append(r.Attempts, a)
		if am.Leading || (len(st.AMs) == 1 && am.REST != "") {
			r.TrackingURL = am.REST
		}
	}
	if len(st.AMs) == 0 && st.AttemptID != "" && (len(st.History.Attempts) == 0 || st.History.Attempts[len(st.History.Attempts)-1].Attempt < st.Attempt) {
		r.Attempts = append(r.Attempts, attemptReport{Attempt: st.Attempt, AttemptID: st.AttemptID, State: stateRunning, PID: st.AMPID, Log: st.AMLog})
	}
	r.Budget = runningBudget(st)
	r.Backoff = st.Backoff
	if n := len(r.Attempts); n > 0 && r.Attempts[n-1].State != stateRunning && r.Attempts[n-1].Cause != "" {
		r.Diagnostics = fmt.Sprintf("attempt %d ended (%s): %s", r.Attempts[n-1].Attempt, r.Attempts[n-1].Exit, r.Attempts[n-1].Cause)
	}
	return r
}

// endedReport builds the report of an ended application from what its
// supervisor recorded in the application directory.
func endedReport(dir string, e ended) appReport {
	r := appReport{ApplicationID: e.ApplicationID, Name: e.Name, FinalStatus: e.FinalStatus, State: stateOf(e.FinalStatus),
		TrackingURL: e.TrackingURL, StartTime: startTime(e.ApplicationID), Containers: []supervisor.ContainerState{}}
	end := e.End
	r.FinishTime = &end
	if r.Name == "" {
		if sp, err := readSpec(dir); err == nil {
			r.Name = sp.Name
		}
	}
	var h attempts.History // none in a record written before it was kept
	if e.History != nil {
		h = *e.History
	}
	r.Attempts = endedAttempts(dir, h)
	r.Budget = budgetReport{MaxAttempts: e.MaxAttempts, Window: e.Window}
	if n := len(h.Attempts); n > 0 {
		last := h.Attempts[n-1]
		r.Budget.CountedFailures = last.CountedFailures
		r.Budget.Used = last.CountedFailures
		if !last.Counted {
			r.Budget.Used++ // the last attempt ran when the application ended
		}
		r.Budget.Used = min(r.Budget.Used, max(e.MaxAttempts, 1))
	}
	r.Budget.Text = budgetPhrase(r.Budget, true)
	r.Diagnostics = fmt.Sprintf("ended %s (%s) after %d attempt(s)", e.FinalStatus, e.Reason, e.Attempts)
	if n := len(r.Attempts); n > 0 && r.Attempts[n-1].Cause != "" {
		r.Diagnostics += fmt.Sprintf("; attempt %d: %s", r.Attempts[n-1].Attempt, r.Attempts[n-1].Cause)
	}
	r.ended = &e
	r.HA = &haReport{ClusterID: e.ClusterID, Path: e.ClusterPath, Removed: e.HARemoved, Unfinished: e.Unfinished,
		Error: e.HAError, StopError: e.StopError}
	if !e.HARemoved {
		r.HA.Resume = e.resumeCommand()
	}
	return r
}

func (r appReport) print(w io.Writer) {
	fmt.Fprintln(w, "Application Report :")
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "\t%s :\t%s\n", k, v) }
	row("Application-Id", r.ApplicationID)
	row("Application-Name", orDash(r.Name))
	row("State", r.State)
	row("Final-State", r.FinalStatus)
	row("Tracking-URL", orDash(r.TrackingURL))
	row("Start-Time", r.StartTime.Format(time.RFC3339))
	if r.FinishTime != nil {
		row("Finish-Time", r.FinishTime.Format(time.RFC3339))
	} else {
		row("Finish-Time", "-")
	}
	row("Budget", r.Budget.Text)
	if b := r.Backoff; b != nil {
		row("Backoff", fmt.Sprintf("%d attempts in a row crashed: attempt %d starts at %s (waits %s)",
			b.Crashes, b.NextAttempt, b.NextStart.Format(time.RFC3339Nano), time.Duration(b.DelaySeconds*float64(time.Second))))
	}
	row("Diagnostics", orDash(r.Diagnostics))
	tw.Flush()
	if r.TrackingURL != "" && r.State == stateRunning { // as Flink prints it
		fmt.Fprintf(w, "JobManager Web Interface: %s\n", r.TrackingURL)
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ATTEMPT\tID\tSTATE\tPID\tSTART\tEND\tEXIT\tCOUNTED\tCAUSE")
	for _, a := range r.Attempts {
		state := a.State
		if a.Leading {
			state += " (leading)"
		}
		exit := orDash(a.Exit)
		if a.Signal != "" {
			exit += " (" + a.Signal + ")"
		} else if a.ExitCode != 0 {
			exit += fmt.Sprintf(" (code %d)", a.ExitCode)
		}
		pid := "-"
		if a.PID != 0 {
			pid = fmt.Sprint(a.PID)
		}
		counted := "-"
		if a.State != stateRunning {
			counted = fmt.Sprint(a.Counted)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Attempt, a.AttemptID, state, pid,
			clock(a.Start), clock(a.End), exit, counted, orDash(a.Cause))
	}
	tw.Flush()
	if len(r.Containers) > 0 {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CONTAINER\tPID\tSTATE\tATTEMPT")
		for _, c := range r.Containers {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\n", c.ID, c.PID, c.State, c.Attempt)
		}
		tw.Flush()
	}
	if len(r.Takeover) > 0 {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "JOB\tTAKEOVER")
		for _, id := range slices.Sorted(maps.Keys(r.Takeover)) {
			fmt.Fprintf(tw, "%s\t%s\n", id, takeoverText(r.Takeover[id]))
		}
		tw.Flush()
	}
	if r.ended != nil {
		r.ended.print(w)
	}
}

// leaderTakeover asks the leader at rest how it took each job over; nil when
// it does not answer (status reports what the supervisor knows regardless).
func leaderTakeover(ctx context.Context, a application, rest string) map[string]jobmanager.Takeover {
	side, err := sessionTLS(a)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var f jobmanager.FailoverReport
	if sessionctl.REST(side, 2*time.Second).Get(ctx, rest+"/failover", &f) != nil {
		return nil
	}
	return f.Jobs
}

// takeoverText is a job's takeover in words: "adopted (execution …, checkpoint
// 17)", "restored from checkpoint 18: why", "started".
func takeoverText(t jobmanager.Takeover) string {
	switch t.Outcome {
	case jobmanager.TakeoverAdopted:
		return fmt.Sprintf("adopted: its tasks kept running (execution %s, checkpoint %d)", t.Execution, t.Checkpoint)
	case jobmanager.TakeoverRestored:
		from := "no checkpoint"
		if t.Checkpoint > 0 {
			from = fmt.Sprintf("checkpoint %d", t.Checkpoint)
		}
		return fmt.Sprintf("restored from %s: %s", from, orDash(t.Reason))
	}
	return t.Outcome
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func clock(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Format("15:04:05")
}

func runStatus(c *cli.Context) error {
	asJSON, err := outputJSON(c)
	if err != nil {
		return err
	}
	a, err := appFromFlags(c)
	if err != nil {
		return err
	}
	dir := a.dir
	var r appReport
	code := 0
	st, err := a.client().Status(c.Context)
	switch {
	case err == nil:
		r = runningReport(dir, st)
		if st.State != stateRunning {
			// Ended; its supervisor is still stopping: the end record, once
			// written, says how.
			if e, rerr := readEnded(dir); rerr == nil {
				r = endedReport(dir, e)
			}
			code = exitEnded
		}
	default:
		// An ended application has no supervisor to ask: its record says how it ended.
		e, rerr := readEnded(dir)
		if rerr != nil {
			return a.unreachable("status", err)
		}
		r, code = endedReport(dir, e), exitEnded
	}
	if r.State == stateRunning && r.TrackingURL != "" {
		r.Takeover = leaderTakeover(c.Context, a, r.TrackingURL)
	}
	if asJSON {
		if err := writeJSON(c.App.Writer, r); err != nil {
			return err
		}
	} else {
		r.print(c.App.Writer)
	}
	if code != 0 {
		return cli.Exit("", code)
	}
	return nil
}

// readSpec reads the session.json of the application directory dir.
func readSpec(dir string) (spec, error) {
	file := filepath.Join(dir, "session.json")
	var sp spec
	b, err := os.ReadFile(file)
	if err != nil {
		return sp, err
	}
	if err := json.Unmarshal(b, &sp); err != nil {
		return sp, fmt.Errorf("%s: %w", file, err)
	}
	return sp, nil
}
