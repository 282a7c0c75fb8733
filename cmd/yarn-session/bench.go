package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/supervisor"
)

const (
	flagJobs = "jobs"
	flagTMs  = "tms"
	flagMode = "mode"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "benchmarks on this machine",
		Subcommands: []*cli.Command{{
			Name:  "failover",
			Usage: "SIGKILL the AM N times in a session of its own and time every failover phase",
			Flags: []cli.Flag{
				&cli.IntFlag{Name: flagKills, Value: 20, Usage: "AM kills"},
				&cli.IntFlag{Name: flagJobs, Value: 1, Usage: "jobs running in the session"},
				&cli.IntFlag{Name: flagTMs, Value: 2, Usage: "TaskManagers"},
				&cli.StringFlag{Name: flagMode, Value: "restart", Usage: "restart (the supervisor starts the next attempt) or standby (two AMs from a masters file; no process start)"},
			},
			Action: runBenchFailover,
		}, benchRecoveryCommand(), benchElectionCommand(), benchElectionContenderCommand()},
	}
}

// benchJob is a small job whose checkpoints show it processing.
const benchJob = `name: bench-%d
parallelism: 1
checkpointInterval: 200ms
pipeline:
  - sequence: {rate: 1ms}
  - countWindowAll: {size: 100, aggregate: sum}
  - file: {path: bench-%d}
`

func runBenchFailover(c *cli.Context) error {
	ctx := c.Context
	w := c.App.Writer
	kills, mode := c.Int(flagKills), c.String(flagMode)
	if kills < 1 || c.Int(flagJobs) < 0 || c.Int(flagTMs) < 1 || (mode != "restart" && mode != "standby") {
		return cli.Exit("bench failover: want --kills ≥ 1, --jobs ≥ 0, --tms ≥ 1, --mode restart|standby", exitUsage)
	}
	dir, connect, cleanup, err := benchZooKeeper(ctx, "failover")
	if err != nil {
		return cli.Exit(err.Error(), exitFailure)
	}
	defer cleanup()

	if mode == "standby" {
		_ = os.MkdirAll(filepath.Join(dir, "conf"), 0o700)
		_ = os.WriteFile(filepath.Join(dir, "conf", "masters"), []byte("localhost\nlocalhost\n"), 0o600)
	}
	client, stopSession, err := startBenchSession(ctx, dir, connect, kills, "100 ms", "-n", strconv.Itoa(c.Int(flagTMs)))
	if err != nil {
		return cli.Exit(fmt.Sprintf("bench: %v", err), exitFailure)
	}
	defer stopSession()

	leader, err := demoWaitLeader(ctx, client, "")
	if err != nil {
		return cli.Exit(fmt.Sprintf("bench: %v", err), exitFailure)
	}
	var jobs []string
	for i := 0; i < c.Int(flagJobs); i++ {
		sub, err := newSubmission(fmt.Appendf(nil, benchJob, i, i), "bench.yaml")
		if err != nil {
			return cli.Exit(err.Error(), exitFailure)
		}
		if err := demoSubmit(ctx, leader, sub); err != nil {
			return cli.Exit(fmt.Sprintf("bench: submit: %v", err), exitFailure)
		}
		jobs = append(jobs, sub.JobID)
	}
	running := func(rest string) bool {
		for _, j := range jobs {
			var info jobmanager.CheckpointInfo
			if getJSON(ctx, &http.Client{Timeout: time.Second}, rest+"/jobs/"+j+"/checkpoints", &info) != nil || info.Latest <= info.RestoredFrom {
				return false
			}
		}
		return true
	}

	phases := map[string][]float64{}
	var totals []float64
	for k := 0; k < kills; k++ {
		if _, err := poll(ctx, 60*time.Second, func() (string, bool) { return "", running(leader) }, "jobs do not checkpoint"); err != nil {
			return cli.Exit(fmt.Sprintf("bench: %v", err), exitFailure)
		}
		if _, err := client.KillAM(ctx); err != nil {
			return cli.Exit(fmt.Sprintf("bench: kill-am: %v", err), exitFailure)
		}
		killed := time.Now()
		next, err := pollFast(ctx, 60*time.Second, func() (string, bool) {
			l, err := findLeader(ctx, client, leader)
			if err != nil {
				return "", false
			}
			var tl map[string]float64
			ok := getJSON(ctx, &http.Client{Timeout: time.Second}, l+"/failover", &tl) == nil && tl[jobmanager.PhaseTasksDeployed] > 0
			if ok && mode == "restart" {
				for p, v := range tl {
					phases[p] = append(phases[p], v)
				}
			}
			return l, ok
		})
		if err != nil {
			return cli.Exit(fmt.Sprintf("bench: failover %d: %v", k+1, err), exitFailure)
		}
		totals = append(totals, float64(time.Since(killed).Microseconds())/1000)
		leader = next
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
	fmt.Fprintf(w, "\nRSS: supervisor %s, AM %s, TaskManagers %s\n", rss(st.SupervisorPID), rss(st.AMPID), rssAll(containerPIDs(st)))
	fmt.Fprintf(w, "failover p50=%.0fms p99=%.0fms\n", pct(totals, 50), pct(totals, 99))
	return nil
}

// startBenchSession starts a bench's detached session under dir (its conf
// directory dir/conf, storage dir/storage), on ZooKeeper connect with a 10 s
// session: a budget of kills+2 attempts and no failure window, so that the bench's
// own kills never end it; extra adds yarn-session flags such as -n.
func startBenchSession(ctx context.Context, dir, connect string, kills int, heartbeat string, extra ...string) (*supervisor.ControlClient, func(), error) {
	confDir := filepath.Join(dir, "conf")
	if err := os.MkdirAll(confDir, 0o700); err != nil {
		return nil, nil, err
	}
	budget := strconv.Itoa(kills + 2)
	args := append([]string{"--conf-dir", confDir}, extra...)
	args = append(args, dynamicArgs([]string{"high-availability.type=zookeeper", "high-availability.zookeeper.quorum=" + connect,
		"high-availability.storageDir=" + hdfsstore.FileURI(filepath.Join(dir, "storage")), "high-availability.zookeeper.client.session-timeout=10 s",
		"yarn.application-attempts=" + budget, "yarn.resourcemanager.am.max-attempts=" + budget,
		"yarn.application-attempt-failures-validity-interval=-1", "heartbeat.interval=" + heartbeat, "rest.port=0"})...)
	_, client, stop, err := startDetachedSession(ctx, filepath.Join(dir, "home"), args...)
	return client, stop, err
}

// dynamicArgs turns key=value properties into -D flags.
func dynamicArgs(props []string) []string {
	args := make([]string, 0, 2*len(props))
	for _, p := range props {
		args = append(args, "-D", p)
	}
	return args
}

// pollFast is poll with a 2 ms period, for timing.
func pollFast(ctx context.Context, within time.Duration, f func() (string, bool)) (string, error) {
	return pollEvery(ctx, 2*time.Millisecond, within, f, "no failover")
}

func pct(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

func rss(pid int) string {
	kib, ok := rssKiB(pid)
	if !ok {
		return "?"
	}
	if anon, ok := procKiB(pid, "RssAnon:"); ok {
		return fmt.Sprintf("%.0f kB (private %.0f kB)", kib, anon)
	}
	return fmt.Sprintf("%.0f kB", kib)
}

// rssKiB is the resident set of pid in KiB, from /proc/<pid>/status.
func rssKiB(pid int) (float64, bool) { return procKiB(pid, "VmRSS:") }

// procKiB reads a "<key> N kB" line of /proc/<pid>/status. RssAnon is the
// process's private memory; the rest of VmRSS is mostly the executable's pages,
// which every process running the same binary shares.
func procKiB(pid int, key string) (float64, bool) {
	var kib float64
	_, err := fmt.Sscanf(procField(fmt.Sprintf("/proc/%d/status", pid), key), "%f kB", &kib)
	return kib, err == nil
}

// procField returns the rest of the line of a /proc file that starts with key,
// trimmed ("" when there is none).
func procField(path, key string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// rssAll lists the resident sets of a few processes, or summarizes many.
func rssAll(pids []int) string {
	if len(pids) > 4 {
		var kib, anon []float64
		for _, p := range pids {
			if v, ok := rssKiB(p); ok {
				kib = append(kib, v)
			}
			if v, ok := procKiB(p, "RssAnon:"); ok {
				anon = append(anon, v)
			}
		}
		if len(kib) == 0 {
			return "?"
		}
		out := fmt.Sprintf("%d processes, p50 %.0f kB, max %.0f kB", len(kib), pct(kib, 50), pct(kib, 100))
		if len(anon) > 0 {
			out += fmt.Sprintf(" (private p50 %.0f kB)", pct(anon, 50))
		}
		return out
	}
	var out []string
	for _, p := range pids {
		out = append(out, rss(p))
	}
	return strings.Join(out, ", ")
}
