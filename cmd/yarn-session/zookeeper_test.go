package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/zkserver"
)

func TestZooKeeperCommandPrintsConnectString(t *testing.T) {
	confDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(confDir, "zoo.cfg"),
		[]byte("tickTime=500\nclientPort=2181\nforceSync=no\n"), 0o644))
	runDir := filepath.Join(t.TempDir(), "zk")
	t.Cleanup(func() { _, _ = zkserver.Stop(context.Background(), runDir, zkserver.StopOptions{}) })

	out, code := run(t, "zookeeper", "start", "--conf-dir", confDir, "--run-dir", runDir, "--free-port")
	require.Equal(t, 0, code)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	assert.Equal(t, "Starting zookeeper daemon on host localhost.", lines[0], "as start-zookeeper-quorum.sh")
	connect := lines[len(lines)-1]
	require.Regexp(t, `^127\.0\.0\.1:[0-9]+$`, connect)
	assert.NotEqual(t, "127.0.0.1:2181", connect, "--free-port wins over clientPort")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	mode, err := zkserver.Mode(ctx, connect)
	require.NoError(t, err)
	assert.Equal(t, "standalone", mode)
	// The server's directory and its data are private (issue 14).
	for _, d := range []string{filepath.Join(runDir, "standalone"), filepath.Join(runDir, "standalone", "data")} {
		fi, err := os.Stat(d)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), d)
	}

	out, code = run(t, "zookeeper", "status", "--run-dir", runDir)
	require.Equal(t, 0, code)
	assert.Regexp(t, `standalone\s+running\s+[0-9]+\s+`+connect+`\s+standalone`, out)

	_, code = run(t, "zookeeper", "start", "--conf-dir", confDir, "--run-dir", runDir, "--free-port")
	assert.Equal(t, exitFailure, code, "a second start while running")

	out, code = run(t, "zookeeper", "stop", "--run-dir", runDir)
	require.Equal(t, 0, code)
	assert.Regexp(t, `^Stopping zookeeper daemon \(pid: [0-9]+\) on host localhost\.\n$`, out, "as stop-zookeeper-quorum.sh")

	_, code = run(t, "zookeeper", "status", "--run-dir", runDir)
	assert.Equal(t, exitFailure, code, "status of a stopped server")

	out, code = run(t, "zookeeper", "stop", "--run-dir", filepath.Join(t.TempDir(), "none"))
	require.Equal(t, 0, code)
	assert.Contains(t, out, "No zookeeper servers recorded")
}

func TestZooKeeperCommandMissingInstallationNamesInstallDeps(t *testing.T) {
	confDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(confDir, "zoo.cfg"), []byte("clientPort=0\n"), 0o644))
	t.Setenv("JAVA_HOME", "/nonexistent/jdk")
	var stderr strings.Builder
	err := newApp(&strings.Builder{}, &stderr).RunContext(context.Background(),
		[]string{"yarn-session", "zookeeper", "start", "--zoo-cfg", filepath.Join(confDir, "zoo.cfg"), "--run-dir", t.TempDir()})
	require.Error(t, err)
	assert.Equal(t, exitFailure, exitCode(err))
	assert.Contains(t, err.Error(), "scripts/install-deps")
}
