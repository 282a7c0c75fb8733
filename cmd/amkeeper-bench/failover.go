package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/internal/sessionctl"
	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/taskmanager/tmapi"
)

const (
	flagMode  = "mode"
	flagGrace = "grace"
)

func failoverCommand() *cli.Command {
	return &cli.Command{
		Name:  "failover",
		Usage: "SIGKILL the AM N times in a session of its own and time every failover phase",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: flagKills, Value: 20, Usage: "AM kills"},
			&cli.IntFlag{Name: flagJobs, Value: 1, Usage: "jobs running in the session"},
			&cli.IntFlag{Name: flagTMs, Value: 2, Usage: "TaskManagers"},
			&cli.StringFlag{Name: flagMode, Value: "restart", Usage: "restart (the supervisor starts the next attempt) or standby (two AMs from a masters file; no process start)"},
			&cli.StringFlag{Name: flagGrace, Usage: "amkeeper.taskmanager.leaderless-grace for the session (default: the key's default, heartbeat.timeout); 0 measures the old path: tasks canceled when the AM dies, every job restored"},
		},
		Action: runFailover,
	}
}

// benchJob is a small job whose checkpoints show it processing: every record
// reaches the sink (no window), so the gap between two of them is the stall.
const benchJob = `name: bench-%d
parallelism: 1
checkpointInterval: 200ms
pipeline:
  - sequence: {rate: 1ms}
  - file: {path: bench-%d}
`

func runFailover(c *cli.Context) error {
	ctx := c.Context
	w := c.App.Writer
	kills, mode := c.Int(flagKills), c.String(flagMode)
	if kills < 1 || c.Int(flagJobs) < 0 || c.Int(flagTMs) < 1 || (mode != "restart" && mode != "standby") {
		return cli.Exit("failover: want --kills ≥ 1, --jobs ≥ 0, --tms ≥ 1, --mode restart|standby", exitUsage)
	}
	b, err := startBench(c, "failover")
	if err != nil {
		return err
	}
	defer b.close()
	yarnSession, err := b.yarnSession(ctx, c.String(flagYarnSession))
	if err != nil {
		return cli.Exit(fmt.Sprintf("failover: %v", err), exitFailure)
	}

	if mode == "standby" {
		_ = os.MkdirAll(filepath.Join(b.dir, "conf"), 0o700)
		_ = os.WriteFile(filepath.Join(b.dir, "conf", "masters"), []byte("localhost\nlocalhost\n"), 0o600)
	}
	extra := []string{"-n", strconv.Itoa(c.Int(flagTMs))}
	if g := c.String(flagGrace); g != "" {
		extra = append(extra, sessionctl.DynamicArgs([]string{"amkeeper.taskmanager.leaderless-grace=" + g})...)
	}
	session, err := b.startSession(ctx, yarnSession, b.dir, kills, "100 ms", extra...)
	if err != nil {
		return cli.Exit(fmt.Sprintf("failover: %v", err), exitFailure)
	}
	defer session.Stop()
	client := session.Client

	leader, err := sessionctl.WaitLeader(ctx, client, "")
	if err != nil {
		return cli.Exit(fmt.Sprintf("failover: %v", err), exitFailure)
	}
	secret, err := session.Secret()
	if err != nil {
		return cli.Exit(fmt.Sprintf("failover: %v", err), exitFailure)
	}
	var jobs []string
	for i := 0; i < c.Int(flagJobs); i++ {
		sub, err := sessionctl.NewSubmission(fmt.Appendf(nil, benchJob, i, i), "bench.yaml")
		if err != nil {
			return cli.Exit(err.Error(), exitFailure)
		}
		if err := sessionctl.Submit(ctx, secret, nil, leader, sub); err != nil {
			return cli.Exit(fmt.Sprintf("failover: submit: %v", err), exitFailure)
		}
		jobs = append(jobs, sub.JobID)
	}
	hc := &http.Client{Timeout: time.Second}
	// seen is, per job, the newest checkpoint completed when the last failover
	// was measured. running: every job has completed a newer one since, so the
	// window before the next kill holds a checkpoint (snapshots included) and
	// compares with the failover fairly.
	seen := map[string]int64{}
	running := func(rest string) bool {
		for _, j := range jobs {
			var info jobmanager.CheckpointInfo
			if sessionctl.GetJSON(ctx, hc, rest+"/jobs/"+j+"/checkpoints", &info) != nil || info.LatestID() <= max(info.RestoredFrom, seen[j]) {
				return false
			}
		}
		return true
	}

	phases := map[string][]float64{}
	var totals, stalls, steady, replays, firsts, triggers, durations []float64
	since := time.Now() // the steady-state window before each kill starts here
	adopted := 0
	for k := 0; k < kills; k++ {
		if _, err := sessionctl.Poll(ctx, 60*time.Second, func() (struct{}, bool) { return struct{}{}, running(leader) }, "jobs do not checkpoint"); err != nil {
			return cli.Exit(fmt.Sprintf("failover: %v", err), exitFailure)
		}
		before, err := sessionctl.TaskManagerStatuses(ctx, secret, leader)
		if err != nil {
			return cli.Exit(fmt.Sprintf("failover: %v", err), exitFailure)
		}
		if _, err := client.KillAM(ctx); err != nil {
			return cli.Exit(fmt.Sprintf("failover: kill-am: %v", err), exitFailure)
		}
		killed := time.Now()
		// Every 2 ms: this poll is the observed total.
		next, err := sessionctl.PollEvery(ctx, 2*time.Millisecond, 60*time.Second, func() (string, bool) {
			l, err := sessionctl.FindLeader(ctx, client, leader)
			if err != nil {
				return "", false
			}
			var report jobmanager.FailoverReport
			ok := sessionctl.GetJSON(ctx, hc, l+"/failover", &report) == nil && report.Phases[jobmanager.PhaseTasksDeployed] > 0
			tl := report.Phases
			if ok && mode == "restart" {
				for p, v := range tl {
					phases[p] = append(phases[p], v)
				}
			}
			return l, ok
		}, "no failover")
		if err != nil {
			return cli.Exit(fmt.Sprintf("failover %d: %v", k+1, err), exitFailure)
		}
		totals = append(totals, float64(time.Since(killed).Microseconds())/1000)
		leader = next
		// The first checkpoint every job completes under the new leader, and
		// whether the leader adopted each job's running tasks.
		// The last job's is the one timed: its trigger and how long it took.
		var first, trigger time.Time
		var adoptedAll bool
		if _, err := sessionctl.PollEvery(ctx, 2*time.Millisecond, 60*time.Second, func() (struct{}, bool) {
			first, trigger, adoptedAll = time.Time{}, time.Time{}, true
			for _, j := range jobs {
				var info jobmanager.CheckpointInfo
				if sessionctl.GetJSON(ctx, hc, leader+"/jobs/"+j+"/checkpoints", &info) != nil || info.Latest.Completed == nil {
					return struct{}{}, false
				}
				adoptedAll = adoptedAll && info.Adopted
				if at := time.UnixMilli(info.Latest.Completed.LatestAckTimestamp); at.After(first) {
					first, trigger = at, time.UnixMilli(info.Latest.Completed.TriggerTimestamp)
				}
				seen[j] = info.Latest.Completed.ID
			}
			return struct{}{}, true
		}, "no checkpoint under the new leader"); err != nil {
			return cli.Exit(fmt.Sprintf("failover %d: %v", k+1, err), exitFailure)
		}
		if adoptedAll && len(jobs) > 0 {
			adopted++
		}
		if len(jobs) > 0 {
			firsts = append(firsts, float64(first.Sub(killed).Microseconds())/1000)
			triggers = append(triggers, float64(trigger.Sub(killed).Microseconds())/1000)
			durations = append(durations, float64(first.Sub(trigger).Microseconds())/1000)
		}
		after, err := sessionctl.TaskManagerStatuses(ctx, secret, leader)
		if err != nil {
			return cli.Exit(fmt.Sprintf("failover %d: %v", k+1, err), exitFailure)
		}
		stall, replayed := taskEffects(before, after, killed)
		stalls = append(stalls, stall)
		replays = append(replays, float64(replayed))
		steady = append(steady, longestGap(before, since, killed))
		since = time.Now()
	}
	st, _ := client.Status(ctx)

	fmt.Fprintf(w, "Failover: %d AM kills, %d job(s), %d TaskManager(s), mode %s, ZooKeeper session timeout 10 s\n\n", kills, len(jobs), c.Int(flagTMs), mode)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase (ms since the dead AM was reaped)\tp50\tp99\t")
	for _, p := range []string{jobmanager.PhaseProcessStart, jobmanager.PhaseZKConnected, jobmanager.PhaseGranted, jobmanager.PhasePublished,
		jobmanager.PhaseJobsRecovered, jobmanager.PhaseTMsRegistered, jobmanager.PhaseTasksDeployed} {
		if len(phases[p]) > 0 {
			fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t\n", p, pct(phases[p], 50), pct(phases[p], 99))
		}
	}
	fmt.Fprintf(tw, "total: kill → tasks deployed (observed)\t%.1f\t%.1f\t\n", pct(totals, 50), pct(totals, 99))
	tw.Flush()
	if len(jobs) > 0 {
		fmt.Fprintf(w, "\nPer kill, across the failover (%d of %d kills: every job adopted, no restore):\n", adopted, kills)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "\tp50\tp99\tmax\t")
		fmt.Fprintf(tw, "processing stall: longest gap between records at a sink, ms (0: none ≥ %v)\t%.1f\t%.1f\t%.1f\t\n",
			job.GapThreshold, pct(stalls, 50), pct(stalls, 99), pct(stalls, 100))
		fmt.Fprintf(tw, "for comparison, before the kill (at least one checkpoint, no failover), ms\t%.1f\t%.1f\t%.1f\t\n",
			pct(steady, 50), pct(steady, 99), pct(steady, 100))
		fmt.Fprintf(tw, "records replayed (all jobs)\t%.0f\t%.0f\t%.0f\t\n", pct(replays, 50), pct(replays, 99), pct(replays, 100))
		fmt.Fprintf(tw, "kill → first checkpoint completed under the new leader, ms\t%.1f\t%.1f\t%.1f\t\n", pct(firsts, 50), pct(firsts, 99), pct(firsts, 100))
		fmt.Fprintf(tw, "  of which kill → its trigger (failover, adoption or restore), ms\t%.0f\t%.0f\t%.0f\t\n", pct(triggers, 50), pct(triggers, 99), pct(triggers, 100))
		fmt.Fprintf(tw, "  of which trigger → completed (the checkpoint itself), ms\t%.0f\t%.0f\t%.0f\t\n", pct(durations, 50), pct(durations, 99), pct(durations, 100))
		tw.Flush()
	}
	fmt.Fprintf(w, "\nRSS: %s\n", sessionRSS(st))
	fmt.Fprintf(w, "failover p50=%.0fms p99=%.0fms\n", pct(totals, 50), pct(totals, 99))
	return nil
}

// taskEffects compares TaskManager statuses from before a kill with those after
// it: the longest gap between records at any sink that ended after the kill (0:
// none of at least job.GapThreshold), and the records processed again since.
func taskEffects(before, after []tmapi.Status, killed time.Time) (stallMs float64, replayed int64) {
	for _, st := range before {
		for _, t := range st.Tasks {
			replayed -= t.Replayed
		}
	}
	for _, st := range after {
		for _, t := range st.Tasks {
			replayed += t.Replayed
		}
	}
	return longestGap(after, killed, time.Now()), max(replayed, 0)
}

// longestGap is the longest gap between records at any sink in sts that ended
// within (from, to], in ms (0: none of at least job.GapThreshold).
func longestGap(sts []tmapi.Status, from, to time.Time) float64 {
	var ms float64
	for _, st := range sts {
		for _, t := range st.Tasks {
			for _, g := range t.Gaps {
				if g.End.After(from) && !g.End.After(to) {
					ms = max(ms, float64(g.Length.Microseconds())/1000)
				}
			}
		}
	}
	return ms
}

// pct is the p-th percentile of v.
func pct(v []float64, p float64) float64 { return sessionctl.Percentile(v, p) }
