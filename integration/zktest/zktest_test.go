package zktest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/leakcheck"
)

// shared is the one server this package's tests share through zktest.Main; tests
// that kill, pause or restart servers start their own.
var shared *zktest.Cluster

// orphanEnv switches the test binary into the child role of
// TestNoJavaLeftWhenTestBinaryDies.
const orphanEnv = "ZKTEST_ORPHAN_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(orphanEnv) == "1" {
		orphanChild()
	}
	os.Exit(leakcheck.Code(zktest.Main(m, func(c *zktest.Cluster) { shared = c })))
}

// orphanChild starts a server, reports its JVM's PID and dies without any cleanup.
func orphanChild() {
	c, err := zktest.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	fmt.Printf("pid=%d dir=%s\n", c.Server(0).PID(), c.Dir())
	os.Exit(1)
}

const (
	waitFor = 15 * time.Second
	pollE   = 10 * time.Millisecond
)

func TestSharedServerServes(t *testing.T) {
	conn := shared.Conn(t)
	root := shared.Root(t)
	require.True(t, strings.HasPrefix(root, "/t/TestSharedServerServes-"), root)

	_, err := conn.Create("/t", nil, 0, zk.WorldACL(zk.PermAll))
	if !errors.Is(err, zk.ErrNodeExists) {
		require.NoError(t, err)
	}
	_, err = conn.Create(root, []byte("hello"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	data, _, err := conn.Get(root)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(data))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	mode, err := shared.Server(0).Mode(ctx)
	require.NoError(t, err)
	assert.Equal(t, "standalone", mode)
	ok, err := zktest.FourLetter(ctx, shared.Server(0).Addr(), "ruok")
	require.NoError(t, err)
	assert.Equal(t, "imok", ok)
	assert.Equal(t, shared.Server(0).Addr(), shared.ConnectString())
	assert.Equal(t, []string{shared.Server(0).Addr()}, shared.Addrs())
	assert.True(t, strings.HasPrefix(shared.Server(0).Addr(), "127.0.0.1:"))
}

func TestRootIsDistinctPerTest(t *testing.T) {
	seen := map[string]string{}
	for _, name := range []string{"a", "b", "with space/and ü"} {
		t.Run(name, func(t *testing.T) {
			root := shared.Root(t)
			assert.Regexp(t, `^/t/[A-Za-z0-9._-]+-[0-9]+$`, root)
			seen[t.Name()] = root
		})
	}
	again := shared.Root(t)
	seen["again"] = again
	distinct := map[string]bool{}
	for _, r := range seen {
		distinct[r] = true
	}
	assert.Len(t, distinct, len(seen), "roots: %v", seen)
}

func TestNotInstalledFailsWithInstructions(t *testing.T) {
	t.Setenv(zktest.ClasspathEnv, "/nonexistent/zookeeper.jar")
	t.Setenv("JAVA_HOME", "/nonexistent/jdk")
	_, err := zktest.New()
	require.ErrorIs(t, err, zktest.ErrNotInstalled)
	for _, want := range []string{"/nonexistent/zookeeper.jar", "JAVA_HOME=/nonexistent/jdk", "scripts/install-deps"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestKillAndRestart(t *testing.T) {
	begin := time.Now()
	c := zktest.Start(t)
	t.Logf("standalone server serving after %v", time.Since(begin).Round(time.Millisecond))
	s := c.Server(0)
	conn := c.Conn(t)
	_, err := conn.Create("/durable", []byte("v1"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	pid := s.PID()
	require.NoError(t, s.Kill())
	assert.Zero(t, s.PID())
	assert.True(t, processGone(pid), "pid %d still alive after Kill", pid)
	require.Eventually(t, func() bool { return conn.State() != zk.StateHasSession },
		waitFor, pollE, "client still has a session after the kill")

	begin = time.Now()
	require.NoError(t, s.Restart())
	t.Logf("restart serving after %v", time.Since(begin).Round(time.Millisecond))
	require.Eventually(t, func() bool { return conn.State() == zk.StateHasSession },
		waitFor, pollE, "client did not reconnect")
	data, _, err := conn.Get("/durable")
	require.NoError(t, err)
	assert.Equal(t, "v1", string(data))
}

func TestPauseAndResume(t *testing.T) {
	c := zktest.Start(t)
	s := c.Server(0)
	conn := c.Conn(t)
	_, err := conn.Create("/p", []byte("x"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	require.NoError(t, s.Pause())
	t.Cleanup(func() { _ = s.Resume() })
	assert.NotZero(t, s.PID(), "a paused server is still running")

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = s.Mode(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	got := make(chan error, 1)
	go func() {
		_, _, err := conn.Get("/p")
		got <- err
	}()
	deadline := time.NewTimer(500 * time.Millisecond)
	defer deadline.Stop()
	select {
	case err := <-got:
		require.Error(t, err, "a paused server answered")
		got = nil
	case <-deadline.C: // the request is still waiting, as it should
	}

	require.NoError(t, s.Resume())
	if got != nil {
		select {
		case <-got: // answered or failed, either way no longer stuck
		case <-time.After(waitFor):
			t.Fatal("request still stuck after Resume")
		}
	}
	require.Eventually(t, func() bool {
		data, _, err := conn.Get("/p")
		return err == nil && string(data) == "x"
	}, waitFor, pollE)
}

func TestEnsembleSurvivesLosingOneServer(t *testing.T) {
	begin := time.Now()
	c := zktest.Start(t, zktest.WithServers(3))
	t.Logf("3-node ensemble serving after %v", time.Since(begin).Round(time.Millisecond))
	require.Len(t, c.Addrs(), 3)
	assert.Len(t, strings.Split(c.ConnectString(), ","), 3)

	leader := findLeader(t, c)
	conn := c.Conn(t)
	_, err := conn.Create("/before", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	require.NoError(t, leader.Kill())
	begin = time.Now()
	require.Eventually(t, func() bool {
		_, err := conn.Create("/during", []byte("2 of 3"), 0, zk.WorldACL(zk.PermAll))
		return err == nil || errors.Is(err, zk.ErrNodeExists)
	}, waitFor, pollE, "the remaining two servers do not accept writes")
	t.Logf("write accepted %v after killing the leader (server %d)",
		time.Since(begin).Round(time.Millisecond), leader.ID())

	begin = time.Now()
	require.NoError(t, leader.Restart())
	t.Logf("killed server rejoined after %v", time.Since(begin).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	mode, err := leader.Mode(ctx)
	require.NoError(t, err)
	assert.Contains(t, []string{"leader", "follower"}, mode)

	// The rejoined server has the write it missed.
	direct := leader.Conn(t)
	_, err = direct.Sync("/during")
	require.NoError(t, err)
	data, _, err := direct.Get("/during")
	require.NoError(t, err)
	assert.Equal(t, "2 of 3", string(data))
}

func findLeader(t *testing.T, c *zktest.Cluster) *zktest.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var leader *zktest.Server
	for _, s := range c.Servers() {
		mode, err := s.Mode(ctx)
		require.NoError(t, err)
		if mode == "leader" {
			require.Nil(t, leader, "two leaders")
			leader = s
		}
	}
	require.NotNil(t, leader, "no leader")
	return leader
}

func TestStopLeavesNoProcess(t *testing.T) {
	c := zktest.Start(t)
	s := c.Server(0)
	pid := s.PID()
	require.NotZero(t, pid)

	// Goroutines that exit while locked to their OS thread make the runtime end
	// those threads; the server's parent-death signal must not fire because of
	// that. (A smoke check: an unlocked spawn usually survives this too, since its
	// thread sits in Wait; the lock in spawn is what guarantees it.)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.Mode(ctx)
	require.NoError(t, err, "server died when unrelated threads ended")

	begin := time.Now()
	require.NoError(t, s.Stop())
	t.Logf("graceful stop took %v", time.Since(begin).Round(time.Millisecond))
	assert.Zero(t, s.PID())
	assert.False(t, s.Running())
	assert.True(t, processGone(pid), "pid %d still alive after Stop", pid)
	require.NoError(t, s.Stop(), "Stop is idempotent")
	require.NoError(t, s.Kill(), "Kill of a stopped server is a no-op")
}

// processGone reports whether pid no longer runs. A zombie counts as gone: its
// parent died and the container's init may never reap it.
func processGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err == nil {
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		return i > 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
	}
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) // no /proc
}
