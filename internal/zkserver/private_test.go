package zkserver_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/privdir"
	"github.com/amkeeper/amkeeper/internal/zkserver"
)

// openToAll makes dir and its parents up to the test's temp root traversable by
// everyone, so only the modes amkeeper sets decide what another user can read.
func openToAll(t *testing.T, dir string) {
	t.Helper()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		require.NoError(t, os.Chmod(d, 0o755))
	}
}

// asNobody runs argv as the user nobody and returns its output and error.
func asNobody(argv ...string) (string, error) {
	out, err := exec.Command("runuser", append([]string{"-u", "nobody", "--"}, argv...)...).CombinedOutput()
	return string(out), err
}

// TestZooKeeperDirectoriesArePrivate: the server directory (its log), the data
// directory and the transaction log directory are 0700, an existing world-readable
// data directory of ours is made private, and another user cannot read the
// transaction log, which holds every znode.
func TestZooKeeperDirectoriesArePrivate(t *testing.T) {
	base := t.TempDir()
	data, txlog := filepath.Join(base, "data"), filepath.Join(base, "txlog")
	require.NoError(t, os.Mkdir(data, 0o755)) // made by an older version, or umask 022
	openToAll(t, data)
	path := filepath.Join(base, "zoo.cfg")
	require.NoError(t, os.WriteFile(path, []byte("tickTime=500\nclientPort=0\nforceSync=no\ndataDir=data\ndataLogDir=txlog\n"), 0o644))
	res, _ := start(t, path, zkserver.Options{RunDir: filepath.Join(base, "run")})
	conn := connect(t, res.ConnectString())
	_, err := conn.Create("/leader-session", []byte("secret-ish"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	for _, d := range []string{res.Servers[0].Dir, data, txlog} {
		fi, err := os.Stat(d)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), d)
	}
	logs, err := filepath.Glob(filepath.Join(txlog, "version-2", "log.*"))
	require.NoError(t, err)
	require.NotEmpty(t, logs, "the transaction log is in dataLogDir")
	out, err := asNobody("cat", logs[0])
	require.Error(t, err, "nobody read the transaction log: %s", out)
	require.Contains(t, out, "Permission denied")
	out, err = asNobody("ls", filepath.Join(res.Servers[0].Dir))
	require.Error(t, err, "nobody listed the server directory: %s", out)
}

// TestZooKeeperRefusesAnotherUsersDataDir: a data directory owned by another user
// is refused (it cannot be made private, and its owner could read or replace the
// data); no server starts.
func TestZooKeeperRefusesAnotherUsersDataDir(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "data")
	require.NoError(t, os.Mkdir(data, 0o755))
	require.NoError(t, os.Chown(data, 65534, 65534))
	path := filepath.Join(base, "zoo.cfg")
	require.NoError(t, os.WriteFile(path, []byte("tickTime=500\nclientPort=0\ndataDir="+data+"\n"), 0o644))
	cfg, err := conf.ParseZooCfg(path)
	require.NoError(t, err)
	runDir := filepath.Join(base, "run")
	t.Cleanup(func() { _, _ = zkserver.Stop(context.Background(), runDir, zkserver.StopOptions{}) })
	_, err = zkserver.Start(context.Background(), cfg, zkserver.Options{RunDir: runDir, Logger: logging.ForTest(t)})
	require.ErrorIs(t, err, privdir.ErrUntrusted)
	require.Contains(t, err.Error(), "data directory of standalone")
	require.Contains(t, err.Error(), data+" is not private to this user: it is owned by uid 65534")
	list, err := zkserver.StatusOf(context.Background(), runDir)
	if err == nil {
		for _, s := range list {
			require.NotEqual(t, zkserver.StateRunning, s.State)
		}
	}
}
