package minicluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/integration/hdfspeer"
	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/supervisor"
	"github.com/amkeeper/amkeeper/taskmanager"
)

// The application a cluster runs; its ID is the HA cluster-id.
var app = containers.AppID{ClusterTimestamp: 1, Seq: 1}

// pollInterval is how often the waiting handles look again.
const pollInterval = 20 * time.Millisecond

// Option configures Start.
type Option func(*options)

type options struct {
	taskManagers int
	budget       []string // the budget's properties
	local        bool
	binary       string
	zk           []zktest.Option
	props        []string
}

// WithTaskManagers sets the number of TaskManager containers (default 1).
func WithTaskManagers(n int) Option { return func(o *options) { o.taskManagers = n } }

// WithBudget sets the AM attempt budget: at most maxAttempts counted failures
// within window end the application (default 10 in 10 minutes). It sets
// yarn.application-attempts and yarn.resourcemanager.am.max-attempts to
// maxAttempts and yarn.application-attempt-failures-validity-interval to window.
func WithBudget(maxAttempts int, window time.Duration) Option {
	return func(o *options) { o.budget = budgetProperties(maxAttempts, window) }
}

func budgetProperties(maxAttempts int, window time.Duration) []string {
	return []string{
		conf.YarnApplicationAttempts.Key() + "=" + strconv.Itoa(maxAttempts),
		conf.YarnAMMaxAttempts.Key() + "=" + strconv.Itoa(maxAttempts),
		conf.YarnAttemptFailuresValidityInterval.Key() + "=" + strconv.FormatInt(window.Milliseconds(), 10) + " ms",
	}
}

// WithLocalStorage puts high-availability.storageDir on file:// in t.TempDir()
// instead of the HDFS peer (which is then not started: HDFS returns nil).
func WithLocalStorage() Option { return func(o *options) { o.local = true } }

// WithBinary runs the yarn-session binary at path (built by the caller, e.g. in
// TestMain) instead of building one with Binary.
func WithBinary(path string) Option { return func(o *options) { o.binary = path } }

// WithZooKeeper passes options to zktest.Start, e.g. zktest.WithServers(3).
func WithZooKeeper(opts ...zktest.Option) Option {
	return func(o *options) { o.zk = append(o.zk, opts...) }
}

// WithProperty adds a configuration property ("key=value") after the cluster's
// own: the supervisor, the AM and the TaskManager processes all read it.
func WithProperty(keyValue string) Option {
	return func(o *options) { o.props = append(o.props, keyValue) }
}

// Cluster is a running mini cluster. Its methods are safe for concurrent use.
type Cluster struct {
	t       testing.TB
	zk      *zktest.Cluster
	peer    *hdfspeer.Peer
	storage string // high-availability.storageDir
	store   hdfsstore.Store
	sup     *supervisor.Supervisor
	rest    httpjson.Client // the AMs' REST API
}

// Start brings up ZooKeeper, the storage and a session with its AM and
// TaskManagers, and stops them all when the test ends. It returns once the
// supervisor runs; use WaitLeader to wait for a leading AM.
func Start(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	o := options{taskManagers: 1, budget: budgetProperties(10, 10*time.Minute)}
	for _, opt := range opts {
		opt(&o)
	}
	if o.binary == "" {
		o.binary = Binary(t)
	}
	c := &Cluster{t: t, rest: httpjson.Client{HTTP: &http.Client{Timeout: 5 * time.Second}}}
	c.zk = zktest.Start(t, o.zk...)
	if o.local {
		c.storage = hdfsstore.FileURI(t.TempDir())
	} else {
		c.peer = hdfspeer.Start(t)
		c.storage = c.peer.URI("/flink/recovery")
	}
	st, err := hdfsstore.Open(context.Background(), c.storage)
	if err != nil {
		t.Fatalf("minicluster: open storage %s: %v", c.storage, err)
	}
	c.store = st
	t.Cleanup(func() { st.Close() })

	props := []string{
		"high-availability.type=zookeeper",
		"high-availability.zookeeper.quorum=" + c.zk.ConnectString(),
		"high-availability.zookeeper.path.root=" + c.zk.Root(t),
		"high-availability.cluster-id=" + app.String(),
		"high-availability.storageDir=" + c.storage,
		"high-availability.zookeeper.client.session-timeout=2 s",
		"heartbeat.interval=100 ms",
		"rest.port=0",
	}
	props = append(append(props, o.budget...), o.props...)
	cfg, err := conf.Load(conf.Options{Dynamic: props, ApplicationID: app.String()})
	if err != nil {
		t.Fatalf("minicluster: configuration: %v", err)
	}
	// The supervisor is configured the way yarn-session configures it, so the
	// cluster runs with fast fencing (the ZooKeeper quorum) like a real session.
	sc, err := supervisor.ConfigFrom(context.Background(), cfg, supervisor.Session{App: app,
		Dir: filepath.Join(t.TempDir(), "app"), TaskManagers: o.taskManagers, TaskManagerMemory: 128 << 20, Slots: 1,
		Executable: o.binary, Logger: logging.ForTest(t)})
	if err != nil {
		t.Fatalf("minicluster: %v", err)
	}
	t.Cleanup(func() { sc.Close() }) // after the supervisor has stopped: cleanups run last first
	sup, err := supervisor.New(sc)
	if err != nil {
		t.Fatalf("minicluster: %v", err)
	}
	c.sup = sup
	// Submitting changes the session's state: the calls carry its secret, as the
	// CLI's do.
	c.rest.HTTP = sup.Secret().Client(c.rest.HTTP)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := sup.Run(ctx); err != nil && ctx.Err() == nil {
			t.Errorf("minicluster: supervisor: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Errorf("minicluster: the supervisor did not stop within 60 s")
		}
		if t.Failed() {
			c.logTails()
		}
	})
	return c
}

// ZooKeeper returns the cluster's ZooKeeper, e.g. to stop, kill or pause a server.
func (c *Cluster) ZooKeeper() *zktest.Cluster { return c.zk }

// HDFS returns the HDFS peer that holds high-availability.storageDir, or nil with
// WithLocalStorage.
func (c *Cluster) HDFS() *hdfspeer.Peer { return c.peer }

// StorageDir returns high-availability.storageDir (hdfs:// or file://).
func (c *Cluster) StorageDir() string { return c.storage }

// Supervisor returns the session's supervisor, for what the handles do not cover.
func (c *Cluster) Supervisor() *supervisor.Supervisor { return c.sup }

// Status returns the application's state as `yarn-session status` shows it.
func (c *Cluster) Status() supervisor.Status { return c.sup.Status() }

// AttemptHistory returns the AM attempts that ended, with their exit kinds and
// whether they counted against the budget.
func (c *Cluster) AttemptHistory() attempts.History { return c.sup.Policy().History() }

// KillAM SIGKILLs the leading AM, as a crash would (it counts against the budget),
// and returns its PID. The supervisor starts the next attempt.
func (c *Cluster) KillAM() (int, error) { return c.sup.KillAM() }

// KillTaskManager SIGKILLs the i-th running TaskManager container (in order of
// container ID) and returns its PID. The AM asks for a replacement.
func (c *Cluster) KillTaskManager(i int) (int, error) {
	cs := c.sup.Status().Containers
	sort.Slice(cs, func(a, b int) bool { return cs[a].ID < cs[b].ID })
	if i < 0 || i >= len(cs) {
		return 0, fmt.Errorf("minicluster: no TaskManager %d (%d running)", i, len(cs))
	}
	return cs[i].PID, syscall.Kill(cs[i].PID, syscall.SIGKILL)
}

// Leader returns the REST address of the leading AM, or "" when none leads now,
// as the supervisor knows it: from the AMs' leadership reports.
func (c *Cluster) Leader() string {
	for _, am := range c.sup.Status().AMs {
		if am.Leading {
			return am.REST
		}
	}
	return ""
}

// WaitLeader waits until an AM leads and returns its REST address.
func (c *Cluster) WaitLeader(ctx context.Context) (string, error) {
	for {
		if rest := c.Leader(); rest != "" {
			return rest, nil
		}
		if err := wait(ctx); err != nil {
			return "", fmt.Errorf("minicluster: waiting for a leader: %w", err)
		}
	}
}

// Submit submits a job given as a YAML job spec to the leader, retrying while no
// AM leads, and returns the job's ID once the leader acknowledged it.
func (c *Cluster) Submit(ctx context.Context, specYAML string) (string, error) {
	spec, err := job.ParseSpec([]byte(specYAML), "spec.yaml")
	if err != nil {
		return "", err
	}
	g := job.Graph{ID: job.NewJobID(), Spec: spec}
	encoded, err := g.Encode()
	if err != nil {
		return "", err
	}
	sub := jobmanager.JobSubmission{JobID: string(g.ID), Name: spec.Name, Graph: encoded}
	for {
		rest, err := c.WaitLeader(ctx)
		if err != nil {
			return "", err
		}
		err = c.rest.Do(ctx, httpjson.Request{Method: http.MethodPost, URL: rest + "/jobs", Body: sub, Status: http.StatusAccepted}, nil)
		switch status := httpjson.StatusCode(err); {
		case err == nil:
			return string(g.ID), nil
		case status == http.StatusServiceUnavailable: // lost leadership: try the next leader
		case status != 0:
			return "", fmt.Errorf("minicluster: submit: %w", err)
		}
		if err := wait(ctx); err != nil {
			return "", fmt.Errorf("minicluster: submit: %w", err)
		}
	}
}

// Checkpoints returns the job's checkpoints as the current leader sees them: the
// latest completed one and the one it restored from (0 for none).
func (c *Cluster) Checkpoints(jobID string) (jobmanager.CheckpointInfo, error) {
	var info jobmanager.CheckpointInfo
	rest := c.Leader()
	if rest == "" {
		return info, errors.New("minicluster: no leading AM")
	}
	return info, c.getJSON(rest+"/jobs/"+jobID+"/checkpoints", &info)
}

// Output returns the committed output of a file sink (its `path` in the job
// spec), in order: what downstream readers would see.
func (c *Cluster) Output(ctx context.Context, sinkPath string) ([]int64, error) {
	return job.ReadCommitted(ctx, c.store, job.OutputDir(taskmanager.OutputRoot, sinkPath))
}

func (c *Cluster) getJSON(url string, v any) error {
	return c.rest.Get(context.Background(), url, v)
}

// logTails logs the end of the AM and container logs of a failed test.
func (c *Cluster) logTails() {
	st := c.sup.Status()
	logs := []string{st.AMLog}
	for _, cs := range st.Containers {
		logs = append(logs, cs.Log)
	}
	for _, f := range logs {
		if f == "" {
			continue
		}
		b, err := readTail(f, 4000)
		if err == nil {
			c.t.Logf("---- %s (tail) ----\n%s", f, b)
		}
	}
}

// wait waits one poll interval, or returns ctx's error.
func wait(ctx context.Context) error {
	t := time.NewTimer(pollInterval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
