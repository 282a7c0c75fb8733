package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/amkeeper/amkeeper/internal/zkserver"
	"github.com/amkeeper/amkeeper/supervisor"
)

// startThrowawayZooKeeper starts a standalone ZooKeeper on a free loopback port
// under dir (as `yarn-session zookeeper start --free-port` does) and returns its
// connect string and how to stop it.
func startThrowawayZooKeeper(ctx context.Context, dir string) (string, func(), error) {
	zoo := filepath.Join(dir, "zoo.cfg")
	cfg := "tickTime=500\ninitLimit=10\nsyncLimit=5\nmaxClientCnxns=0\nclientPort=0\ndataDir=" + filepath.Join(dir, "zk-data") + "\n"
	if err := os.WriteFile(zoo, []byte(cfg), 0o600); err != nil {
		return "", nil, err
	}
	zc, err := zkserver.LoadZooCfg(zoo)
	if err != nil {
		return "", nil, err
	}
	runDir := filepath.Join(dir, "zk")
	started, err := zkserver.Start(ctx, zc, zkserver.Options{RunDir: runDir, FreePort: true})
	if err != nil {
		return "", nil, fmt.Errorf("ZooKeeper: %w", err)
	}
	return started.ConnectString(), func() { _, _ = zkserver.Stop(context.Background(), runDir, zkserver.StopOptions{}) }, nil
}

// benchZooKeeper makes a temporary directory (named after the bench) and starts
// a throwaway ZooKeeper under it; cleanup stops the server and removes the directory.
func benchZooKeeper(ctx context.Context, bench string) (dir, connect string, cleanup func(), err error) {
	dir, err = os.MkdirTemp("", "amkeeper-bench-"+bench+"-")
	if err != nil {
		return "", "", nil, fmt.Errorf("bench %s: %w", bench, err)
	}
	connect, stopZK, err := startThrowawayZooKeeper(ctx, dir)
	if err != nil {
		os.RemoveAll(dir)
		return "", "", nil, fmt.Errorf("bench %s: %w", bench, err)
	}
	return dir, connect, func() { stopZK(); os.RemoveAll(dir) }, nil
}

// startDetachedSession runs `yarn-session ARGS -d` with its application
// directories under home, as a user would, and returns the application ID, a
// control client, and how to stop the session (waiting until it is gone).
func startDetachedSession(ctx context.Context, home string, args ...string) (string, *supervisor.ControlClient, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil, nil, err
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return "", nil, nil, err
	}
	cmd := exec.CommandContext(ctx, exe, append(args, "-d")...)
	// TMPDIR too: the session's .yarn-properties file (Flink's record of the last
	// session) belongs to this throwaway run, not to the user's own sessions.
	cmd.Env = append(os.Environ(), envHome+"="+home, "TMPDIR="+home)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", nil, nil, fmt.Errorf("start the session: %v\n%s", err, out)
	}
	appID := strings.TrimSpace(strings.TrimPrefix(strings.SplitN(string(out), " started", 2)[0], "Session "))
	appDir := filepath.Join(home, appID)
	client := supervisor.NewControlClient(appDir)
	stop := func() {
		_ = client.Stop(context.Background())
		_ = waitGone(context.Background(), supervisor.ControlSocket(appDir), 60*time.Second)
	}
	return appID, client, stop, nil
}
