package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/supervisor"
	"github.com/amkeeper/amkeeper/taskmanager"
)

const (
	flagHA    = "ha"
	flagKills = "kills"
	flagRate  = "rate"
	flagDir   = "dir"
)

// demoSpec is the first seed's job; the rate is a flag so the demo can run
// faster than one record per 100 ms.
const demoSpec = `name: HA JobManager Demo
parallelism: 1
checkpointInterval: %s
pipeline:
  - sequence: {rate: %s}
  - countWindowAll: {size: 100, aggregate: sum}
  - file: {path: counts}
`

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "run the seed's counting job in an HA session, SIGKILL the AM twice, and check the output is exactly once",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: flagHA, Value: "zookeeper", Usage: "zookeeper (starts a throwaway ZooKeeper) or none (embedded)"},
			&cli.IntFlag{Name: flagKills, Value: 2, Usage: "how many times to SIGKILL the AM"},
			&cli.StringFlag{Name: flagRate, Value: "10ms", Usage: "one record per RATE (the seed uses 100ms; a window every 100 records)"},
			&cli.StringFlag{Name: flagDir, Usage: "working directory (default: a new temporary one, removed afterwards)"},
		},
		Action: func(c *cli.Context) error {
			err := runDemo(c)
			if err != nil && c.Context.Err() != nil {
				return cli.Exit("demo interrupted: the session and ZooKeeper were stopped", 130)
			}
			return err
		},
	}
}

// story prints the demo's narration.
type story struct {
	w     io.Writer
	start time.Time
}

func (s story) say(format string, args ...any) {
	fmt.Fprintf(s.w, "[%5.1fs] %s\n", time.Since(s.start).Seconds(), fmt.Sprintf(format, args...))
}

func runDemo(c *cli.Context) error {
	ctx := c.Context
	st := story{w: c.App.Writer, start: time.Now()}
	mode := strings.ToLower(c.String(flagHA))
	if mode != "zookeeper" && mode != "none" {
		return cli.Exit(fmt.Sprintf("demo: --ha %q: want zookeeper or none", mode), exitUsage)
	}
	rate, err := job.ParseRate(c.String(flagRate))
	if err != nil {
		return cli.Exit(fmt.Sprintf("demo: --rate: %v", err), exitUsage)
	}
	dir := c.String(flagDir)
	if dir == "" {
		if dir, err = os.MkdirTemp("", "amkeeper-demo-"); err != nil {
			return cli.Exit(err.Error(), exitFailure)
		}
		defer os.RemoveAll(dir)
	}
	home := filepath.Join(dir, "home")
	storage := hdfsstore.FileURI(filepath.Join(dir, "storage"))
	props := []string{
		"high-availability.storageDir=" + storage,
		"yarn.application-attempts=" + fmt.Sprint(c.Int(flagKills)+2),
		"yarn.resourcemanager.am.max-attempts=" + fmt.Sprint(c.Int(flagKills)+2),
		"heartbeat.interval=200 ms",
		"rest.port=0",
	}
	if mode == "zookeeper" {
		st.say("Starting a throwaway ZooKeeper on a free loopback port (yarn-session zookeeper start)…")
		connect, stopZK, err := startThrowawayZooKeeper(ctx, dir)
		if err != nil {
			return cli.Exit(fmt.Sprintf("demo: %v", err), exitFailure)
		}
		defer func() {
			stopZK()
			st.say("ZooKeeper stopped.")
		}()
		st.say("ZooKeeper serves on %s.", connect)
		props = append(props, "high-availability.type=zookeeper",
			"high-availability.zookeeper.quorum="+connect,
			"high-availability.zookeeper.client.session-timeout=2 s")
	} else {
		props = append(props, "high-availability.type=NONE")
		st.say("Embedded high availability (--ha none): no ZooKeeper, leadership is a file lock.")
	}

	// Start the session the way a user would: yarn-session -n 2 -d -D …
	args := append([]string{"-n", "2"}, dynamicArgs(props)...)
	appID, client, stopSession, err := startDetachedSession(ctx, home, args...)
	if err != nil {
		return cli.Exit(fmt.Sprintf("demo: %v", err), exitFailure)
	}
	defer func() {
		stopSession()
		st.say("Session stopped; no process of it is left.")
	}()
	st.say("Session %s started: a supervisor, an AM and 2 TaskManager containers (yarn-session -n 2 -d).", appID)

	leader, err := demoWaitLeader(ctx, client, "")
	if err != nil {
		return cli.Exit(fmt.Sprintf("demo: %v", err), exitFailure)
	}
	status, _ := client.Status(ctx)
	tmPIDs := containerPIDs(status)
	st.say("Attempt %d of %d leads (AM pid %d); TaskManager pids %v.", status.Attempt, status.MaxAttempts, status.AMPID, tmPIDs)

	sub, err := newSubmission([]byte(fmt.Sprintf(demoSpec, (rate*100).String(), rate.String())), "demo.yaml")
	if err != nil {
		return cli.Exit(fmt.Sprintf("demo: %v", err), exitFailure)
	}
	if err := demoSubmit(ctx, leader, sub); err != nil {
		return cli.Exit(fmt.Sprintf("demo: submit: %v", err), exitFailure)
	}
	st.say("Submitted the seed's job %s: sequence (one per %s) → countWindowAll(100).sum → exactly-once file sink, checkpoint every %s.",
		sub.JobID, rate, rate*100)

	for kill := 1; kill <= c.Int(flagKills); kill++ {
		info, err := demoWaitCheckpoints(ctx, leader, sub.JobID, 2)
		if err != nil {
			return cli.Exit(fmt.Sprintf("demo: %v", err), exitFailure)
		}
		pid, err := client.KillAM(ctx)
		if err != nil {
			return cli.Exit(fmt.Sprintf("demo: kill-am: %v", err), exitFailure)
		}
		killed := time.Now()
		st.say("SIGKILL the AM (pid %d) after checkpoint %d.", pid, info.Latest)
		if leader, err = demoWaitLeader(ctx, client, leader); err != nil {
			return cli.Exit(fmt.Sprintf("demo: %v", err), exitFailure)
		}
		info, err = demoWaitCheckpoints(ctx, leader, sub.JobID, 0)
		if err != nil {
			return cli.Exit(fmt.Sprintf("demo: %v", err), exitFailure)
		}
		status, _ = client.Status(ctx)
		st.say("Attempt %d of %d leads after %.1fs and restored checkpoint %d; %d attempt(s) left; TaskManager pids %v (%s).",
			status.Attempt, status.MaxAttempts, time.Since(killed).Seconds(), info.RestoredFrom, status.MaxAttempts-status.Attempt,
			containerPIDs(status), sameOrNot(tmPIDs, containerPIDs(status)))
	}
	if _, err := demoWaitCheckpoints(ctx, leader, sub.JobID, 3); err != nil {
		return cli.Exit(fmt.Sprintf("demo: %v", err), exitFailure)
	}

	store, err := hdfsstore.Open(ctx, storage)
	if err != nil {
		return cli.Exit(fmt.Sprintf("demo: %v", err), exitFailure)
	}
	defer store.Close()
	got, err := job.ReadCommitted(ctx, store, job.OutputDir(taskmanager.OutputRoot, "counts"))
	if err != nil {
		return cli.Exit(fmt.Sprintf("demo: read the output: %v", err), exitFailure)
	}
	for k, v := range got {
		if want := int64(10000*k + 4950); v != want {
			return cli.Exit(fmt.Sprintf("demo: committed window %d is %d, want %d: output is NOT exactly once", k, v, want), exitFailure)
		}
	}
	shown := got
	if len(shown) > 4 {
		shown = shown[:4]
	}
	st.say("Committed output: %d windows %v… each window k = 10000k+4950: no gap, no duplicate — the counts continued where they left off.", len(got), shown)
	return nil
}

func containerPIDs(s supervisor.Status) []int {
	var pids []int
	for _, c := range s.Containers {
		pids = append(pids, c.PID)
	}
	return pids
}

func sameOrNot(a, b []int) string {
	if fmt.Sprint(a) == fmt.Sprint(b) {
		return "unchanged: the containers outlived the AM"
	}
	return "changed"
}

func demoWaitLeader(ctx context.Context, client *supervisor.ControlClient, not string) (string, error) {
	return poll(ctx, 60*time.Second, func() (string, bool) {
		l, err := findLeader(ctx, client, not)
		return l, err == nil
	}, "no AM leads")
}

// demoWaitCheckpoints waits until the leader runs the job and has completed n
// checkpoints since it restored it.
func demoWaitCheckpoints(ctx context.Context, leader, jobID string, n int64) (jobmanager.CheckpointInfo, error) {
	var info jobmanager.CheckpointInfo
	_, err := poll(ctx, 120*time.Second, func() (string, bool) {
		var i jobmanager.CheckpointInfo
		if getJSON(ctx, &http.Client{Timeout: time.Second}, leader+"/jobs/"+jobID+"/checkpoints", &i) != nil {
			return "", false
		}
		info = i
		return "", i.Deployed && i.Latest >= i.RestoredFrom+n
	}, "the job does not checkpoint")
	return info, err
}

func demoSubmit(ctx context.Context, leader string, s jobmanager.JobSubmission) error {
	body, err := json.Marshal(s)
	if err != nil {
		return err
	}
	_, err = poll(ctx, 30*time.Second, func() (string, bool) {
		return "", submitJob(ctx, leader, body) == nil
	}, "the leader does not accept the job")
	return err
}

// poll calls f every 50 ms until it reports done, ctx ends or the deadline passes.
func poll(ctx context.Context, within time.Duration, f func() (string, bool), what string) (string, error) {
	return pollEvery(ctx, 50*time.Millisecond, within, f, what)
}

// pollEvery calls f every period until it reports done, ctx ends or the deadline
// passes; the error then says what did not happen within it.
func pollEvery(ctx context.Context, period, within time.Duration, f func() (string, bool), what string) (string, error) {
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		if v, ok := f(); ok {
			return v, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-deadline.C:
			return "", errors.New(what + " within " + within.String())
		case <-tick.C:
		}
	}
}

// waitGone waits until path no longer exists.
func waitGone(ctx context.Context, path string, within time.Duration) error {
	_, err := poll(ctx, within, func() (string, bool) {
		_, err := os.Stat(path)
		return "", errors.Is(err, os.ErrNotExist)
	}, path+" still there")
	return err
}
