package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/integration/multihost"
	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/netaddr/netaddrtest"
	"github.com/amkeeper/amkeeper/internal/procid"
	"github.com/amkeeper/amkeeper/internal/sessionctl"
	"github.com/amkeeper/amkeeper/internal/zkserver"
	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/supervisor"
	"github.com/amkeeper/amkeeper/taskmanager"
)

// standalone is the second seed's standalone HA cluster on one machine: each
// "host" is a loopback address of its own (127.0.0.2, 127.0.0.3, …), which
// yarn-session treats as another machine (it is not assigned to an
// interface), so start-cluster reaches it through the ssh command — here
// testdata/ssh-runner.sh, which records each call and runs the command here.
type standalone struct {
	t                        *testing.T
	home, confDir, sshLog    string
	secret, storage, cluster string
	ha                       []string // -D args for followLeader
	env                      []string
}

func newStandalone(t *testing.T, masters, workers []string) *standalone {
	return newStandaloneOn(t, zkc.ConnectString(), zkc.Root(t), masters, workers)
}

// newStandaloneOn is newStandalone against the ZooKeeper quorum under root,
// with the extra flink-conf.yaml lines ("key: value").
func newStandaloneOn(t *testing.T, quorum, root string, masters, workers []string, extra ...string) *standalone {
	s := &standalone{t: t, home: t.TempDir(), confDir: t.TempDir(), cluster: "cluster_one"}
	s.sshLog = filepath.Join(t.TempDir(), "ssh.log")
	s.secret = filepath.Join(t.TempDir(), "cluster.secret")
	s.storage = "file://" + t.TempDir()
	_, err := appsecret.Create(s.secret)
	require.NoError(t, err)
	runner, err := filepath.Abs(filepath.Join("testdata", "ssh-runner.sh"))
	require.NoError(t, err)
	c := multihost.Conf{
		Quorum: quorum, Root: root, ClusterID: s.cluster, Storage: s.storage, SecretFile: s.secret,
		SessionTimeout: 2 * time.Second, Masters: masters, Workers: workers,
		ZooCfg: "tickTime=1000\nserver.1=127.0.0.1:2888:3888\n",
		Extra:  append([]string{"amkeeper.ssh.command: " + runner, "env.ssh.opts: -o BatchMode=yes"}, extra...),
	}
	s.ha = sessionctl.DynamicArgs(c.Dynamic())
	require.NoError(t, c.Write(s.confDir))
	s.env = append(os.Environ(), "AMKEEPER_HOME="+s.home, "TMPDIR="+t.TempDir(), "SSH_RUNNER_LOG="+s.sshLog)
	t.Cleanup(s.cleanup)
	return s
}

// run runs yarn-session with the cluster's configuration directory; it returns
// stdout alone (the output the seed shows) and the error.
func (s *standalone) run(args ...string) (string, error) {
	s.t.Helper()
	out, _, err := s.run2(args...)
	return out, err
}

// run2 is run returning stderr too.
func (s *standalone) run2(args ...string) (stdout, stderr string, err error) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--conf-dir", s.confDir}, args...)...)
	cmd.Env = s.env
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	s.t.Logf("yarn-session %s:\n%s%s", strings.Join(args, " "), out.String(), errOut.String())
	return out.String(), errOut.String(), err
}

// cleanup stops whatever a failed test left running: every process whose
// command line names the cluster's home (supervisors, keepers, AMs,
// TaskManagers all carry a directory under it).
func (s *standalone) cleanup() {
	if s.t.Failed() {
		logs, _ := filepath.Glob(filepath.Join(s.home, "daemons", "*", "*.log"))
		more, _ := filepath.Glob(filepath.Join(s.home, "daemons", "*", "attempts", "*", "*.log"))
		for _, f := range append(logs, more...) {
			b, _ := os.ReadFile(f)
			s.t.Logf("---- %s (the failover's events, then the tail) ----\n%s", f, failoverEvents(b, 60))
			if len(b) > 3000 {
				b = b[len(b)-3000:]
			}
			s.t.Logf("---- %s (tail) ----\n%s", f, b)
		}
	}
	for _, pid := range processes(func(cmdline string) bool { return strings.Contains(cmdline, s.home) }) {
		s.t.Logf("killing %d, left running", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// failoverEvents picks from a daemon's log the lines that tell a failover's story
// (warnings, errors, leadership, adoption, restores, deployments), at most limit,
// so a failed test shows why even when its log's tail is all checkpoints.
func failoverEvents(log []byte, limit int) string {
	words := regexp.MustCompile(`"message":"[^"]*(?i:adopt|restor|deploy|leader|lost|fail|grant|revok|cancel|refused)`)
	var b strings.Builder
	n := 0
	for line := range strings.Lines(string(log)) {
		if !strings.Contains(line, `"level":"warn"`) && !strings.Contains(line, `"level":"error"`) &&
			!words.MatchString(line) {
			continue
		}
		if n++; n > limit {
			fmt.Fprintf(&b, "… more than %d such lines\n", limit)
			break
		}
		b.WriteString(line)
	}
	return b.String()
}

// daemonDir is the directory of the daemon of kind on host (n: its number).
func (s *standalone) daemonDir(kind, host string, n int) string {
	return multihost.DaemonDir(s.home, s.cluster, kind, host, n)
}

// daemonPID is the PID recorded for the daemon in dir.
func (s *standalone) daemonPID(dir string) procid.Identity {
	b, err := os.ReadFile(filepath.Join(dir, "daemon.json"))
	require.NoError(s.t, err)
	var rec struct {
		Process procid.Identity `json:"process"`
	}
	require.NoError(s.t, json.Unmarshal(b, &rec))
	return rec.Process
}

func hostOf(t *testing.T, address string) string {
	u, err := url.Parse(address)
	require.NoError(t, err)
	return u.Hostname()
}

// TestStandaloneClusterAcrossHosts is the second seed's standalone HA cluster:
// start-cluster starts two masters (127.0.0.2, 127.0.0.3) and a TaskManager
// (127.0.0.4), each over the ssh command; the counting job runs; the leading
// master's AM is SIGKILLed: the other master leads, the same TaskManager
// process registers with it and the job goes on; stop-cluster stops all of it,
// and the committed output is exact.
func TestStandaloneClusterAcrossHosts(t *testing.T) {
	s := newStandalone(t, []string{"127.0.0.2", "127.0.0.3"}, []string{"127.0.0.4"})
	out, err := s.run("start-cluster")
	require.NoError(t, err)
	require.Equal(t, "Starting HA cluster with 2 masters and 1 peers in ZooKeeper quorum.\n"+
		"Starting jobmanager daemon on host 127.0.0.2.\n"+
		"Starting jobmanager daemon on host 127.0.0.3.\n"+
		"Starting taskmanager daemon on host 127.0.0.4.\n", out)
	calls, err := os.ReadFile(s.sshLog)
	require.NoError(t, err)
	pre := " -- " + bin + " --conf-dir " + s.confDir + " "
	require.Equal(t, "-n -o BatchMode=yes 127.0.0.2"+pre+"jobmanager start --host 127.0.0.2\n"+
		"-n -o BatchMode=yes 127.0.0.3"+pre+"jobmanager start --host 127.0.0.3\n"+
		"-n -o BatchMode=yes 127.0.0.4"+pre+"taskmanager start --host 127.0.0.4\n", string(calls),
		"every host reached through the ssh command with env.ssh.opts")

	leader := followLeader(t, s.ha, recovery.RestServer)
	var first recovery.LeaderInfo
	var tms map[string]int
	require.Eventually(t, func() bool {
		first = leader()
		tms = registeredPIDs(first)
		return first.Known() && len(tms) == 1
	}, 60*time.Second, 20*time.Millisecond, "a master leads and the TaskManager daemon registers with it")
	leadHost := hostOf(t, first.Address)
	require.Contains(t, []string{"127.0.0.2", "127.0.0.3"}, leadHost, "the leader advertises its host's address")
	var tmContainer string
	var tmPID int
	for id, pid := range tms {
		tmContainer, tmPID = id, pid
	}

	secret, err := appsecret.Load(s.secret)
	require.NoError(t, err)
	sub, err := sessionctl.NewSubmission([]byte(fastCounting), "counting.yaml")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, sessionctl.Submit(ctx, secret, nil, first.Address, sub))
	checkpointed := func(rest string, after int64) bool {
		var info jobmanager.CheckpointInfo
		return getJSON(rest+"/jobs/"+sub.JobID+"/checkpoints", &info) == nil && info.LatestID() > after
	}
	require.Eventually(t, func() bool { return checkpointed(first.Address, 2) }, 60*time.Second, 20*time.Millisecond,
		"the job checkpoints on the TaskManager daemon")

	// SIGKILL the leading master's AM, as a crash would.
	leadDir := s.daemonDir("jobmanager", leadHost, 0)
	st, err := supervisor.NewControlClient(leadDir).Status(context.Background())
	require.NoError(t, err)
	require.Len(t, st.AMs, 1, "a master daemon runs one AM")
	killed := st.AMs[0].PID
	require.NoError(t, syscall.Kill(killed, syscall.SIGKILL))

	var next recovery.LeaderInfo
	require.Eventually(t, func() bool {
		next = leader()
		return next.Known() && next.SessionID != first.SessionID
	}, 30*time.Second, 20*time.Millisecond, "another master leads")
	otherHost := map[string]string{"127.0.0.2": "127.0.0.3", "127.0.0.3": "127.0.0.2"}[leadHost]
	require.Equal(t, otherHost, hostOf(t, next.Address), "the master on the other host leads")
	require.Eventually(t, func() bool {
		return assert.ObjectsAreEqual(map[string]int{tmContainer: tmPID}, registeredPIDs(next))
	}, 30*time.Second, 20*time.Millisecond, "the same TaskManager process registers with the new leader")
	var info jobmanager.CheckpointInfo
	require.Eventually(t, func() bool {
		// The TaskManager kept the job's task running: the new leader adopts it
		// (issue 18).
		return getJSON(next.Address+"/jobs/"+sub.JobID+"/checkpoints", &info) == nil && info.Adopted &&
			info.LatestID() > info.RestoredFrom+2
	}, 60*time.Second, 20*time.Millisecond, "the job is adopted and checkpoints under the new leader")
	// The killed master's supervisor restarts its AM, a standby now.
	require.Eventually(t, func() bool {
		st, err := supervisor.NewControlClient(leadDir).Status(context.Background())
		return err == nil && st.Attempt == 2 && len(st.AMs) == 1 && st.AMs[0].PID != killed && alive(st.AMs[0].PID)
	}, 30*time.Second, 20*time.Millisecond, "the killed master's supervisor runs a new AM attempt")

	masters := map[string]procid.Identity{}
	for _, h := range []string{"127.0.0.2", "127.0.0.3"} {
		masters[h] = s.daemonPID(s.daemonDir("jobmanager", h, 0))
	}
	tmDaemon := s.daemonPID(s.daemonDir("taskmanager", "127.0.0.4", 1))
	out, err = s.run("stop-cluster")
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("Stopping taskmanager daemon (pid: %d) on 127.0.0.4.\n"+
		"Stopping jobmanager daemon (pid: %d) on host 127.0.0.2.\n"+
		"Stopping jobmanager daemon (pid: %d) on host 127.0.0.3.\n",
		tmDaemon.PID, masters["127.0.0.2"].PID, masters["127.0.0.3"].PID), out)
	for _, id := range []procid.Identity{tmDaemon, masters["127.0.0.2"], masters["127.0.0.3"]} {
		require.ErrorIs(t, procid.Verify(id), procid.ErrNotRunning, "%v stopped", id)
	}
	require.Empty(t, processes(func(cmdline string) bool { return strings.Contains(cmdline, s.home) }),
		"no AM, TaskManager, supervisor or keeper of the cluster runs after stop-cluster")
	require.False(t, alive(tmPID), "the TaskManager process stopped")

	store, err := hdfsstore.Open(context.Background(), s.storage)
	require.NoError(t, err)
	defer store.Close()
	got, err := job.ReadCommittedJob(context.Background(), store, job.OutputDir(taskmanager.OutputRoot, "counts"), job.JobID(sub.JobID))
	require.NoError(t, err)
	t.Logf("committed %d windows across a master failover: %v…", len(got), got[:min(5, len(got))])
	requireExactCounts(t, got, 3)
}

// TestTaskManagerDaemonWithAnotherSecretIsRefused: a TaskManager daemon whose
// secret file holds another secret never gets into the cluster (its signed
// registrations are refused), one with the cluster's secret that is SIGKILLed
// is restarted by its keeper and registers again, and one whose secret file
// others may read does not start.
func TestTaskManagerDaemonWithAnotherSecretIsRefused(t *testing.T) {
	s := newStandalone(t, []string{"127.0.0.2"}, []string{"127.0.0.4"})
	out, err := s.run("jobmanager", "start", "--host", "127.0.0.2")
	require.NoError(t, err)
	require.Equal(t, "Starting jobmanager daemon on host 127.0.0.2.\n", out)
	master := s.daemonPID(s.daemonDir("jobmanager", "127.0.0.2", 0))
	out, errOut, err := s.run2("jobmanager", "start", "--host", "127.0.0.2")
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 1, ee.ExitCode())
	require.Empty(t, out)
	require.Contains(t, errOut, fmt.Sprintf("jobmanager start: a jobmanager daemon (pid: %d) runs on host 127.0.0.2 already", master.PID))
	require.Equal(t, master, s.daemonPID(s.daemonDir("jobmanager", "127.0.0.2", 0)), "the running master is left alone")
	out, err = s.run("taskmanager", "start", "--host", "127.0.0.4")
	require.NoError(t, err)
	require.Equal(t, "Starting taskmanager daemon on host 127.0.0.4.\n", out)

	other := filepath.Join(t.TempDir(), "other.secret")
	_, err = appsecret.Create(other)
	require.NoError(t, err)
	out, err = s.run("--log-level", "debug", "taskmanager", "start", "--host", "127.0.0.5", "-D", "amkeeper.secret.file="+other)
	require.NoError(t, err)
	require.Equal(t, "Starting taskmanager daemon on host 127.0.0.5.\n", out)

	leader := followLeader(t, s.ha, recovery.RestServer)
	var good map[string]int
	require.Eventually(t, func() bool {
		good = registeredPIDs(leader())
		return len(good) == 1
	}, 60*time.Second, 20*time.Millisecond, "the TaskManager with the cluster's secret registers")
	badLog := filepath.Join(s.daemonDir("taskmanager", "127.0.0.5", 1), "taskmanager.log")
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(badLog)
		return strings.Count(string(b), "registration refused or failed") >= 3 && strings.Contains(string(b), "401")
	}, 30*time.Second, 20*time.Millisecond, "the TaskManager with another secret is refused (401), again and again")
	require.Equal(t, good, registeredPIDs(leader()), "only the TaskManager with the cluster's secret is registered")

	// The good TaskManager dies: its keeper starts it again, and the new process
	// registers under the same container ID.
	var container string
	var pid int
	for c, p := range good {
		container, pid = c, p
	}
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	require.Eventually(t, func() bool {
		now := registeredPIDs(leader())
		return len(now) == 1 && now[container] != 0 && now[container] != pid && alive(now[container])
	}, 60*time.Second, 20*time.Millisecond, "the TaskManager daemon's keeper restarts it and it registers again")

	// A secret file others may read is refused before anything starts.
	require.NoError(t, os.Chmod(other, 0o644))
	out, errOut, err = s.run2("taskmanager", "start", "--host", "127.0.0.6", "-D", "amkeeper.secret.file="+other)
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 3, ee.ExitCode())
	require.Empty(t, out)
	require.Contains(t, errOut, "taskmanager start: amkeeper.secret.file: appsecret: invalid secret file: "+other+" has mode 0644, want 0600")
	_, err = os.Stat(s.daemonDir("taskmanager", "127.0.0.6", 1))
	require.ErrorIs(t, err, os.ErrNotExist, "nothing started")

	out, err = s.run("taskmanager", "stop")
	require.NoError(t, err)
	require.Len(t, strings.Split(strings.TrimSpace(out), "\n"), 2, "both TaskManager daemons stopped")
	out, err = s.run("jobmanager", "stop")
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("Stopping jobmanager daemon (pid: %d) on host 127.0.0.2.\n",
		s.daemonPID(s.daemonDir("jobmanager", "127.0.0.2", 0)).PID), out)
}

// TestZooKeeperQuorumAcrossHosts is start-zookeeper-quorum.sh and
// stop-zookeeper-quorum.sh: zoo.cfg puts server.1 on this machine and
// server.2 and server.3 on two other hosts (127.0.0.2, 127.0.0.3), which
// `zookeeper start` reaches through the ssh command; the three form one
// ensemble, and `zookeeper stop` stops each on its host.
func TestZooKeeperQuorumAcrossHosts(t *testing.T) {
	s := newStandalone(t, []string{"127.0.0.2"}, []string{"127.0.0.4"})
	runDir := filepath.Join(t.TempDir(), "zk")
	var cfg strings.Builder
	cfg.WriteString("tickTime=500\ninitLimit=10\nsyncLimit=5\n")
	var client []string
	ports := netaddrtest.FreePorts(t, 9)
	for i, host := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		port := ports[3*i]
		client = append(client, fmt.Sprintf("127.0.0.1:%d", port))
		fmt.Fprintf(&cfg, "server.%d=%s:%d:%d;%d\n", i+1, host, ports[3*i+1], ports[3*i+2], port)
	}
	zooCfg := filepath.Join(s.confDir, "zoo.cfg")
	require.NoError(t, os.WriteFile(zooCfg, []byte(cfg.String()), 0o600))
	t.Cleanup(func() { _, _ = s.run("zookeeper", "stop", "--run-dir", runDir) })

	out, err := s.run("zookeeper", "start", "--run-dir", runDir)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 5, out)
	require.Equal(t, []string{"Starting zookeeper daemon on host 127.0.0.1.", "Starting zookeeper daemon on host 127.0.0.2.",
		"Starting zookeeper daemon on host 127.0.0.3."}, lines[:3])
	require.Regexp(t, `^Started zookeeper server\.1 on `+client[0]+` \(pid [0-9]+, log .*\)\.$`, lines[3])
	require.Equal(t, strings.Join(client, ","), lines[4], "the connect string of the whole ensemble")
	calls, err := os.ReadFile(s.sshLog)
	require.NoError(t, err)
	pre := " -- " + bin + " --conf-dir " + s.confDir + " zookeeper start --server-id "
	require.ElementsMatch(t, []string{
		"-n -o BatchMode=yes 127.0.0.2" + pre + "2 --zoo-cfg " + zooCfg + " --run-dir " + runDir,
		"-n -o BatchMode=yes 127.0.0.3" + pre + "3 --zoo-cfg " + zooCfg + " --run-dir " + runDir,
	}, strings.Split(strings.TrimSpace(string(calls)), "\n"), "the other hosts' servers started over ssh, at the same time")

	modes := map[string]int{}
	for _, addr := range client {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		mode, err := zkserver.Mode(ctx, addr)
		cancel()
		require.NoError(t, err, addr)
		modes[mode]++
	}
	require.Equal(t, map[string]int{"leader": 1, "follower": 2}, modes, "one ensemble of three")

	var pids []int
	for i := 1; i <= 3; i++ {
		b, err := os.ReadFile(filepath.Join(runDir, fmt.Sprintf("server-%d", i), "zookeeper.pid"))
		require.NoError(t, err)
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		require.NoError(t, err)
		pids = append(pids, pid)
	}
	require.NoError(t, os.Truncate(s.sshLog, 0))
	out, err = s.run("zookeeper", "stop", "--run-dir", runDir)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("Stopping zookeeper daemon (pid: %d) on host 127.0.0.1.\n"+
		"Stopping zookeeper daemon (pid: %d) on host 127.0.0.2.\n"+
		"Stopping zookeeper daemon (pid: %d) on host 127.0.0.3.\n", pids[0], pids[1], pids[2]), out)
	calls, err = os.ReadFile(s.sshLog)
	require.NoError(t, err)
	require.Equal(t, "-n -o BatchMode=yes 127.0.0.2 -- "+bin+" --conf-dir "+s.confDir+" zookeeper stop --server-id 2 --run-dir "+runDir+"\n"+
		"-n -o BatchMode=yes 127.0.0.3 -- "+bin+" --conf-dir "+s.confDir+" zookeeper stop --server-id 3 --run-dir "+runDir+"\n", string(calls))
	for _, pid := range pids {
		require.False(t, alive(pid), "server pid %d stopped", pid)
	}
}

// TestAMasterThatEndsLeavesTheClusterToTheOther: of two masters with no job,
// the leader's restart budget is one attempt; its AM is SIGKILLed, so its
// supervisor gives up — an end that, for a session whose jobs are all terminal,
// removes the cluster's HA data. A master's must not: the other master leads on
// over the same data. `jobmanager stop` then stops the other, keeping it too.
func TestAMasterThatEndsLeavesTheClusterToTheOther(t *testing.T) {
	s := newStandalone(t, []string{"127.0.0.2", "127.0.0.3"}, []string{"127.0.0.4"})
	leader := followLeader(t, s.ha, recovery.RestServer)
	_, err := s.run("jobmanager", "start", "--host", "127.0.0.2",
		"-D", "yarn.application-attempts=1", "-D", "yarn.resourcemanager.am.max-attempts=1")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return leader().Known() }, 60*time.Second, 20*time.Millisecond, "the first master leads")
	first := leader()
	require.Equal(t, "127.0.0.2", hostOf(t, first.Address))
	_, err = s.run("jobmanager", "start", "--host", "127.0.0.3")
	require.NoError(t, err)
	other := s.daemonPID(s.daemonDir("jobmanager", "127.0.0.3", 0))
	dir := s.daemonDir("jobmanager", "127.0.0.2", 0)
	st, err := supervisor.NewControlClient(dir).Status(context.Background())
	require.NoError(t, err)
	require.Len(t, st.AMs, 1)
	require.NoError(t, syscall.Kill(st.AMs[0].PID, syscall.SIGKILL))

	type endedRecord struct {
		FinalStatus string `json:"finalStatus"`
		HARemoved   bool   `json:"haRemoved"`
	}
	endOf := func(dir string) (endedRecord, bool) {
		var e endedRecord
		b, err := os.ReadFile(filepath.Join(dir, "ended.json"))
		return e, err == nil && json.Unmarshal(b, &e) == nil
	}
	var e endedRecord
	require.Eventually(t, func() bool {
		var ok bool
		e, ok = endOf(dir)
		return ok
	}, 60*time.Second, 20*time.Millisecond, "the master whose budget is spent ends")
	require.Equal(t, endedRecord{FinalStatus: "FAILED", HARemoved: false}, e, "a master's end keeps the cluster's HA data")

	var next recovery.LeaderInfo
	require.Eventually(t, func() bool {
		next = leader()
		return next.Known() && next.SessionID != first.SessionID
	}, 30*time.Second, 20*time.Millisecond, "the other master leads")
	require.Equal(t, "127.0.0.3", hostOf(t, next.Address))
	// It keeps leading: its grant was not taken away by a removal of the data.
	require.Never(t, func() bool { return leader().SessionID != next.SessionID }, 2*time.Second, 20*time.Millisecond)
	var o jobmanager.Overview
	require.NoError(t, getJSON(next.Address+"/overview", &o))
	require.True(t, o.Leader, "it serves as the leader")

	out, err := s.run("jobmanager", "stop")
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("Stopping jobmanager daemon (pid: %d) on host 127.0.0.3.\n", other.PID), out)
	e, ok := endOf(s.daemonDir("jobmanager", "127.0.0.3", 0))
	require.True(t, ok)
	require.Equal(t, endedRecord{FinalStatus: "STOPPED", HARemoved: false}, e)
}
