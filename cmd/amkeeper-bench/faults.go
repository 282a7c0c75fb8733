package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/integration/netns"
	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/sessionctl"
	"github.com/amkeeper/amkeeper/jobmanager"
)

const (
	flagRuns   = "runs"
	flagOutage = "outage"
	flagFaults = "faults"
)

// faultEnsemble names the ZooKeeper ensemble faults in --faults.
const faultEnsemble = "ensemble"

func faultsCommand() *cli.Command {
	return &cli.Command{
		Name: "faults",
		Usage: "faults on a multi-host bed (network namespaces; needs root, ip, nft): ZooKeeper ensemble faults " +
			"(time from each fault to the job checkpointing again, with and without tolerate-suspended-connections) " +
			"and host faults on a standalone cluster (time to a new leader, a checkpoint, committed output; exact output)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: flagFaults, Value: strings.Join(faultNames(), ","),
				Usage: "the faults to make, comma-separated: " + strings.Join(faultNames(), ", ")},
			&cli.IntFlag{Name: flagRuns, Value: 3, Usage: "runs of each fault (1–20)"},
			&cli.DurationFlag{Name: flagOutage, Value: 4 * time.Second, Usage: "how long the ZooKeeper majority, and the HDFS host, stay lost (1s–30s)"},
		},
		Action: runFaults,
	}
}

// faultSession is one session of the faults bench, on a host of its own.
type faultSession struct {
	name    string
	timeout time.Duration
	props   []string
	s       *sessionctl.Detached
	rest    string
	job     string
}

func runFaults(c *cli.Context) error {
	ctx := c.Context
	w := c.App.Writer
	runs, outage := c.Int(flagRuns), c.Duration(flagOutage)
	if runs < 1 || runs > 20 || outage < time.Second || outage > 30*time.Second {
		return cli.Exit("faults: want --runs 1–20 and --outage 1s–30s", exitUsage)
	}
	ensemble, hosts, err := selectFaults(c.String(flagFaults))
	if err != nil {
		return cli.Exit("faults: "+err.Error(), exitUsage)
	}
	log, err := newLogger(c, "amkeeper-bench")
	if err != nil {
		return err
	}
	fail := func(err error) error { return cli.Exit(fmt.Sprintf("faults: %v", err), exitFailure) }
	dir, err := os.MkdirTemp("", "amkeeper-bench-faults-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	b := &bench{dir: dir, log: log}
	yarnSession, err := b.yarnSession(ctx, c.String(flagYarnSession))
	if err != nil {
		return fail(err)
	}
	if ensemble {
		if err := runEnsembleFaults(ctx, w, log, dir, yarnSession, runs, outage); err != nil {
			return fail(err)
		}
	}
	if len(hosts) > 0 {
		if err := runHostFaults(ctx, w, log, dir, yarnSession, hosts, runs, outage); err != nil {
			return fail(err)
		}
	}
	return nil
}

// faultNames are the names --faults takes.
func faultNames() []string {
	names := []string{faultEnsemble}
	for _, f := range hostFaults() {
		names = append(names, f.name)
	}
	return names
}

// selectFaults parses --faults: whether the ensemble faults run, and which host
// faults (in the order hostFaults lists them).
func selectFaults(list string) (ensemble bool, hosts []hostFault, err error) {
	want := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(faultNames(), name) {
			return false, nil, fmt.Errorf("--faults: unknown fault %q; valid: %s", name, strings.Join(faultNames(), ", "))
		}
		want[name] = true
	}
	for _, f := range hostFaults() {
		if want[f.name] {
			hosts = append(hosts, f)
		}
	}
	return want[faultEnsemble], hosts, nil
}

// runEnsembleFaults loses one, then two of three ZooKeeper servers' hosts
// under two sessions, with and without tolerate-suspended-connections.
func runEnsembleFaults(ctx context.Context, w io.Writer, log zerolog.Logger, dir, yarnSession string, runs int, outage time.Duration) error {
	bed, err := netns.Create(func(f string, a ...any) { log.Info().Msgf(f, a...) }, "z1", "z2", "z3", "a", "b")
	if err != nil {
		return err
	}
	defer func() {
		if err := bed.Close(); err != nil {
			log.Warn().Err(err).Msg("faults: removing the bed")
		}
	}()
	zhosts := []*netns.Host{bed.Host("z1"), bed.Host("z2"), bed.Host("z3")}
	zk, err := zktest.New(zktest.WithServers(3), zktest.WithHosts(zhosts[0], zhosts[1], zhosts[2]))
	if err != nil {
		return err
	}
	defer zk.Close()
	defer func() {
		for _, h := range zhosts {
			_ = h.LinkUp()
		}
	}()

	sessions := []*faultSession{
		{name: "tolerated, 8 s session", timeout: 8 * time.Second, props: []string{"high-availability.zookeeper.client.tolerate-suspended-connections=true"}},
		{name: "not tolerated, 2 s session", timeout: 2 * time.Second},
	}
	hc := &http.Client{Timeout: time.Second}
	latest := func(fs *faultSession) int64 {
		var info jobmanager.CheckpointInfo
		if sessionctl.GetJSON(ctx, hc, fs.rest+"/jobs/"+fs.job+"/checkpoints", &info) != nil {
			return -1
		}
		return info.LatestID()
	}
	for i, fs := range sessions {
		host := bed.Host([]string{"a", "b"}[i])
		home := filepath.Join(dir, "session-"+host.Name)
		confDir := filepath.Join(home, "conf")
		if err := os.MkdirAll(confDir, 0o700); err != nil {
			return err
		}
		args := []string{"netns", "exec", host.NS, yarnSession, "--conf-dir", confDir, "-n", "1"}
		args = append(args, sessionctl.DynamicArgs(append([]string{"high-availability.type=zookeeper",
			"high-availability.zookeeper.quorum=" + zk.ConnectString(),
			"high-availability.storageDir=" + hdfsstore.FileURI(filepath.Join(home, "storage")),
			"high-availability.cluster-id=" + host.Name,
			"high-availability.zookeeper.client.session-timeout=" + fs.timeout.String(),
			"jobmanager.rpc.address=" + host.Address(), "rest.address=" + host.Address(), "taskmanager.host=" + host.Address(),
			"heartbeat.interval=100 ms", "rest.port=0"}, fs.props...))...)
		if fs.s, err = sessionctl.StartDetached(ctx, "ip", home, args...); err != nil {
			return err
		}
		defer fs.s.Stop()
		if fs.rest, err = sessionctl.WaitLeader(ctx, fs.s.Client, ""); err != nil {
			return err
		}
		secret, err := fs.s.Secret()
		if err != nil {
			return err
		}
		sub, err := sessionctl.NewSubmission(fmt.Appendf(nil, benchJob, 0, 0), "bench.yaml")
		if err != nil {
			return err
		}
		if err := sessionctl.Submit(ctx, secret, nil, fs.rest, sub); err != nil {
			return fmt.Errorf("submit: %w", err)
		}
		fs.job = sub.JobID
	}

	// again times, for every session, the fault (started at down) to a
	// checkpoint newer than the one before it; the sessions are watched side by
	// side.
	again := func(before []int64, down time.Time, within time.Duration) ([]float64, error) {
		out := make([]float64, len(sessions))
		// Every 10 ms: this poll is the observed time.
		_, err := sessionctl.PollEvery(ctx, 10*time.Millisecond, within, func() (struct{}, bool) {
			done := true
			for i, fs := range sessions {
				if out[i] > 0 {
					continue
				}
				fs.follow(ctx)
				if latest(fs) > before[i] {
					out[i] = float64(time.Since(down).Milliseconds())
				} else {
					done = false
				}
			}
			return struct{}{}, done
		}, "a session does not checkpoint after the fault")
		return out, err
	}
	serving := func() error {
		_, err := sessionctl.Poll(ctx, 60*time.Second, func() (struct{}, bool) {
			n := map[string]int{}
			for _, s := range zk.Servers() {
				cctx, cancel := context.WithTimeout(ctx, time.Second)
				m, _ := s.Mode(cctx)
				cancel()
				n[m]++
			}
			return struct{}{}, n["leader"] == 1 && n["follower"] == 2
		}, "the ensemble does not serve with three servers")
		return err
	}
	settled := func() ([]int64, error) {
		before := make([]int64, len(sessions))
		for i, fs := range sessions {
			if _, err := sessionctl.Poll(ctx, 60*time.Second, func() (struct{}, bool) {
				fs.follow(ctx)
				return struct{}{}, latest(fs) > 0
			}, fs.name+": the job does not checkpoint"); err != nil {
				return nil, err
			}
			before[i] = latest(fs)
		}
		return before, nil
	}

	one := make([][]float64, len(sessions))
	majority := make([][]float64, len(sessions))
	for r := 0; r < runs; r++ {
		// One server's host lost, a different one each run.
		before, err := settled()
		if err != nil {
			return err
		}
		lost := zhosts[r%3]
		down := time.Now()
		if err := lost.LinkDown(); err != nil {
			return err
		}
		t, err := again(before, down, 90*time.Second)
		if err != nil {
			return err
		}
		for i := range sessions {
			one[i] = append(one[i], t[i])
		}
		if err := lost.LinkUp(); err != nil {
			return err
		}
		if err := serving(); err != nil {
			return err
		}

		// Two of the three lost for the outage.
		if before, err = settled(); err != nil {
			return err
		}
		pair := []*netns.Host{zhosts[r%3], zhosts[(r+1)%3]}
		down = time.Now()
		for _, h := range pair {
			if err := h.LinkDown(); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(outage): // the fault's length, not a wait for an outcome
		}
		for _, h := range pair {
			if err := h.LinkUp(); err != nil {
				return err
			}
		}
		if t, err = again(before, down, 90*time.Second); err != nil {
			return err
		}
		for i := range sessions {
			majority[i] = append(majority[i], t[i])
		}
		if err := serving(); err != nil {
			return err
		}
	}

	fmt.Fprintf(w, "Faults: 3 ZooKeeper servers on hosts z1–z3 (tick %v), sessions on hosts a and b, %d run(s), checkpoints every 200 ms\n\n", zk.TickTime(), runs)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "fault → a checkpoint completes again (ms)\tsession\tp50\tmax\t")
	for i, fs := range sessions {
		fmt.Fprintf(tw, "one server's host lost\t%s\t%.0f\t%.0f\t\n", fs.name, pct(one[i], 50), pct(one[i], 100))
	}
	for i, fs := range sessions {
		fmt.Fprintf(tw, "majority lost for %v\t%s\t%.0f\t%.0f\t\n", outage, fs.name, pct(majority[i], 50), pct(majority[i], 100))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nfaults one-lost p50=%.0fms/%.0fms majority-lost p50=%.0fms/%.0fms\n",
		pct(one[0], 50), pct(one[1], 50), pct(majority[0], 50), pct(majority[1], 50))
	return nil
}

// follow follows the session's leader: its REST address may change when it
// leads again.
func (fs *faultSession) follow(ctx context.Context) {
	if l, err := sessionctl.FindLeader(ctx, fs.s.Client, ""); err == nil && l != "" {
		fs.rest = l
	}
}
