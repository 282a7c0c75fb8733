package multihost

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/integration/netns"
	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/sessionctl"
	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/haservices"
	"github.com/amkeeper/amkeeper/taskmanager"
)

// CountingJob is the seed's job, sped up: a window of 100 records every 0.2 s,
// a checkpoint every 0.3 s; window k sums to 10000k+4950 (Exact).
const CountingJob = `name: counting
parallelism: 1
checkpointInterval: 300ms
pipeline:
  - sequence: {rate: 2ms}
  - countWindowAll: {size: 100, aggregate: sum}
  - file: {path: counts}
`

// CountingOutput is where CountingJob's sink writes, under the storage
// directory.
var CountingOutput = job.OutputDir(taskmanager.OutputRoot, "counts")

// Conf is a standalone cluster's configuration directory.
type Conf struct {
	Quorum, Root, ClusterID string
	// Storage is high-availability.storageDir; SecretFile amkeeper.secret.file.
	Storage, SecretFile string
	SessionTimeout      time.Duration
	Masters, Workers    []string
	// ZooCfg is conf/zoo.cfg's content (none when empty).
	ZooCfg string
	// Extra are more flink-conf.yaml lines ("key: value").
	Extra []string
}

// HA returns the high-availability keys as flink-conf.yaml lines ("key: value").
func (c Conf) HA() []string {
	return []string{
		"high-availability.type: zookeeper",
		"high-availability.zookeeper.quorum: " + c.Quorum,
		"high-availability.zookeeper.path.root: " + c.Root,
		"high-availability.cluster-id: /" + c.ClusterID,
		"high-availability.storageDir: " + c.Storage,
		"high-availability.zookeeper.client.session-timeout: " + c.SessionTimeout.String(),
	}
}

// Dynamic returns the high-availability keys as key=value (-D values, Follow).
func (c Conf) Dynamic() []string {
	var out []string
	for _, kv := range c.HA() {
		k, v, _ := strings.Cut(kv, ": ")
		out = append(out, k+"="+v)
	}
	return out
}

// Write writes flink-conf.yaml (the HA keys, a 100 ms heartbeat, REST on any
// port, a budget of 10 attempts per master, the secret file, then Extra),
// masters, workers and zoo.cfg into dir.
func (c Conf) Write(dir string) error {
	flinkConf := strings.Join(append(append(c.HA(),
		"heartbeat.interval: 100 ms",
		"rest.port: 0",
		"yarn.application-attempts: 10",
		"yarn.resourcemanager.am.max-attempts: 10",
		"amkeeper.secret.file: "+c.SecretFile,
	), c.Extra...), "\n") + "\n"
	files := map[string]string{
		"flink-conf.yaml": flinkConf,
		"masters":         strings.Join(c.Masters, "\n") + "\n",
		"workers":         strings.Join(c.Workers, "\n") + "\n",
	}
	if c.ZooCfg != "" {
		files["zoo.cfg"] = c.ZooCfg
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return fmt.Errorf("multihost: write the configuration: %w", err)
		}
	}
	return nil
}

// Cluster is the daemons of one standalone cluster.
type Cluster struct {
	// Bin is the yarn-session binary; ConfDir the configuration directory
	// (Conf.Write); Home the daemons' AMKEEPER_HOME; ClusterID the cluster ID
	// without its leading slash (as daemon directories name it).
	Bin, ConfDir, Home, ClusterID string
	// Env is the daemons' environment (AMKEEPER_HOME=Home among it).
	Env []string
	// LogLevel is the daemons' --log-level ("": yarn-session's default).
	LogLevel string
}

// StartDaemon runs `yarn-session jobmanager|taskmanager start --host H` inside
// host h and checks it says what the seed's scripts say.
func (c *Cluster) StartDaemon(ctx context.Context, h *netns.Host, kind string) error {
	args := []string{"--conf-dir", c.ConfDir}
	if c.LogLevel != "" {
		args = append(args, "--log-level", c.LogLevel)
	}
	out, err := c.yarnSession(ctx, time.Minute, h, append(args, kind, "start", "--host", h.Address())...)
	if err != nil {
		return err
	}
	if want := fmt.Sprintf("Starting %s daemon on host %s.\n", kind, h.Address()); out != want {
		return fmt.Errorf("multihost: %s start on host %s said %q, want %q", kind, h.Name, out, want)
	}
	return nil
}

// StopDaemon runs `yarn-session jobmanager|taskmanager stop --host H` inside
// host h and returns what it said.
func (c *Cluster) StopDaemon(ctx context.Context, h *netns.Host, kind string) (string, error) {
	return c.yarnSession(ctx, 2*time.Minute, h, "--conf-dir", c.ConfDir, kind, "stop", "--host", h.Address())
}

func (c *Cluster) yarnSession(ctx context.Context, within time.Duration, h *netns.Host, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Bin, args...)
	h.Wrap(cmd)
	cmd.Env = c.Env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("multihost: yarn-session %s on host %s: %w: %s", strings.Join(args, " "), h.Name, err, out)
	}
	return string(out), nil
}

// DaemonDir is the directory of the daemon of kind on host (n: its number).
func (c *Cluster) DaemonDir(kind, host string, n int) string {
	return DaemonDir(c.Home, c.ClusterID, kind, host, n)
}

// DaemonDir is the directory, under home, of cluster's daemon of kind on host
// (n: its number).
func DaemonDir(home, cluster, kind, host string, n int) string {
	return filepath.Join(home, "daemons", fmt.Sprintf("%s-%s-%s-%d", kind, cluster, host, n))
}

// Running is what Up brought up.
type Running struct {
	// First is the first master's leadership.
	First recovery.LeaderInfo
	// JobID is the submitted job's ID.
	JobID string
}

// Up starts a master daemon on each of masters, the first alone until it leads,
// then a TaskManager daemon on each of workers, each registered before the next
// starts (so the first worker's has the smaller container ID and runs a
// parallelism-1 job's subtask), submits spec to the first master under secret
// and waits until the job has completed three checkpoints. leader follows the
// rest_server leader (Follow). Each wait gives up after a minute.
func (c *Cluster) Up(ctx context.Context, leader func() recovery.LeaderInfo, secret appsecret.Secret,
	masters, workers []*netns.Host, spec []byte) (Running, error) {
	var r Running
	if len(masters) == 0 {
		return r, fmt.Errorf("multihost: no master host")
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	defer hc.CloseIdleConnections()
	if err := c.StartDaemon(ctx, masters[0], "jobmanager"); err != nil {
		return r, err
	}
	var err error
	if r.First, err = sessionctl.Poll(ctx, time.Minute, func() (recovery.LeaderInfo, bool) {
		l := leader()
		return l, l.Known()
	}, "the master on host "+masters[0].Name+" does not lead"); err != nil {
		return r, err
	}
	if u, err := url.Parse(r.First.Address); err != nil || u.Hostname() != masters[0].Address() {
		return r, fmt.Errorf("multihost: the leader is %s, want the master on host %s (%s)", r.First.Address, masters[0].Name, masters[0].Address())
	}
	for _, h := range masters[1:] {
		if err := c.StartDaemon(ctx, h, "jobmanager"); err != nil {
			return r, err
		}
	}
	for i, h := range workers {
		if err := c.StartDaemon(ctx, h, "taskmanager"); err != nil {
			return r, err
		}
		if _, err := sessionctl.Poll(ctx, time.Minute, func() (struct{}, bool) {
			return struct{}{}, TaskManagers(ctx, hc, leader()) == i+1
		}, "the TaskManager on host "+h.Name+" does not register"); err != nil {
			return r, err
		}
	}
	sub, err := sessionctl.NewSubmission(spec, "job.yaml")
	if err != nil {
		return r, err
	}
	r.JobID = sub.JobID
	if err := sessionctl.Submit(ctx, secret, nil, r.First.Address, sub); err != nil {
		return r, fmt.Errorf("multihost: submit: %w", err)
	}
	if _, err := sessionctl.Poll(ctx, time.Minute, func() (struct{}, bool) {
		return struct{}{}, Checkpoints(ctx, hc, r.First.Address, r.JobID).LatestID() > 2
	}, "the job does not checkpoint"); err != nil {
		return r, err
	}
	return r, nil
}

// TaskManagers is how many TaskManagers are registered with the leader (0: no
// leader or no answer).
func TaskManagers(ctx context.Context, hc *http.Client, leader recovery.LeaderInfo) int {
	var tms struct {
		TaskManagers []jobmanager.TaskManagerInfo `json:"taskmanagers"`
	}
	if !leader.Known() || sessionctl.GetJSON(ctx, hc, leader.Address+"/taskmanagers", &tms) != nil {
		return 0
	}
	return len(tms.TaskManagers)
}

// Checkpoints is the job's checkpoint statistics at the AM at rest (zero: no
// answer).
func Checkpoints(ctx context.Context, hc *http.Client, rest, jobID string) jobmanager.CheckpointInfo {
	var info jobmanager.CheckpointInfo
	_ = sessionctl.GetJSON(ctx, hc, rest+"/jobs/"+jobID+"/checkpoints", &info)
	return info
}

// Follow follows component's leader through the ZooKeeper of the dynamic
// key=value properties (Conf.Dynamic) until ctx ends: get returns the newest
// leader known (zero: none); wait returns once the follower has stopped.
func Follow(ctx context.Context, dynamic []string, component string, log zerolog.Logger) (get func() recovery.LeaderInfo, wait func(), err error) {
	cfg, err := conf.Load(conf.Options{Dynamic: dynamic})
	if err != nil {
		return nil, nil, fmt.Errorf("multihost: %w", err)
	}
	svc, err := haservices.Open(ctx, cfg, haservices.Options{Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("multihost: %w", err)
	}
	latest := make(chan recovery.LeaderInfo, 1)
	latest <- recovery.LeaderInfo{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = svc.Retrieve(ctx, component, func(i recovery.LeaderInfo) { <-latest; latest <- i })
		svc.Close()
	}()
	return func() recovery.LeaderInfo { i := <-latest; latest <- i; return i }, func() { <-done }, nil
}

// Windows returns the job's committed windows (CountingJob's output).
func Windows(ctx context.Context, store hdfsstore.Store, jobID string) ([]int64, error) {
	return job.ReadCommittedJob(ctx, store, CountingOutput, job.JobID(jobID))
}

// Exact checks CountingJob's committed output: at least min windows, window k
// is 10000k+4950 — no gap, no duplicate.
func Exact(got []int64, min int) error {
	if len(got) < min {
		return fmt.Errorf("multihost: %d windows committed, want at least %d", len(got), min)
	}
	for k, v := range got {
		if want := int64(10000*k + 4950); v != want {
			return fmt.Errorf("multihost: committed window %d of %d is %d, want %d: the output is not exactly once", k, len(got), v, want)
		}
	}
	return nil
}

// KillHost SIGKILLs every process running inside host h, as when the machine
// dies, and returns their PIDs.
func KillHost(h *netns.Host) ([]int, error) {
	pids, err := h.PIDs()
	if err != nil {
		return nil, err
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
			return pids, fmt.Errorf("multihost: kill %d on host %s: %w", pid, h.Name, err)
		}
	}
	return pids, nil
}
