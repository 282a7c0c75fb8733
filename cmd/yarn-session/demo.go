package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/sessionctl"
	"github.com/amkeeper/amkeeper/internal/zkserver"
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
		// Each kill-am ends an attempt seconds after it started, which the
		// crash-loop backoff would take for a crash loop and delay the next
		// attempt by a second or more: the demo shows how fast a failover is.
		"amkeeper.attempts.backoff.initial=0",
	}
	if mode == "zookeeper" {
		st.say("Starting a throwaway ZooKeeper on a free loopback port (yarn-session zookeeper start)…")
		zs, err := zkserver.StartThrowaway(ctx, dir, zerolog.Nop())
		if err != nil {
			return cli.Exit(fmt.Sprintf("demo: %v", err), exitFailure)
		}
		defer func() {
			_ = zs.Stop()
			st.say("ZooKeeper stopped.")
		}()
		connect := zs.ConnectString()
		st.say("ZooKeeper serves on %s.", connect)
		props = append(props, "high-availability.type=zookeeper",
			"high-availability.zookeeper.quorum="+connect,
			"high-availability.zookeeper.client.session-timeout=2 s")
	} else {
		props = append(props, "high-availability.type=NONE")
		st.say("Embedded high availability (--ha none): no ZooKeeper, leadership is a file lock.")
	}

	// Start the session the way a user would: yarn-session -n 2 -d -D …
	exe, err := os.Executable()
	if err != nil {
		return cli.Exit(fmt.Sprintf("demo: %v", err), exitFailure)
	}
	args := append([]string{"-n", "2"}, sessionctl.DynamicArgs(props)...)
	session, err := sessionctl.StartDetached(ctx, exe, home, args...)
	if err != nil {
		return cli.Exit(fmt.Sprintf("demo: %v", err), exitFailure)
	}
	defer func() {
		session.Stop()
		st.say("Session stopped; no process of it is left.")
	}()
	client := session.Client
	st.say("Session %s started: a supervisor, an AM and 2 TaskManager containers (yarn-session -n 2 -d).", session.AppID)

	leader, err := sessionctl.WaitLeader(ctx, client, "")
	if err != nil {
		return cli.Exit(fmt.Sprintf("demo: %v", err), exitFailure)
	}
	// The leader asks for its containers once it leads: wait for both.
	status, err := sessionctl.Poll(ctx, 60*time.Second, func() (supervisor.Status, bool) {
		s, err := client.Status(ctx)
		return s, err == nil && len(s.Containers) == 2
	}, "the session does not run its 2 TaskManager containers")
	if err != nil {
		return cli.Exit(fmt.Sprintf("demo: %v", err), exitFailure)
	}
	tmPIDs := sessionctl.ContainerPIDs(status)
	st.say("Attempt %d leads (AM pid %d); %s; TaskManager pids %v.", status.Attempt, status.AMPID, runningBudget(status).Text, tmPIDs)

	sub, err := sessionctl.NewSubmission([]byte(fmt.Sprintf(demoSpec, (rate*100).String(), rate.String())), "demo.yaml")
	if err != nil {
		return cli.Exit(fmt.Sprintf("demo: %v", err), exitFailure)
	}
	secret, err := session.Secret()
	if err != nil {
		return cli.Exit(fmt.Sprintf("demo: %v", err), exitFailure)
	}
	if err := sessionctl.Submit(ctx, secret, nil, leader, sub); err != nil {
		return cli.Exit(fmt.Sprintf("demo: submit: %v", err), exitFailure)
	}
	st.say("Submitted the seed's job %s: sequence (one per %s) → countWindowAll(100).sum → exactly-once file sink, checkpoint every %s.",
		sub.JobID, rate, rate*100)

	var seen int64 // the latest checkpoint seen: each wait is for checkpoints after it
	for kill := 1; kill <= c.Int(flagKills); kill++ {
		info, err := demoWaitCheckpoints(ctx, leader, sub.JobID, seen+2)
		if err != nil {
			return cli.Exit(fmt.Sprintf("demo: %v", err), exitFailure)
		}
		pid, err := client.KillAM(ctx)
		if err != nil {
			return cli.Exit(fmt.Sprintf("demo: kill-am: %v", err), exitFailure)
		}
		killed := time.Now()
		seen = info.LatestID()
		st.say("SIGKILL the AM (pid %d) after checkpoint %d.", pid, seen)
		if leader, err = sessionctl.WaitLeader(ctx, client, leader); err != nil {
			return cli.Exit(fmt.Sprintf("demo: %v", err), exitFailure)
		}
		// A checkpoint newer than the last one seen: the new leader's (the old
		// one is dead), so the job runs under it.
		info, err = demoWaitCheckpoints(ctx, leader, sub.JobID, seen+1)
		if err != nil {
			return cli.Exit(fmt.Sprintf("demo: %v", err), exitFailure)
		}
		status, _ = client.Status(ctx)
		took := "took the job over"
		if info.Takeover != nil {
			took = "the job was " + takeoverText(*info.Takeover)
		}
		st.say("Attempt %d leads after %.1fs; %s; %s; TaskManager pids %v (%s).",
			status.Attempt, time.Since(killed).Seconds(), took, runningBudget(status).Text,
			sessionctl.ContainerPIDs(status), sameOrNot(tmPIDs, sessionctl.ContainerPIDs(status)))
		seen = info.LatestID()
	}
	if _, err := demoWaitCheckpoints(ctx, leader, sub.JobID, seen+3); err != nil {
		return cli.Exit(fmt.Sprintf("demo: %v", err), exitFailure)
	}

	store, err := hdfsstore.Open(ctx, storage)
	if err != nil {
		return cli.Exit(fmt.Sprintf("demo: %v", err), exitFailure)
	}
	defer store.Close()
	got, err := job.ReadCommittedJob(ctx, store, job.OutputDir(taskmanager.OutputRoot, "counts"), job.JobID(sub.JobID))
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

func sameOrNot(a, b []int) string {
	if fmt.Sprint(a) == fmt.Sprint(b) {
		return "unchanged: the containers outlived the AM"
	}
	return "changed"
}

// demoWaitCheckpoints waits until the leader runs the job and its latest
// completed checkpoint is at least id.
func demoWaitCheckpoints(ctx context.Context, leader, jobID string, id int64) (jobmanager.CheckpointInfo, error) {
	var info jobmanager.CheckpointInfo
	_, err := sessionctl.Poll(ctx, 120*time.Second, func() (struct{}, bool) {
		var i jobmanager.CheckpointInfo
		if sessionctl.GetJSON(ctx, &http.Client{Timeout: time.Second}, leader+"/jobs/"+jobID+"/checkpoints", &i) != nil {
			return struct{}{}, false
		}
		info = i
		return struct{}{}, (i.Deployed || i.Adopted) && i.LatestID() >= id
	}, "the job does not checkpoint")
	return info, err
}
