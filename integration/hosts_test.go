package integration_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/integration/netns"
	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/supervisor"
)

// hostsSessionTimeout is the ZooKeeper session timeout of the cross-host
// sessions; the server's tickTime is zktest's 500 ms, so it is granted as asked.
const hostsSessionTimeout = 2 * time.Second

// TestSessionAcrossHosts: ZooKeeper runs on host z, a session on host a (its
// AM and TaskManager bind a's address and publish it, never loopback), and a
// client on host c submits the counting job through the published REST address
// and reads it back. Then a's cable is pulled: a's AM loses its leadership in
// ZooKeeper within the session timeout; plugged back, the same AM process leads
// again and the job goes on with exact windows.
func TestSessionAcrossHosts(t *testing.T) {
	bed := netns.New(t, "z", "a", "c")
	z, a, c := bed.Host("z"), bed.Host("a"), bed.Host("c")
	zk := zktest.Start(t, zktest.WithHosts(z))
	require.True(t, strings.HasPrefix(zk.ConnectString(), z.Address()+":"), "ZooKeeper is on host z: %s", zk.ConnectString())
	s := startHostSession(t, zk, a, "jobmanager.rpc.address="+a.Address(), "rest.address="+a.Address(), "taskmanager.host="+a.Address())
	cl, id, root, rm, rest := s.cl, s.id, s.root, s.rm, s.rest

	// What the session publishes in ZooKeeper (read from this machine, across
	// the bridge): a's address, with the ports bound there.
	onA := regexp.MustCompile(`^http://` + regexp.QuoteMeta(a.Address()) + `:\d+$`)
	first := rm()
	require.Regexp(t, onA, first.Address, "the RPC endpoint published: jobmanager.rpc.address")
	require.Regexp(t, onA, rest().Address, "the REST endpoint published: rest.address")
	require.NotEqual(t, first.Address, rest().Address, "RPC and REST are separate endpoints")
	var tms struct {
		TaskManagers []jobmanager.TaskManagerInfo `json:"taskmanagers"`
	}
	require.Eventually(t, func() bool {
		return getJSON(rest().Address+"/taskmanagers", &tms) == nil && len(tms.TaskManagers) == 1
	}, 60*time.Second, 20*time.Millisecond, "the TaskManager registers")
	require.Regexp(t, onA, tms.TaskManagers[0].Address, "the TaskManager publishes taskmanager.host")

	// Every socket listening on host a is on a's address: nothing on loopback
	// or every interface that the keys did not ask for.
	ss, err := a.Command(context.Background(), "ss", "-Hltn").CombinedOutput()
	require.NoError(t, err, "%s", ss)
	listeners := strings.Split(strings.TrimSpace(string(ss)), "\n")
	require.Len(t, listeners, 3, "the AM's REST and RPC endpoints and the TaskManager's: %s", ss)
	for _, l := range listeners {
		require.Equal(t, a.Address(), strings.Split(strings.Fields(l)[3], ":")[0], "listener %q", l)
	}

	// The client on host c submits through the published REST address.
	spec := filepath.Join(t.TempDir(), "counting.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(fastCounting), 0o600))
	out, err := cl.runOn(c, "", "run", "-id", id, spec)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	jobID := lines[len(lines)-1]
	require.Equal(t, fmt.Sprintf("Job %s (counting) submitted.", jobID), lines[len(lines)-2])
	require.Eventually(t, func() bool {
		out, err := cl.runOn(c, "", "list", "-id", id)
		return err == nil && regexp.MustCompile(jobID+`\s+counting\s+RUNNING`).MatchString(out)
	}, 30*time.Second, 100*time.Millisecond, "host c lists the job running")
	store, err := hdfsstore.Open(context.Background(), cl.haValue("high-availability.storageDir"))
	require.NoError(t, err)
	defer store.Close()
	require.Eventually(t, func() bool { return len(committed(t, store, "counts")) >= 3 }, 60*time.Second, 20*time.Millisecond,
		"the job commits windows")

	// a's cable pulled: its AM's session expires in ZooKeeper; the leader
	// information it published goes with it.
	conn := zk.Conn(t)
	info := root + "/application_1_0001/leader/" + recovery.ResourceManager + "/connection_info"
	ok, _, err := conn.Exists(info)
	require.NoError(t, err)
	require.True(t, ok, info)
	sessionStatus := supervisor.NewControlClient(appDirFor(cl, id))
	before, err := sessionStatus.Status(context.Background())
	require.NoError(t, err)
	down := time.Now()
	require.NoError(t, a.LinkDown())
	var lost time.Duration
	require.Eventually(t, func() bool {
		ok, _, err := conn.Exists(info)
		lost = time.Since(down)
		return err == nil && !ok
	}, 3*hostsSessionTimeout, 10*time.Millisecond, "the partitioned AM's leadership is removed from ZooKeeper")
	t.Logf("host a's link down → its leader information gone from ZooKeeper after %v (session timeout %v, tick %v)",
		lost, hostsSessionTimeout, zk.TickTime())
	require.LessOrEqual(t, lost, hostsSessionTimeout+2*zk.TickTime(), "within the session timeout (and the server's tick)")
	windows := len(committed(t, store, "counts"))

	// Plugged back: a leads again (a new leader session), and the job runs on.
	up := time.Now()
	require.NoError(t, a.LinkUp())
	require.Eventually(t, func() bool {
		i := rm()
		return i.Known() && i.SessionID != first.SessionID
	}, 60*time.Second, 20*time.Millisecond, "a leads again under a new leader session")
	t.Logf("host a's link up → a leader published again after %v", time.Since(up))
	require.Regexp(t, onA, rm().Address)
	require.Eventually(t, func() bool { return len(committed(t, store, "counts")) >= windows+3 }, 60*time.Second, 20*time.Millisecond,
		"the job runs on after the link is back")
	t.Logf("host a's link up → 3 more windows committed after %v", time.Since(up))

	out, err = cl.runOn(c, "", "list", "-id", id)
	require.NoError(t, err)
	require.Regexp(t, jobID+`\s+counting\s+RUNNING`, out)
	after, err := sessionStatus.Status(context.Background())
	require.NoError(t, err)
	require.Equal(t, before.AMPID, after.AMPID, "the same AM process leads again: a lost connection is not a failed attempt")
	require.Equal(t, 1, after.Attempt)
	require.Equal(t, before.Containers, after.Containers, "the same TaskManager")
	_, err = cl.runOn(a, "", "stop", "-id", id)
	require.NoError(t, err)
	requireExactCounts(t, committed(t, store, "counts"), windows+3)
}

// TestSessionPortsAndWildcardTaskManagerOnAHost: on host a, the AM's RPC
// endpoint takes the first port of the seed's high-availability.jobmanager.port
// list and REST the first of rest.bind-port, both published with a's address;
// a TaskManager bound to every interface (taskmanager.bind-host 0.0.0.0, no
// taskmanager.host) publishes the address of its route to the leader — a's,
// not the wildcard and not loopback.
func TestSessionPortsAndWildcardTaskManagerOnAHost(t *testing.T) {
	bed := netns.New(t, "z", "a")
	z, a := bed.Host("z"), bed.Host("a")
	zk := zktest.Start(t, zktest.WithHosts(z))
	s := startHostSession(t, zk, a, "jobmanager.rpc.address="+a.Address(), "rest.address="+a.Address(),
		"high-availability.jobmanager.port=50010,50011,50020-50025", "rest.bind-port=50100-50200",
		"taskmanager.bind-host=0.0.0.0")
	require.Equal(t, "http://"+a.Address()+":50010", s.rm().Address)
	require.Equal(t, "http://"+a.Address()+":50100", s.rest().Address)
	var tms struct {
		TaskManagers []jobmanager.TaskManagerInfo `json:"taskmanagers"`
	}
	require.Eventually(t, func() bool {
		return getJSON(s.rest().Address+"/taskmanagers", &tms) == nil && len(tms.TaskManagers) == 1
	}, 60*time.Second, 20*time.Millisecond, "the TaskManager registers")
	published := tms.TaskManagers[0].Address
	require.Regexp(t, `^http://`+regexp.QuoteMeta(a.Address())+`:\d+$`, published, "the route to the leader's address")
	ss, err := a.Command(context.Background(), "ss", "-Hltn").CombinedOutput()
	require.NoError(t, err, "%s", ss)
	port := published[strings.LastIndexByte(published, ':')+1:]
	// Go binds 0.0.0.0 as a dual-stack wildcard, which ss shows as *.
	require.Contains(t, strings.Fields(string(ss)), "*:"+port, "the TaskManager binds every interface, as its key says: %s", ss)
}

// hostSession is a detached session started on a host of the bed.
type hostSession struct {
	cl       *cli
	id, root string
	rm, rest func() recovery.LeaderInfo // the published leaders, as ZooKeeper has them
}

// startHostSession starts a session with one TaskManager on host, against zk,
// with the extra properties, and waits until its leader is published.
func startHostSession(t *testing.T, zk *zktest.Cluster, host *netns.Host, props ...string) hostSession {
	s := hostSession{cl: newCLI(t), root: zk.Root(t)}
	s.cl.ha = nil
	for _, p := range append([]string{
		"high-availability.type=zookeeper",
		"high-availability.zookeeper.quorum=" + zk.ConnectString(),
		"high-availability.zookeeper.path.root=" + s.root,
		"high-availability.cluster-id=application_1_0001",
		"high-availability.storageDir=file://" + t.TempDir(),
		"high-availability.zookeeper.client.session-timeout=" + hostsSessionTimeout.String(),
		"heartbeat.interval=100 ms",
		"rest.port=0",
		"yarn.application-attempts=10", "yarn.resourcemanager.am.max-attempts=10",
	}, props...) {
		s.cl.ha = append(s.cl.ha, "-D", p)
	}
	out, err := s.cl.runOn(host, "", append([]string{"-n", "1", "-d"}, s.cl.ha...)...)
	require.NoError(t, err)
	s.id = appIDPattern.FindString(out)
	require.NotEmpty(t, s.id)
	t.Cleanup(func() { dumpLogs(t, appDirFor(s.cl, s.id)) })
	s.rm = followLeader(t, s.cl.ha, recovery.ResourceManager)
	s.rest = followLeader(t, s.cl.ha, recovery.RestServer)
	require.Eventually(t, func() bool { return s.rm().Known() && s.rest().Known() }, 60*time.Second, 20*time.Millisecond, "a leader publishes")
	return s
}
