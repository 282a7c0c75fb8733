package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/sessionctl"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/haservices"
)

func recoveryCommand() *cli.Command {
	return &cli.Command{
		Name:  "recovery",
		Usage: "time a new leader's recovery of many jobs (job graph + latest checkpoint), and many TaskManagers' re-registration",
		Description: "With --jobs N the bench stores N job graphs with one completed checkpoint each through the HA\n" +
			"stores, then times a new leader (a fresh ZooKeeper session, as a new attempt has) recovering all of them\n" +
			"with the AM's own code: its dispatcher recovers the job graphs and, for each job, the coordinator reads\n" +
			"the latest checkpoint as its deploy does (only placing tasks on TaskManagers is left out). With --tms T\n" +
			"it starts a session with T TaskManagers, SIGKILLs the AM and times how long the TaskManagers take to\n" +
			"re-register with the next attempt.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: flagJobs, Value: 10000, Usage: "jobs to recover (0: skip)"},
			&cli.IntFlag{Name: flagTMs, Value: 0, Usage: "TaskManagers that re-register after an AM kill (0: skip)"},
			&cli.IntFlag{Name: flagKills, Value: 3, Usage: "AM kills for the --tms part"},
		},
		Action: runRecovery,
	}
}

func runRecovery(c *cli.Context) error {
	ctx := c.Context
	w := c.App.Writer
	jobs, tms, kills := c.Int(flagJobs), c.Int(flagTMs), c.Int(flagKills)
	if jobs < 0 || tms < 0 || kills < 1 || jobs+tms == 0 {
		return cli.Exit("recovery: want --jobs ≥ 0 and --tms ≥ 0, not both 0, and --kills ≥ 1", exitUsage)
	}
	b, err := startBench(c, "recovery")
	if err != nil {
		return err
	}
	defer b.close()

	if jobs > 0 {
		r, err := recoverJobs(ctx, b.connect, filepath.Join(b.dir, "jobs"), jobs)
		if err != nil {
			return cli.Exit(fmt.Sprintf("recovery: %v", err), exitFailure)
		}
		r.print(w)
	}
	if tms > 0 {
		yarnSession, err := b.yarnSession(ctx, c.String(flagYarnSession))
		if err != nil {
			return cli.Exit(fmt.Sprintf("recovery: %v", err), exitFailure)
		}
		if err := reregister(ctx, w, b, yarnSession, filepath.Join(b.dir, "tms"), tms, kills); err != nil {
			return cli.Exit(fmt.Sprintf("recovery: %v", err), exitFailure)
		}
	}
	return nil
}

// recoveryResult is what recoverJobs measured.
type recoveryResult struct {
	jobs           int
	setup          time.Duration // storing the graphs and checkpoints
	graphs, total  time.Duration // since the grant: job graphs recovered; every latest checkpoint read too
	heapMB, rssKiB float64
}

func (r recoveryResult) print(w io.Writer) {
	fmt.Fprintf(w, "Recovery: %d jobs, each a job graph and one completed checkpoint (stored in %.1f s)\n\n", r.jobs, r.setup.Seconds())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "since the grant\tms\tµs per job\t")
	fmt.Fprintf(tw, "job graphs recovered\t%.1f\t%.1f\t\n", ms(r.graphs), us(r.graphs)/float64(r.jobs))
	fmt.Fprintf(tw, "latest checkpoints read too\t%.1f\t%.1f\t\n", ms(r.total), us(r.total)/float64(r.jobs))
	tw.Flush()
	fmt.Fprintf(w, "\nRSS of the bench process (it stored the jobs too, then recovered them): %.0f MB; Go heap after recovery %.0f MB\n", r.rssKiB/1024, r.heapMB)
	fmt.Fprintf(w, "recovery %.1fus/job\n\n", us(r.total)/float64(r.jobs))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

// recoverJobs stores n jobs with one writer, closes it, and times a second
// process-like instance (its own ZooKeeper session and instance ID) recovering them
// the way an AM does on a grant: the AM's HA stores, its dispatcher recovering the
// job graphs, and for each job the recovery half of the coordinator's deploy
// (jobmanager.Coordinator.Recover: its checkpoint stores and latest checkpoint).
// Only placing the subtasks on TaskManagers is left out.
func recoverJobs(ctx context.Context, connect, dir string, n int) (recoveryResult, error) {
	res := recoveryResult{jobs: n}
	cfg, err := conf.Load(conf.Options{ApplicationID: "application_1_0001", Dynamic: []string{
		"high-availability.type=zookeeper", "high-availability.zookeeper.quorum=" + connect,
		"high-availability.storageDir=" + hdfsstore.FileURI(filepath.Join(dir, "storage")),
		"high-availability.zookeeper.client.session-timeout=10 s",
	}})
	if err != nil {
		return res, err
	}
	start := time.Now()
	if err := storeJobs(ctx, cfg, n); err != nil {
		return res, fmt.Errorf("store %d jobs: %w", n, err)
	}
	res.setup = time.Since(start)

	runtime.GC()
	svc, err := haservices.Open(ctx, cfg, haservices.Options{Logger: zerolog.Nop()})
	if err != nil {
		return res, err
	}
	defer svc.Close()
	graphs, err := svc.JobGraphStore(ctx)
	if err != nil {
		return res, err
	}
	defer graphs.Stop()
	results, err := svc.JobResultStore()
	if err != nil {
		return res, err
	}
	// Recover places nothing: the coordinator needs no TaskManagers, and its
	// checkpoint interval is never used.
	tms := jobmanager.NewTaskManagers(cfg.HeartbeatInterval(), cfg.HeartbeatTimeout(), zerolog.Nop())
	coordinator := jobmanager.NewCoordinator(tms, svc, appsecret.Secret{}, time.Minute, cfg.CheckpointingTimeout(), zerolog.Nop())
	var read atomic.Int64
	var failed atomic.Pointer[error] // the first job that failed
	all := make(chan struct{})
	d := jobmanager.NewDispatcher(graphs, results, func(ctx context.Context, g recovery.Grant, id string, graph []byte) {
		restored, err := coordinator.Recover(ctx, id, graph)
		if err == nil && restored == 0 {
			err = fmt.Errorf("job %s: no latest checkpoint recovered", id)
		}
		if err != nil {
			failed.CompareAndSwap(nil, &err)
		}
		if read.Add(1) == int64(n) {
			close(all)
		}
		<-ctx.Done()
	}, zerolog.Nop())

	var once sync.Once
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	measured := make(chan error, 1)
	go func() {
		_ = svc.Election().Run(runCtx, func(g recovery.Grant) {
			once.Do(func() {
				t0 := time.Now()
				graphsDone := make(chan struct{})
				d.OnRecovered(func() {
					res.graphs = time.Since(t0)
					close(graphsDone)
				})
				wait := d.Start(g.Context(), g)
				defer wait()
				var err error
				select {
				case <-all:
					res.total = time.Since(t0)
					<-graphsDone
				case <-g.Done():
					err = fmt.Errorf("leadership lost during recovery: %w", g.Err())
				}
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				res.heapMB = float64(m.HeapAlloc) / (1 << 20)
				res.rssKiB = selfRSS()
				cancel()
				measured <- err
			})
		})
	}()
	select {
	case err = <-measured:
	case <-time.After(10 * time.Minute):
		err = fmt.Errorf("recovery of %d jobs did not finish within 10 minutes (%d read)", n, read.Load())
	}
	if err == nil && read.Load() != int64(n) {
		err = fmt.Errorf("recovered %d of %d jobs", read.Load(), n)
	}
	if f := failed.Load(); f != nil && err == nil {
		err = *f
	}
	return res, err
}

// storeJobs stores n job graphs with one completed checkpoint each through the
// HA stores, as a leader that then goes away (its session closes, its locks go
// with it).
func storeJobs(ctx context.Context, cfg *conf.Config, n int) error {
	svc, err := haservices.Open(ctx, cfg, haservices.Options{Logger: zerolog.Nop()})
	if err != nil {
		return err
	}
	defer svc.Close()
	graphs, err := svc.JobGraphStore(ctx)
	if err != nil {
		return err
	}
	defer graphs.Stop()
	errs := make([]error, n)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		_ = svc.Election().Run(runCtx, func(g recovery.Grant) {
			defer close(done)
			sem := make(chan struct{}, 32)
			var wg sync.WaitGroup
			for i := range n {
				sem <- struct{}{}
				wg.Add(1)
				go func() {
					defer func() { <-sem; wg.Done() }()
					errs[i] = storeJob(g.Context(), svc, graphs, g, i)
				}()
			}
			wg.Wait()
		})
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	for _, err := range errs {
		if err != nil {
			return err // the first; the others are most likely the same
		}
	}
	return nil
}

// storeJob stores job i's graph and its first completed checkpoint, whose
// metadata names a state handle per subtask as a coordinator writes it.
func storeJob(ctx context.Context, svc *recovery.Services, graphs *recovery.JobGraphs, g recovery.Grant, i int) error {
	sub, err := sessionctl.NewSubmission(fmt.Appendf(nil, benchJob, i, i), "bench.yaml")
	if err != nil {
		return err
	}
	id := sub.JobID
	if err := graphs.Put(ctx, g, id, sub.Graph); err != nil {
		return err
	}
	cps, err := svc.CheckpointStore(ctx, id)
	if err != nil {
		return err
	}
	md, err := json.Marshal(jobmanager.CheckpointMetadata{Handles: [][]byte{[]byte("file:///state/" + id + "/1/0")}})
	if err != nil {
		return err
	}
	_, err = cps.Add(ctx, g, recovery.CompletedCheckpoint{JobID: id, ID: 1, Timestamp: time.Now(), Metadata: md})
	return err
}

// selfRSS is this process's resident set in KiB.
func selfRSS() float64 {
	kib, _ := sessionctl.RSSKiB(os.Getpid())
	return kib
}

// reregister starts a session with n TaskManagers, SIGKILLs the AM kills
// times and reports how long the TaskManagers took to re-register with the next
// attempt, from the kill's reaping and from the new leader's grant (it publishes
// its address right after; no TaskManager can find it before).
func reregister(ctx context.Context, w io.Writer, b *bench, yarnSession, dir string, n, kills int) error {
	started := time.Now()
	session, err := b.startSession(ctx, yarnSession, dir, kills, "1 s", "-n", strconv.Itoa(n), "-s", "1", "-tm", "64m")
	if err != nil {
		return err
	}
	defer session.Stop()
	client := session.Client
	leader, err := sessionctl.WaitLeader(ctx, client, "")
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	registered := func(rest string) (int, error) {
		var out struct {
			TaskManagers []json.RawMessage `json:"taskmanagers"`
		}
		err := sessionctl.GetJSON(ctx, hc, rest+"/taskmanagers", &out)
		return len(out.TaskManagers), err
	}
	if _, err := sessionctl.Poll(ctx, 5*time.Minute, func() (struct{}, bool) {
		k, err := registered(leader)
		return struct{}{}, err == nil && k == n
	}, fmt.Sprintf("%d TaskManagers do not register", n)); err != nil {
		return err
	}
	up := time.Since(started)

	var sinceReaped, sinceGranted []float64
	for k := 0; k < kills; k++ {
		if _, err := client.KillAM(ctx); err != nil {
			return fmt.Errorf("kill-am: %w", err)
		}
		next, err := sessionctl.Poll(ctx, 2*time.Minute, func() (string, bool) {
			l, err := sessionctl.FindLeader(ctx, client, leader)
			if err != nil {
				return "", false
			}
			var report jobmanager.FailoverReport
			if sessionctl.GetJSON(ctx, hc, l+"/failover", &report) != nil || report.Phases[jobmanager.PhaseTMsRegistered] == 0 {
				return "", false
			}
			tl := report.Phases
			sinceReaped = append(sinceReaped, tl[jobmanager.PhaseTMsRegistered])
			sinceGranted = append(sinceGranted, tl[jobmanager.PhaseTMsRegistered]-tl[jobmanager.PhaseGranted])
			return l, true
		}, fmt.Sprintf("failover %d: the TaskManagers do not re-register", k+1))
		if err != nil {
			return err
		}
		if got, err := registered(next); err != nil || got != n {
			return fmt.Errorf("failover %d: %d of %d TaskManagers registered (%v)", k+1, got, n, err)
		}
		leader = next
	}
	st, err := client.Status(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Re-registration: %d TaskManagers, %d AM kills (the session was up in %.1f s)\n\n", n, kills, up.Seconds())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "all TaskManagers re-registered, ms\tp50\tmax\t")
	fmt.Fprintf(tw, "since the new leader was granted\t%.1f\t%.1f\t\n", pct(sinceGranted, 50), pct(sinceGranted, 100))
	fmt.Fprintf(tw, "since the dead AM was reaped\t%.1f\t%.1f\t\n", pct(sinceReaped, 50), pct(sinceReaped, 100))
	tw.Flush()
	fmt.Fprintf(w, "\nRSS: %s\n", sessionRSS(st))
	fmt.Fprintf(w, "reregister p50=%.0fms max=%.0fms\n", pct(sinceGranted, 50), pct(sinceGranted, 100))
	return nil
}
