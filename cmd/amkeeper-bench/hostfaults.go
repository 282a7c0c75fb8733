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

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/integration/hdfspeer"
	"github.com/amkeeper/amkeeper/integration/multihost"
	"github.com/amkeeper/amkeeper/integration/netns"
	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/sessionctl"
	"github.com/amkeeper/amkeeper/recovery"
)

// hostFaultTimeout is the host faults' ZooKeeper session timeout and
// TaskManager heartbeat timeout, as in integration/faults_test.go.
const hostFaultTimeout = 2 * time.Second

// hostBed is the bed of the host faults: ZooKeeper on z, masters on a (it
// leads) and b, TaskManagers on w1 (it runs the subtask) and w2, and an HDFS
// peer (namenode and datanode, in the bench's process) on h.
type hostBed struct {
	z, h, a, b, w1, w2 *netns.Host
	hdfs               *hdfspeer.Peer
}

// cluster are the hosts the cluster's daemons run on.
func (hb *hostBed) cluster() []*netns.Host { return []*netns.Host{hb.a, hb.b, hb.w1, hb.w2} }

// hostFault is one fault the bench makes on a fresh cluster.
type hostFault struct {
	name, row string
	// newLeader: the fault moves leadership to b.
	newLeader bool
	inject    func(*hostBed) error
	heal      func(*hostBed) error
	// survivors are the master hosts whose daemons are still there to stop.
	survivors func(*hostBed) []*netns.Host
	// hdfs: the cluster's storage is the HDFS peer on h, with a checkpoint
	// timeout of 1 s (else a checkpoint's writes only stall over the fault).
	hdfs bool
	// outage: the fault heals by itself --outage after it was made (else it
	// is healed once measured).
	outage bool
}

func hostFaults() []hostFault {
	both := func(hb *hostBed) []*netns.Host { return []*netns.Host{hb.a, hb.b} }
	return []hostFault{
		{
			name: "host-loss", row: "leader's host lost (all killed, link down)", newLeader: true,
			inject: func(hb *hostBed) error {
				if err := hb.a.LinkDown(); err != nil {
					return err
				}
				_, err := multihost.KillHost(hb.a)
				return err
			},
			heal:      func(hb *hostBed) error { return hb.a.LinkUp() },
			survivors: func(hb *hostBed) []*netns.Host { return []*netns.Host{hb.b} },
		},
		{
			name: "leader-partition", row: "leader's host cut from ZooKeeper", newLeader: true,
			inject:    func(hb *hostBed) error { return netns.Partition(hb.a, hb.z) },
			heal:      func(hb *hostBed) error { return hb.a.Heal() },
			survivors: both,
		},
		{
			name: "tm-partition", row: "TaskManager's host cut from the leader",
			inject:    func(hb *hostBed) error { return netns.Partition(hb.w1, hb.a) },
			heal:      func(hb *hostBed) error { return hb.w1.Heal() },
			survivors: both,
		},
		{
			name: "hdfs-partition", row: "HDFS host cut from the cluster for",
			inject:    func(hb *hostBed) error { return hb.h.Drop(100, hb.cluster()...) },
			heal:      func(hb *hostBed) error { return hb.h.Heal() },
			survivors: both, hdfs: true, outage: true,
		},
	}
}

// hostRun is one run's times from the fault, in ms (-1: not measured).
type hostRun struct {
	leader, checkpoint, output float64
	// healed: when a fault with an outage healed.
	healed  float64
	windows int
	// tasks is how the job ran on after the fault, as the leader reported it
	// with the checkpoint: adopted (the running task taken over), restored
	// (redeployed from the latest checkpoint) or kept (neither: it ran on).
	tasks string
}

// runHostFaults makes each selected fault runs times, each on a cluster of its
// own (the bed and ZooKeeper are shared), and writes the table.
func runHostFaults(ctx context.Context, w io.Writer, log zerolog.Logger, dir, yarnSession string, selected []hostFault, runs int, outage time.Duration) error {
	bed, err := netns.Create(func(f string, a ...any) { log.Info().Msgf(f, a...) }, "z", "h", "a", "b", "w1", "w2")
	if err != nil {
		return err
	}
	defer func() {
		if err := bed.Close(); err != nil {
			log.Warn().Err(err).Msg("faults: removing the bed")
		}
	}()
	hb := &hostBed{z: bed.Host("z"), h: bed.Host("h"), a: bed.Host("a"), b: bed.Host("b"), w1: bed.Host("w1"), w2: bed.Host("w2")}
	zk, err := zktest.New(zktest.WithHosts(hb.z))
	if err != nil {
		return err
	}
	defer zk.Close()
	if slices.ContainsFunc(selected, func(f hostFault) bool { return f.hdfs }) {
		if hb.hdfs, err = hdfspeer.New(func(f string, a ...any) { log.Debug().Msgf(f, a...) }, hdfspeer.WithHost(hb.h)); err != nil {
			return err
		}
		defer hb.hdfs.Close()
	}

	results := make([][]hostRun, len(selected))
	for i, f := range selected {
		for r := 0; r < runs; r++ {
			res, err := hostFaultRun(ctx, log, filepath.Join(dir, fmt.Sprintf("%s-%d", f.name, r)), yarnSession, zk, hb, f, outage)
			if err != nil {
				return fmt.Errorf("%s, run %d: %w", f.name, r+1, err)
			}
			log.Info().Str("fault", f.name).Int("run", r+1).Float64("leader_ms", res.leader).Float64("checkpoint_ms", res.checkpoint).
				Float64("output_ms", res.output).Int("windows", res.windows).Str("tasks", res.tasks).Msg("faults: host fault measured")
			results[i] = append(results[i], res)
		}
	}

	fmt.Fprintf(w, "\nHost faults: ZooKeeper on host z (tick %v), masters on a (leads) and b, TaskManagers on w1 (runs the subtask) and w2; "+
		"session and heartbeat timeouts %v, the counting job (a window every 200 ms, a checkpoint every 300 ms), %d run(s), a fresh cluster each\n\n",
		zk.TickTime(), hostFaultTimeout, runs)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "fault → (ms)\tnew leader p50\tmax\tcheckpoint p50\tmax\toutput p50\tmax\ttask\toutput\t")
	var summary, notes []string
	for i, f := range selected {
		var leader, ck, out []float64
		windows := 0
		tasks := map[string]int{}
		for _, res := range results[i] {
			tasks[res.tasks]++
			leader, ck, out = append(leader, res.leader), append(ck, res.checkpoint), append(out, res.output)
			windows += res.windows
		}
		lp50, lmax := "-", "-"
		if f.newLeader {
			lp50, lmax = fmt.Sprintf("%.0f", pct(leader, 50)), fmt.Sprintf("%.0f", pct(leader, 100))
		}
		row := f.row
		if f.outage {
			row = fmt.Sprintf("%s %v", f.row, outage)
		}
		var how []string
		for _, k := range []string{"adopted", "restored", "kept"} {
			if tasks[k] > 0 {
				how = append(how, fmt.Sprintf("%d %s", tasks[k], k))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%.0f\t%.0f\t%.0f\t%s\texact (%d windows)\t\n", row, lp50, lmax,
			pct(ck, 50), pct(ck, 100), pct(out, 50), pct(out, 100), strings.Join(how, ", "), windows)
		summary = append(summary, fmt.Sprintf("%s p50=%.0fms", f.name, pct(ck, 50)))
		if f.outage {
			var after []float64
			for _, res := range results[i] {
				after = append(after, res.checkpoint-res.healed)
			}
			notes = append(notes, fmt.Sprintf("%s: a checkpoint completed %.0f ms (p50; max %.0f) after the fault healed", f.name, pct(after, 50), pct(after, 100)))
		}
	}
	tw.Flush()
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	fmt.Fprintln(w, "\nnew leader: another master's leadership seen in ZooKeeper; checkpoint: a checkpoint triggered after the fault completed;")
	fmt.Fprintln(w, "output: the committed output grew again after it (the sink commits on checkpoint completion); task: the new leader adopted the running")
	fmt.Fprintln(w, "task, or it was restored from the latest checkpoint, or kept running under the same leader; exact: window k = 10000k+4950, no gap, no duplicate")
	fmt.Fprintf(w, "\nhost-faults checkpoint %s\n", strings.Join(summary, " "))
	return nil
}

// hostFaultRun brings a cluster up in dir, makes the fault, measures, heals,
// lets the job checkpoint on, stops the daemons and checks the output.
func hostFaultRun(ctx context.Context, log zerolog.Logger, dir, yarnSession string, zk *zktest.Cluster, hb *hostBed, f hostFault, outage time.Duration) (hostRun, error) {
	res := hostRun{leader: -1, checkpoint: -1, output: -1, healed: -1}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	home, confDir := filepath.Join(dir, "home"), filepath.Join(dir, "conf")
	for _, d := range []string{home, confDir, filepath.Join(dir, "storage"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return res, err
		}
	}
	c := multihost.Conf{
		Quorum: zk.ConnectString(), Root: "/amkeeper-bench", ClusterID: "bench_" + strings.ReplaceAll(filepath.Base(dir), "-", "_"),
		Storage: hdfsstore.FileURI(filepath.Join(dir, "storage")), SecretFile: filepath.Join(dir, "cluster.secret"),
		SessionTimeout: hostFaultTimeout,
		Masters:        []string{hb.a.Address(), hb.b.Address()}, Workers: []string{hb.w1.Address(), hb.w2.Address()},
		Extra: []string{"heartbeat.timeout: " + hostFaultTimeout.String()},
	}
	if f.hdfs {
		c.Storage = hb.hdfs.URI("/" + c.ClusterID)
		c.Extra = append(c.Extra, "execution.checkpointing.timeout: 1 s")
	}
	secret, err := appsecret.Create(c.SecretFile)
	if err != nil {
		return res, err
	}
	if err := c.Write(confDir); err != nil {
		return res, err
	}
	daemons := &multihost.Cluster{Bin: yarnSession, ConfDir: confDir, Home: home, ClusterID: c.ClusterID,
		Env: append(os.Environ(), "AMKEEPER_HOME="+home, "TMPDIR="+filepath.Join(dir, "tmp"))}
	// Whatever a failed run leaves on the cluster's hosts is this run's.
	defer func() {
		for _, h := range []*netns.Host{hb.a, hb.b, hb.w1, hb.w2} {
			left, _ := h.PIDs()
			var cmds []string
			for _, pid := range left {
				b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				cmds = append(cmds, fmt.Sprintf("%d %s", pid, strings.Join(strings.Fields(strings.ReplaceAll(string(b), "\x00", " ")), " ")))
			}
			if pids, err := multihost.KillHost(h); err != nil || len(pids) > 0 {
				log.Warn().Err(err).Str("host", h.Name).Strs("processes", cmds).Msg("faults: killed what the run left running")
			}
		}
	}()
	// The bench's own view of the leader, with a session of its own that a
	// loaded machine does not expire (later -D items win).
	leader, wait, err := multihost.Follow(ctx, append(c.Dynamic(), "high-availability.zookeeper.client.session-timeout=10 s"),
		recovery.RestServer, log.Level(zerolog.WarnLevel))
	if err != nil {
		return res, err
	}
	defer wait()
	defer cancel()
	up, err := daemons.Up(ctx, leader, secret, []*netns.Host{hb.a, hb.b}, []*netns.Host{hb.w1, hb.w2}, []byte(multihost.CountingJob))
	if err != nil {
		return res, err
	}
	store, err := hdfsstore.Open(ctx, c.Storage)
	if err != nil {
		return res, err
	}
	defer store.Close()
	// A request to a host whose link is down never sees its peer close: a
	// short timeout, and connections of their own.
	hc := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	committed := func() int {
		got, err := multihost.Windows(ctx, store, up.JobID)
		if err != nil {
			return 0
		}
		return len(got)
	}

	before := committed()
	// The times run from the moment the fault is in place: a checkpoint
	// triggered while the fault was still being made (nft and ip take
	// hundreds of milliseconds on a loaded machine) proves nothing.
	making := time.Now()
	if err := f.inject(hb); err != nil {
		return res, err
	}
	fault := time.Now()
	log.Debug().Str("fault", f.name).Dur("making", fault.Sub(making)).Msg("faults: fault in place")
	healed := false
	defer func() {
		if !healed {
			_ = f.heal(hb)
		}
	}()
	since := func() float64 { return float64(time.Since(fault).Microseconds()) / 1000 }
	var healErr error
	// Every 10 ms: this poll is the observed time.
	if _, err := sessionctl.PollEvery(ctx, 10*time.Millisecond, 90*time.Second, func() (struct{}, bool) {
		if f.outage && !healed && time.Since(fault) >= outage {
			healed, healErr, res.healed = true, f.heal(hb), since()
		}
		l := leader()
		if f.newLeader && res.leader < 0 && l.Known() && l.SessionID != up.First.SessionID {
			res.leader = since()
		}
		rest := up.First.Address
		if l.Known() {
			rest = l.Address
		}
		// Where leadership moves, only the new leader can complete a
		// checkpoint, and asking a lost host would stall this poll for the
		// client's timeout.
		if res.checkpoint < 0 && (!f.newLeader || res.leader >= 0) {
			info := multihost.Checkpoints(ctx, hc, rest, up.JobID)
			if done := info.Latest.Completed; done != nil && done.TriggerTimestamp >= fault.UnixMilli() {
				res.checkpoint = since()
				switch {
				case info.Adopted:
					res.tasks = "adopted"
				case info.RestoredFrom > 0:
					res.tasks = "restored"
				default:
					res.tasks = "kept"
				}
			}
		}
		if res.checkpoint >= 0 && res.output < 0 && committed() > before {
			res.output = since()
		}
		return struct{}{}, healErr != nil || (res.leader >= 0 || !f.newLeader) && res.checkpoint >= 0 && res.output >= 0
	}, "the job does not checkpoint and commit again after the fault"); err != nil {
		return res, err
	}
	if healErr != nil {
		return res, healErr
	}
	if f.newLeader && leader().SessionID == up.First.SessionID {
		return res, fmt.Errorf("the first master still leads")
	}

	// Healed, the job checkpoints on (a healed master or TaskManager rejoins
	// meanwhile), then the daemons stop and the output must be exact.
	if !healed {
		healed = true
		if err := f.heal(hb); err != nil {
			return res, err
		}
	}
	var last int64
	if _, err := sessionctl.Poll(ctx, 60*time.Second, func() (struct{}, bool) {
		id := multihost.Checkpoints(ctx, hc, leader().Address, up.JobID).LatestID()
		if last == 0 {
			last = id
		}
		return struct{}{}, last > 0 && id >= last+3
	}, "the job does not checkpoint on after healing"); err != nil {
		return res, err
	}
	for _, h := range append([]*netns.Host{hb.w1, hb.w2}, f.survivors(hb)...) {
		kind := "jobmanager"
		if h == hb.w1 || h == hb.w2 {
			kind = "taskmanager"
		}
		if _, err := daemons.StopDaemon(ctx, h, kind); err != nil {
			return res, err
		}
	}
	got, err := multihost.Windows(ctx, store, up.JobID)
	if err != nil {
		return res, err
	}
	if err := multihost.Exact(got, before+1); err != nil {
		return res, err
	}
	res.windows = len(got)
	return res, nil
}
