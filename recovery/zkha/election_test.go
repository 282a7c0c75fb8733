package zkha_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/recoverytest"
	"github.com/amkeeper/amkeeper/recovery/zkha"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

func newClient(t *testing.T, c *zktest.Cluster, root string, sessionTimeout time.Duration, mod ...func(*zkclient.Config)) *zkclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := zkclient.Config{
		Servers: c.Addrs(), Root: root, SessionTimeout: sessionTimeout,
		ConnectionTimeout: 5 * time.Second, RetryWait: 50 * time.Millisecond, MaxRetries: 3,
		Logger: logging.ForTest(t),
	}
	for _, f := range mod {
		f(&cfg)
	}
	cl, err := zkclient.Connect(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	return cl
}

// contender runs an election in the background and exposes its grants.
type contender struct {
	el     *zkha.Election
	grants chan recovery.Grant
	cancel context.CancelFunc
	done   chan struct{}
}

func startContender(t *testing.T, cl *zkclient.Client, name string, tolerate bool) *contender {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &contender{
		el:     zkha.NewElection(zkha.ElectionConfig{Client: cl, TolerateSuspended: tolerate, Logger: logging.ForTest(t).With().Str("who", name).Logger()}),
		grants: make(chan recovery.Grant, 8),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go func() {
		defer close(c.done)
		_ = c.el.Run(ctx, func(l recovery.Grant) {
			if err := l.Confirm(l.Context(), recovery.Dispatcher, name); err != nil && l.Err() == nil {
				t.Errorf("%s: confirm: %v", name, err)
			}
			c.grants <- l
			<-l.Done()
		})
	}()
	t.Cleanup(func() { c.stop(t) })
	return c
}

func (c *contender) stop(t *testing.T) {
	c.cancel()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Errorf("election Run did not return after cancel")
	}
}

func waitGrant(t *testing.T, c *contender, within time.Duration) recovery.Grant {
	t.Helper()
	select {
	case l := <-c.grants:
		return l
	case <-time.After(within):
		t.Fatalf("no leadership within %s", within)
		return nil
	}
}

// startRetriever follows the dispatcher's leader through a backend on cl.
func startRetriever(t *testing.T, cl *zkclient.Client, tolerate bool) *recoverytest.Leaders {
	return recoverytest.Follow(t, zkha.NewBackend(cl, uuid.Nil, tolerate, logging.ForTest(t)), recovery.Dispatcher)
}

func requireLeader(t *testing.T, r *recoverytest.Leaders, want func(recovery.LeaderInfo) bool, msg string) {
	t.Helper()
	recoverytest.RequireLeader(t, r, want, msg)
}

func TestElectionGrantConfirmRetrieveRevoke(t *testing.T) {
	root := zkc.Root(t)
	cl := newClient(t, zkc, root, 4*time.Second)
	r := startRetriever(t, newClient(t, zkc, root, 4*time.Second), false)
	requireLeader(t, r, func(i recovery.LeaderInfo) bool { return !i.Known() }, "no leader before the election")

	c := startContender(t, cl, "am-1:8081", false)
	l := waitGrant(t, c, 10*time.Second)
	require.True(t, c.el.HasLeadership(l.SessionID()))
	require.False(t, c.el.HasLeadership(uuid.New()))
	requireLeader(t, r, func(i recovery.LeaderInfo) bool {
		return i.Address == "am-1:8081" && i.SessionID == l.SessionID()
	}, "retrieval sees the confirmed leader with its session ID")

	// connection_info is ephemeral and owned by the leader's session.
	raw := zkc.Conn(t)
	_, st, err := raw.Get(root + zkha.ConnectionInfoPath(recovery.Dispatcher))
	require.NoError(t, err)
	require.Equal(t, cl.Session().ID, st.EphemeralOwner)

	// Someone overwrites it: the leader writes it back.
	_, err = raw.Set(root+zkha.ConnectionInfoPath(recovery.Dispatcher), []byte(`{"address":"evil"}`), -1)
	require.NoError(t, err)
	requireLeader(t, r, func(i recovery.LeaderInfo) bool { return i.SessionID == l.SessionID() }, "stale connection info rewritten")

	// Confirming a new address replaces the old one, and the new one is what is
	// restored after an overwrite.
	require.NoError(t, l.Confirm(context.Background(), recovery.Dispatcher, "am-1:9090"))
	requireLeader(t, r, func(i recovery.LeaderInfo) bool { return i.Address == "am-1:9090" }, "new address published")
	_, err = raw.Set(root+zkha.ConnectionInfoPath(recovery.Dispatcher), []byte(`{"address":"evil"}`), -1)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		b, _, err := raw.Get(root + zkha.ConnectionInfoPath(recovery.Dispatcher))
		return err == nil && strings.Contains(string(b), "am-1:9090")
	}, 10*time.Second, 5*time.Millisecond, "the latest confirmed address is restored")

	c.stop(t)
	require.ErrorIs(t, l.Err(), recovery.ErrNotLeader)
	requireLeader(t, r, func(i recovery.LeaderInfo) bool { return !i.Known() }, "no leader after the leader stopped")
}

func TestElectionGracefulHandoverFencesTheOldLeader(t *testing.T) {
	root := zkc.Root(t)
	cl1 := newClient(t, zkc, root, 4*time.Second)
	cl2 := newClient(t, zkc, root, 4*time.Second)
	r := startRetriever(t, newClient(t, zkc, root, 4*time.Second), false)

	c1 := startContender(t, cl1, "first", false)
	l1 := waitGrant(t, c1, 10*time.Second)
	c2 := startContender(t, cl2, "second", false)
	select {
	case <-c2.grants:
		t.Fatal("two leaders at once")
	case <-time.After(100 * time.Millisecond):
	}

	ctx := context.Background()
	_, err := zkha.GuardedMulti(ctx, cl1, l1, zkclient.CreateOp{Path: "/written-by-first"})
	require.NoError(t, err)

	start := time.Now()
	c1.stop(t)
	l2 := waitGrant(t, c2, 10*time.Second)
	t.Logf("graceful handover took %s", time.Since(start))
	require.NotEqual(t, l1.SessionID(), l2.SessionID())
	requireLeader(t, r, func(i recovery.LeaderInfo) bool { return i.Address == "second" }, "retrieval follows the handover")

	// The deposed leader's guarded write fails and changes nothing, even through a
	// client whose session is still alive.
	_, err = zkha.GuardedMulti(ctx, cl1, l1, zkclient.CreateOp{Path: "/written-by-deposed"})
	require.ErrorIs(t, err, recovery.ErrNotLeader)
	// Bypass the local check to prove the server-side fence: same ops, raw multi.
	_, err = cl1.Multi(ctx, append(zkha.GuardOps(l1), zkclient.CreateOp{Path: "/written-by-deposed"})...)
	require.ErrorIs(t, err, zk.ErrNoNode)
	ok, _, err := cl2.Exists(ctx, "/written-by-deposed")
	require.NoError(t, err)
	require.False(t, ok)
}

// Tests whose server stops and restarts while a session must survive: the
// outage lasts as long as a JVM takes to start again, several seconds on a busy
// machine (12 s seen at load 12), so the session timeout must be well beyond
// that — the server caps it at 20 ticks. A session that expires breaks such a
// test's premise, not the code under test.
const (
	outageTick    = 2 * time.Second
	outageSession = 30 * time.Second
)

func TestLeaderStepsDownOnSuspendedUnlessTolerated(t *testing.T) {
	for _, tolerate := range []bool{false, true} {
		t.Run(fmt.Sprintf("tolerate=%v", tolerate), func(t *testing.T) {
			c := zktest.Start(t, zktest.WithTickTime(outageTick))
			root := c.Root(t)
			cl := newClient(t, c, root, outageSession) // outlives the restart below
			rcl := newClient(t, c, root, outageSession)
			r := startRetriever(t, rcl, tolerate)
			ct := startContender(t, cl, "am", tolerate)
			l := waitGrant(t, ct, 10*time.Second)
			requireLeader(t, r, func(i recovery.LeaderInfo) bool { return i.SessionID == l.SessionID() }, "leader known")
			_, n := r.Latest()

			require.NoError(t, c.Server(0).Stop())
			require.Eventually(t, func() bool { return !cl.Connected() && !rcl.Connected() }, 10*time.Second, 5*time.Millisecond)
			if !tolerate {
				require.Eventually(t, func() bool { return l.Err() != nil }, 5*time.Second, 5*time.Millisecond, "leader steps down on SUSPENDED")
				requireLeader(t, r, func(i recovery.LeaderInfo) bool { return !i.Known() }, "retrieval clears the leader on SUSPENDED")
			}
			require.NoError(t, c.Server(0).Restart())
			require.Eventually(t, func() bool { return cl.Connected() }, outageSession, 5*time.Millisecond)
			if tolerate {
				require.NoError(t, l.Err(), "a tolerated suspension keeps leadership")
				_, m := r.Latest()
				require.Equal(t, n, m, "a tolerated suspension notifies nothing")
				return
			}
			// The session survived, the latch node too: leadership comes back with a
			// new leader session ID.
			l2 := waitGrant(t, ct, 15*time.Second)
			require.NotEqual(t, l.SessionID(), l2.SessionID())
			requireLeader(t, r, func(i recovery.LeaderInfo) bool { return i.SessionID == l2.SessionID() }, "new grant published")
		})
	}
}

// TestTolerantLeaderStepsDownOnLost pauses the server past the session timeout:
// even a leader that tolerates SUSPENDED gives up leadership on LOST, and so does
// a tolerant retriever; after the server resumes it leads again under a new
// leader session ID.
func TestTolerantLeaderStepsDownOnLost(t *testing.T) {
	c := zktest.Start(t)
	root := c.Root(t)
	cl := newClient(t, c, root, 2*time.Second)
	r := startRetriever(t, newClient(t, c, root, 2*time.Second), true)
	ct := startContender(t, cl, "am", true)
	l := waitGrant(t, ct, 10*time.Second)
	requireLeader(t, r, func(i recovery.LeaderInfo) bool { return i.SessionID == l.SessionID() }, "leader known")
	session := cl.Session().ID

	require.NoError(t, c.Server(0).Pause())
	require.Eventually(t, func() bool { return cl.State() == zkclient.Lost }, 15*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return l.Err() != nil }, 5*time.Second, 5*time.Millisecond, "LOST revokes even a tolerant leader")
	requireLeader(t, r, func(i recovery.LeaderInfo) bool { return !i.Known() }, "LOST clears even a tolerant retriever")

	require.NoError(t, c.Server(0).Resume())
	l2 := waitGrant(t, ct, 20*time.Second)
	require.NotEqual(t, l.SessionID(), l2.SessionID())
	// The server may expire the session on resuming, or the client may reconnect
	// first and revive it (LOST came from the client's own clock): either way the
	// grant is new.
	t.Logf("session before 0x%x, after 0x%x", session, cl.Session().ID)
	requireLeader(t, r, func(i recovery.LeaderInfo) bool { return i.SessionID == l2.SessionID() }, "new grant published")
}

// TestNoGrantOnTheLatchNodeOfALostSession: after LOST the contender's latch node
// can outlive the session the client gave up, and be seen by the new session: the
// server restores sessions when it restarts and expires them a session timeout
// later, and here the client cannot close the abandoned session early. A grant
// resting on that node would end when the node goes, so the contender must lead
// only on a node of its new session, once the old node is gone.
func TestNoGrantOnTheLatchNodeOfALostSession(t *testing.T) {
	c := zktest.Start(t)
	root := c.Root(t)
	server := c.Server(0).Addr()
	// go-zookeeper reaches the server through the dialer; closing the abandoned
	// session dials the configured address, where nobody listens.
	cl := newClient(t, c, root, 4*time.Second, func(cfg *zkclient.Config) {
		cfg.Servers = []string{"127.0.0.1:1"}
		cfg.Dialer = func(network, _ string, timeout time.Duration) (net.Conn, error) {
			return net.DialTimeout(network, server, timeout)
		}
	})
	ct := startContender(t, cl, "am", false)
	l := waitGrant(t, ct, 10*time.Second)
	lost := cl.Session().ID

	require.NoError(t, c.Server(0).Stop())
	require.Eventually(t, func() bool { return cl.State() == zkclient.Lost }, 15*time.Second, 5*time.Millisecond)
	require.Error(t, l.Err())
	require.NoError(t, c.Server(0).Restart())

	l2 := waitGrant(t, ct, 20*time.Second)
	require.NotEqual(t, lost, cl.Session().ID, "a new session")
	raw := c.Conn(t)
	names, _, err := raw.Children(root + "/leader/latch")
	require.NoError(t, err)
	for _, n := range names {
		_, st, err := raw.Get(root + "/leader/latch/" + n)
		require.NoError(t, err)
		require.NotEqual(t, lost, st.EphemeralOwner, "granted while %s of the lost session exists", n)
	}
	require.NoError(t, l2.Err(), "the grant holds")
}

// ---- contenders in real processes ----

const contenderEnv = "AMKEEPER_TEST_CONTENDER"

// runContender is the child process: it contends, confirms the dispatcher with
// its name as address and prints LEADER <session> when granted. With
// AMKEEPER_TEST_WRITE set, it also makes a guarded write every few milliseconds
// while it leads, and prints FENCED when one is refused as not leader.
func runContender() int {
	servers := strings.Split(os.Getenv("AMKEEPER_TEST_ZK"), ",")
	root := os.Getenv("AMKEEPER_TEST_ROOT")
	name := os.Getenv(contenderEnv)
	write := os.Getenv("AMKEEPER_TEST_WRITE") != ""
	log := zerolog.New(os.Stderr)
	ctx := context.Background()
	cl, err := zkclient.Connect(ctx, zkclient.Config{Servers: servers, Root: root, SessionTimeout: 2 * time.Second, ConnectionTimeout: 10 * time.Second, Logger: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := cl.EnsurePath(ctx, "/writes"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	el := zkha.NewElection(zkha.ElectionConfig{Client: cl, Logger: log})
	fmt.Println("READY")
	_ = el.Run(ctx, func(l recovery.Grant) {
		if err := l.Confirm(l.Context(), recovery.Dispatcher, name); err != nil {
			fmt.Fprintln(os.Stderr, "confirm:", err)
		}
		fmt.Println("LEADER", l.SessionID())
		pace := time.NewTicker(5 * time.Millisecond)
		defer pace.Stop()
		for write {
			// Deliberately not l.Context(): a deposed leader that has not noticed
			// yet keeps writing, and only the server-side fence stops it.
			wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := cl.Multi(wctx, append(zkha.GuardOps(l), zkclient.CreateOp{Path: "/writes/" + name + "-", Flags: zk.FlagSequence})...)
			cancel()
			if err != nil && (errors.Is(err, zk.ErrNoNode) || errors.Is(err, zk.ErrBadVersion)) {
				fmt.Println("FENCED")
				break
			}
			<-pace.C
		}
		<-l.Done()
	})
	return 0
}

func spawnContender(t *testing.T, c *zktest.Cluster, root, name string, write bool) *recoverytest.Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), contenderEnv+"="+name, "AMKEEPER_TEST_ZK="+c.ConnectString(), "AMKEEPER_TEST_ROOT="+root)
	if write {
		cmd.Env = append(cmd.Env, "AMKEEPER_TEST_WRITE=1")
	}
	cc := recoverytest.StartChild(t, cmd)
	cc.Expect(t, "READY", 15*time.Second)
	return cc
}

func TestElectionKilledLeaderProcess(t *testing.T) {
	root := zkc.Root(t)
	procs := map[string]*recoverytest.Child{}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("proc-%d", i)
		procs[name] = spawnContender(t, zkc, root, name, false)
	}
	r := startRetriever(t, newClient(t, zkc, root, 4*time.Second), false)
	requireLeader(t, r, func(i recovery.LeaderInfo) bool { return i.Known() }, "one process leads")
	first, _ := r.Latest()

	killed := time.Now()
	require.NoError(t, procs[first.Address].Cmd.Process.Signal(syscall.SIGKILL))
	requireLeader(t, r, func(i recovery.LeaderInfo) bool {
		return i.Known() && i.Address != first.Address
	}, "another process leads once the killed leader's session expires")
	next, _ := r.Latest()
	t.Logf("%s killed; %s leads after %s (session expiry bound)", first.Address, next.Address, time.Since(killed))
	require.NotEqual(t, first.SessionID, next.SessionID)
}

// TestSplitBrainPausedLeaderIsFenced pauses the leading process (SIGSTOP) until its
// session expires and another process leads, then resumes it: the old leader
// still believes it leads and keeps writing, and the server-side fence refuses
// every one of those writes.
func TestSplitBrainPausedLeaderIsFenced(t *testing.T) {
	root := zkc.Root(t)
	old := spawnContender(t, zkc, root, "old", true)
	old.Expect(t, "LEADER", 10*time.Second)
	standby := spawnContender(t, zkc, root, "standby", false)
	raw := zkc.Conn(t)
	require.Eventually(t, func() bool {
		names, _, err := raw.Children(root + "/writes")
		return err == nil && len(names) > 0
	}, 10*time.Second, 5*time.Millisecond, "the leader writes")

	require.NoError(t, old.Cmd.Process.Signal(syscall.SIGSTOP))
	standby.Expect(t, "LEADER", 15*time.Second)
	_, infoStat, err := raw.Get(root + zkha.ConnectionInfoPath(recovery.Dispatcher))
	require.NoError(t, err)
	takeover := infoStat.Czxid // the new leader published after the old session ended

	require.NoError(t, old.Cmd.Process.Signal(syscall.SIGCONT))
	old.Expect(t, "FENCED", 15*time.Second)

	names, _, err := raw.Children(root + "/writes")
	require.NoError(t, err)
	require.NotEmpty(t, names)
	for _, n := range names {
		_, st, err := raw.Get(root + "/writes/" + n)
		require.NoError(t, err)
		require.Less(t, st.Czxid, takeover, "write %s by the deposed leader landed after the takeover", n)
	}
}
