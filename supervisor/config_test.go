package supervisor_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/supervisor"
)

var app = containers.AppID{ClusterTimestamp: 1, Seq: 7}

func load(t *testing.T, dir string, dynamic ...string) *conf.Config {
	t.Helper()
	c, err := conf.Load(conf.Options{Dir: dir, Dynamic: dynamic, ApplicationID: app.String()})
	require.NoError(t, err)
	return c
}

// TestConfigFromZooKeeperSession: with ZooKeeper high availability the budget,
// the container mode, the hot standbys, the quorum for fast fencing and the
// history store all come from the configuration, and every process gets the
// configuration the supervisor read.
func TestConfigFromZooKeeperSession(t *testing.T) {
	confDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(confDir, conf.MastersFile), []byte("localhost:8081\nlocalhost:8082\n"), 0o600))
	storage := t.TempDir()
	c := load(t, confDir,
		"high-availability.type=zookeeper",
		"high-availability.zookeeper.quorum=zk1:2181,zk2:2181",
		"high-availability.storageDir="+hdfsstore.FileURI(storage),
		"yarn.application-attempts=4",
		"yarn.application-attempt-failures-validity-interval=60000 ms",
		"amkeeper.containers.across-attempts=restart-all",
	)
	var logs bytes.Buffer
	dir := filepath.Join(t.TempDir(), "app")
	cfg, err := supervisor.ConfigFrom(context.Background(), c, supervisor.Session{App: app, Dir: dir,
		TaskManagers: 3, Executable: "/bin/yarn-session", Logger: zerolog.New(&logs)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, cfg.Close()) })

	require.Equal(t, app, cfg.App)
	require.Equal(t, dir, cfg.Dir)
	require.Equal(t, 2, cfg.Budget.MaxAttempts, "capped by yarn.resourcemanager.am.max-attempts (default 2)")
	require.Equal(t, time.Minute, cfg.Budget.Window)
	require.Contains(t, logs.String(), "yarn.resourcemanager.am.max-attempts", "the cap is a warning naming both keys")
	require.Equal(t, containers.RestartAll, cfg.Containers)
	require.Equal(t, []string{"8081", "8082"}, cfg.StandbyPorts)
	require.Equal(t, []string{"zk1:2181", "zk2:2181"}, cfg.ZooKeeper, "fast fencing on the quorum")
	require.Equal(t, 3, cfg.TaskManagers)
	require.Equal(t, c.TaskManagerProcessSize(), cfg.TaskManagerMemory, "default: taskmanager.memory.process.size")
	require.Equal(t, c.TaskManagerSlots(), cfg.Slots, "default: taskmanager.numberOfTaskSlots")
	require.Equal(t, "/bin/yarn-session", cfg.Executable)

	want := []string{"--local-dir", filepath.Join(dir, "ha"), "--conf-dir", confDir}
	for _, kv := range c.Dynamic() {
		want = append(want, "-D", kv)
	}
	want = append(want, "-D", "high-availability.cluster-id="+app.String())
	require.Equal(t, want, cfg.ProcessArgs)

	// The history store is high-availability.storageDir.
	_, err = hdfsstore.PutBytes(context.Background(), cfg.History, "probe", []byte("x"))
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(storage, "probe"))
}

// TestConfigFromEmbeddedSession: without ZooKeeper there is nothing to fence
// and the history is kept in the application's own HA directory.
func TestConfigFromEmbeddedSession(t *testing.T) {
	c := load(t, "")
	dir := filepath.Join(t.TempDir(), "app")
	cfg, err := supervisor.ConfigFrom(context.Background(), c, supervisor.Session{App: app, Dir: dir,
		TaskManagers: 1, TaskManagerMemory: 128 << 20, Slots: 2, Logger: zerolog.Nop()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, cfg.Close()) })

	require.Equal(t, 1, cfg.Budget.MaxAttempts, "yarn.application-attempts defaults to 1 without ZooKeeper")
	require.Equal(t, containers.Keep, cfg.Containers)
	require.Empty(t, cfg.StandbyPorts)
	require.Empty(t, cfg.ZooKeeper)
	require.Equal(t, int64(128<<20), cfg.TaskManagerMemory)
	require.Equal(t, 2, cfg.Slots)
	require.NotContains(t, cfg.ProcessArgs, "--conf-dir")

	_, err = hdfsstore.PutBytes(context.Background(), cfg.History, "probe", []byte("x"))
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(dir, "ha", app.String(), "storage", "probe"))
}

func TestConfigFromRelativeDirIsMadeAbsolute(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg, err := supervisor.ConfigFrom(context.Background(), load(t, ""), supervisor.Session{App: app, Dir: "app", Logger: zerolog.Nop()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, cfg.Close()) })
	require.True(t, filepath.IsAbs(cfg.Dir), "the AMs run in their own directories: %s", cfg.Dir)
	require.True(t, filepath.IsAbs(cfg.ProcessArgs[1]), "--local-dir %s", cfg.ProcessArgs[1])
}

// TestConfigFromKeepsSecretsOffCommandLines: a -D item whose key is a secret
// (the ZooKeeper digest) goes to the processes in the environment
// (conf.EnvSecretDynamic), never in ProcessArgs; and a process loading its
// configuration from those arguments and that environment has it.
func TestConfigFromKeepsSecretsOffCommandLines(t *testing.T) {
	c := load(t, "", "rest.port=0", "amkeeper.zookeeper.digest=amk:pw-1", "heartbeat.interval=1 s", "amkeeper.zookeeper.digest=amk:pw-2")
	cfg, err := supervisor.ConfigFrom(context.Background(), c, supervisor.Session{App: app, Dir: filepath.Join(t.TempDir(), "app"), Logger: zerolog.Nop()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, cfg.Close()) })
	for _, a := range cfg.ProcessArgs {
		require.NotContains(t, a, "pw-", "no secret on a command line")
	}
	require.Contains(t, cfg.ProcessArgs, "rest.port=0")
	require.Equal(t, []string{conf.EnvSecretDynamic + "=amkeeper.zookeeper.digest=amk:pw-1\namkeeper.zookeeper.digest=amk:pw-2"}, cfg.ProcessEnv)

	var dyn []string
	for i, a := range cfg.ProcessArgs {
		if a == "-D" {
			dyn = append(dyn, cfg.ProcessArgs[i+1])
		}
	}
	env := map[string]string{conf.EnvSecretDynamic: strings.TrimPrefix(cfg.ProcessEnv[0], conf.EnvSecretDynamic+"=")}
	child, err := conf.Load(conf.Options{Dynamic: dyn, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	require.NoError(t, err)
	require.Equal(t, "amk:pw-2", child.Digest(), "the last -D item wins, as on the supervisor")
	require.Equal(t, c.HeartbeatInterval(), child.HeartbeatInterval())
}

func TestConfigFromWithoutConfiguration(t *testing.T) {
	_, err := supervisor.ConfigFrom(context.Background(), nil, supervisor.Session{App: app, Dir: t.TempDir()})
	require.ErrorContains(t, err, "supervisor: no configuration")
}
