package zkserver_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/netaddr/netaddrtest"
	"github.com/amkeeper/amkeeper/internal/zkserver"
)

const (
	waitFor = 30 * time.Second
	poll    = 25 * time.Millisecond
)

// writeZooCfg writes a zoo.cfg of lines into a new directory and returns its path.
func writeZooCfg(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "zoo.cfg")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	return path
}

// start starts the servers of a zoo.cfg in a fresh run directory and stops them when
// the test ends, whatever happens: the servers are detached and would outlive it.
func start(t *testing.T, cfgPath string, o zkserver.Options) (*zkserver.Started, string) {
	t.Helper()
	cfg, err := conf.ParseZooCfg(cfgPath)
	require.NoError(t, err)
	if o.RunDir == "" {
		o.RunDir = filepath.Join(t.TempDir(), "run")
	}
	o.Logger = logging.ForTest(t)
	t.Cleanup(func() {
		if t.Failed() {
			if list, err := zkserver.StatusOf(context.Background(), o.RunDir); err == nil {
				for _, s := range list {
					b, _ := os.ReadFile(s.LogPath())
					t.Logf("%s log:\n%s", s.Name, b)
				}
			}
		}
		_, err := zkserver.Stop(context.Background(), o.RunDir, zkserver.StopOptions{Grace: 5 * time.Second})
		assert.NoError(t, err)
	})
	res, err := zkserver.Start(context.Background(), cfg, o)
	require.NoError(t, err)
	return res, o.RunDir
}

// connect returns a go-zookeeper connection with a session, waiting with a deadline
// (zk.Connect alone retries forever).
func connect(t *testing.T, connectString string) *zk.Conn {
	t.Helper()
	conn, events, err := zk.Connect(strings.Split(connectString, ","), 10*time.Second, zk.WithLogInfo(false))
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	deadline := time.NewTimer(waitFor)
	defer deadline.Stop()
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return conn
			}
		case <-deadline.C:
			t.Fatalf("no session with %s after %v (state %v)", connectString, waitFor, conn.State())
		}
	}
}

// sessionID returns the session ID of pid from /proc/<pid>/stat.
func sessionID(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	require.NoError(t, err)
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // state ppid pgrp session …
	require.GreaterOrEqual(t, len(fields), 4)
	sid, err := strconv.Atoi(fields[3])
	require.NoError(t, err)
	return sid
}

func TestZooKeeperStandaloneFreePort(t *testing.T) {
	path := writeZooCfg(t, "tickTime=500", "clientPort=0", "forceSync=no")
	res, runDir := start(t, path, zkserver.Options{})
	require.Len(t, res.Servers, 1)
	s := res.Servers[0]
	assert.Equal(t, "standalone", s.Name)
	assert.Regexp(t, `^127\.0\.0\.1:[0-9]+$`, res.ConnectString())
	assert.NotEqual(t, "127.0.0.1:2181", s.Addr)
	assert.Equal(t, s.PID, sessionID(t, s.PID), "the server leads its own session (setsid)")

	conn := connect(t, res.ConnectString())
	_, err := conn.Create("/demo", []byte("hello"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	data, _, err := conn.Get("/demo")
	require.NoError(t, err)
	assert.Equal(t, "hello", string(data))

	// The effective config carries the defaults and the picked port.
	eff, err := os.ReadFile(filepath.Join(s.Dir, "zoo.cfg"))
	require.NoError(t, err)
	for _, want := range []string{"clientPortAddress=127.0.0.1", "admin.enableServer=false",
		"4lw.commands.whitelist=srvr,ruok,stat", "forceSync=no", "clientPort=" + strings.TrimPrefix(s.Addr, "127.0.0.1:")} {
		assert.Contains(t, string(eff), want+"\n")
	}

	// A second start on the same run directory refuses.
	cfg, err := conf.ParseZooCfg(path)
	require.NoError(t, err)
	_, err = zkserver.Start(context.Background(), cfg, zkserver.Options{RunDir: runDir})
	require.ErrorIs(t, err, zkserver.ErrRunning)

	list, err := zkserver.StatusOf(context.Background(), runDir)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, zkserver.StateRunning, list[0].State)
	assert.Equal(t, "standalone", list[0].Mode)
	assert.Equal(t, s.PID, list[0].PID)

	results, err := zkserver.Stop(context.Background(), runDir, zkserver.StopOptions{})
	require.NoError(t, err)
	require.Len(t, results, 1)
	assert.Equal(t, zkserver.OutcomeStopped, results[0].Outcome)
	assert.True(t, zkserver.ProcessGone(s.PID), "pid %d still alive after Stop", s.PID)
	// Not "the port is closed": another test package running at the same time may
	// already have picked the freed port for its own server.
	assert.NoFileExists(t, filepath.Join(s.Dir, "zookeeper.pid"))

	list, err = zkserver.StatusOf(context.Background(), runDir)
	require.NoError(t, err)
	assert.Equal(t, zkserver.StateStopped, list[0].State)
}

func TestZooKeeperEnsembleOnLoopback(t *testing.T) {
	p := netaddrtest.FreePorts(t, 6)
	path := writeZooCfg(t,
		"tickTime=500", "initLimit=10", "syncLimit=5", "clientPort=0",
		fmt.Sprintf("server.1=127.0.0.1:%d:%d", p[0], p[1]),
		fmt.Sprintf("server.2=localhost:%d:%d", p[2], p[3]),
		fmt.Sprintf("server.3=127.0.0.1:%d:%d", p[4], p[5]),
	)
	begin := time.Now()
	res, runDir := start(t, path, zkserver.Options{})
	t.Logf("ensemble serving after %v", time.Since(begin).Round(time.Millisecond))
	require.Len(t, res.Servers, 3)
	assert.Len(t, strings.Split(res.ConnectString(), ","), 3)

	leaders := 0
	for i, s := range res.Servers {
		assert.Equal(t, fmt.Sprintf("server.%d", i+1), s.Name)
		myid, err := os.ReadFile(filepath.Join(s.Dir, "data", "myid"))
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(i+1)+"\n", string(myid))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		mode, err := zkserver.Mode(ctx, s.Addr)
		cancel()
		require.NoError(t, err)
		assert.Contains(t, []string{"leader", "follower"}, mode)
		if mode == "leader" {
			leaders++
		}
	}
	assert.Equal(t, 1, leaders)

	conn := connect(t, res.ConnectString())
	_, err := conn.Create("/ensemble", []byte("3"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	results, err := zkserver.Stop(context.Background(), runDir, zkserver.StopOptions{})
	require.NoError(t, err)
	require.Len(t, results, 3)
	for _, r := range results {
		assert.Contains(t, []zkserver.Outcome{zkserver.OutcomeStopped, zkserver.OutcomeKilled}, r.Outcome)
		assert.True(t, zkserver.ProcessGone(r.PID), "%s (pid %d) still alive", r.Name, r.PID)
	}
}

// fakeServerDir makes a run directory entry as Start would, with the given pid file.
func fakeServerDir(t *testing.T, runDir string, pid int) string {
	t.Helper()
	dir := filepath.Join(runDir, "standalone")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte("clientPort=2181\nclientPortAddress=127.0.0.1\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "zookeeper.pid"), []byte(strconv.Itoa(pid)+"\n"), 0o644))
	return dir
}

func TestZooKeeperStopStalePIDFile(t *testing.T) {
	// A process that has exited and been reaped: its pid is free.
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	runDir := t.TempDir()
	dir := fakeServerDir(t, runDir, cmd.Process.Pid)

	results, err := zkserver.Stop(context.Background(), runDir, zkserver.StopOptions{})
	require.NoError(t, err)
	require.Len(t, results, 1)
	assert.Equal(t, zkserver.OutcomeStale, results[0].Outcome)
	assert.NoFileExists(t, filepath.Join(dir, "zookeeper.pid"))
}

func TestZooKeeperStopRefusesForeignPID(t *testing.T) {
	// A live process that is not our ZooKeeper: the pid was reused.
	other := exec.Command("sleep", "300")
	require.NoError(t, other.Start())
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	runDir := t.TempDir()
	dir := fakeServerDir(t, runDir, other.Process.Pid)

	list, err := zkserver.StatusOf(context.Background(), runDir)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, zkserver.StateForeign, list[0].State)

	results, err := zkserver.Stop(context.Background(), runDir, zkserver.StopOptions{Grace: time.Second})
	require.ErrorIs(t, err, zkserver.ErrNotOurs)
	assert.Contains(t, err.Error(), "not signalling it")
	require.Len(t, results, 1)
	assert.Equal(t, zkserver.OutcomeRefused, results[0].Outcome)
	assert.False(t, zkserver.ProcessGone(other.Process.Pid), "a foreign process was signalled")
	assert.FileExists(t, filepath.Join(dir, "zookeeper.pid"))
}

func TestZooKeeperStopUnknownRunDir(t *testing.T) {
	results, err := zkserver.Stop(context.Background(), filepath.Join(t.TempDir(), "never-started"), zkserver.StopOptions{})
	require.NoError(t, err)
	assert.Empty(t, results)
}

func TestZooKeeperNotInstalledNamesInstallDeps(t *testing.T) {
	t.Setenv(zkserver.ClasspathEnv, "/nonexistent/zookeeper.jar")
	t.Setenv("JAVA_HOME", "/nonexistent/jdk")
	cfg, err := conf.ParseZooCfg(writeZooCfg(t, "clientPort=0"))
	require.NoError(t, err)
	_, err = zkserver.Start(context.Background(), cfg, zkserver.Options{RunDir: t.TempDir()})
	require.ErrorIs(t, err, zkserver.ErrNotInstalled)
	for _, want := range []string{"/nonexistent/zookeeper.jar", "JAVA_HOME=/nonexistent/jdk", "scripts/install-deps"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestZooKeeperStartReportsLogTailWhenServerFails(t *testing.T) {
	// A bogus key with a bad value makes ZooKeeper exit while parsing its config.
	cfg, err := conf.ParseZooCfg(writeZooCfg(t, "clientPort=0", "tickTime=500", "maxClientCnxns=many"))
	require.NoError(t, err)
	runDir := t.TempDir()
	t.Cleanup(func() { _, _ = zkserver.Stop(context.Background(), runDir, zkserver.StopOptions{}) })
	_, err = zkserver.Start(context.Background(), cfg, zkserver.Options{RunDir: runDir, Timeout: waitFor})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exited while starting")
	assert.Contains(t, err.Error(), "zookeeper.log")
	assert.NoFileExists(t, filepath.Join(runDir, "standalone", "zookeeper.pid"))
}

func TestZooKeeperStopRefusesGarbledPIDFile(t *testing.T) {
	runDir := t.TempDir()
	dir := fakeServerDir(t, runDir, 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "zookeeper.pid"), []byte("not a pid\n"), 0o644))
	results, err := zkserver.Stop(context.Background(), runDir, zkserver.StopOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not a pid")
	require.Len(t, results, 1)
	assert.Equal(t, zkserver.OutcomeRefused, results[0].Outcome)
	assert.FileExists(t, filepath.Join(dir, "zookeeper.pid"))
}

func TestZooKeeperThrowaway(t *testing.T) {
	dir := t.TempDir()
	zs, err := zkserver.StartThrowaway(context.Background(), dir, logging.ForTest(t))
	require.NoError(t, err)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = zs.Stop()
		}
	})
	require.Len(t, zs.Servers, 1)
	assert.Regexp(t, `^127\.0\.0\.1:[0-9]+$`, zs.ConnectString())
	conn := connect(t, zs.ConnectString())
	_, err = conn.Create("/throwaway", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(dir, "zoo.cfg"))
	assert.DirExists(t, filepath.Join(dir, "zk-data"))

	pid := zs.Servers[0].PID
	require.NoError(t, zs.Stop())
	stopped = true
	assert.True(t, zkserver.ProcessGone(pid), "Stop returns once the server is gone")
}
