package privdir_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/privdir"
	"github.com/amkeeper/amkeeper/internal/privdir/privdirtest"
)

func refused(t *testing.T, err error, path, problem string) {
	t.Helper()
	var pe *privdir.Error
	require.ErrorAs(t, err, &pe)
	require.ErrorIs(t, err, privdir.ErrUntrusted)
	require.Equal(t, path, pe.Path)
	require.Equal(t, problem, pe.Problem)
	require.NotEmpty(t, pe.Fix)
}

func TestEnsureCreatesPrivateDirectories(t *testing.T) {
	shared := privdirtest.SharedDir(t)
	dir := filepath.Join(shared, "amkeeper-root", "application_1_0001")
	require.NoError(t, privdir.Ensure(dir))
	for _, d := range []string{filepath.Dir(dir), dir} {
		fi, err := os.Lstat(d)
		require.NoError(t, err)
		require.True(t, fi.IsDir())
		require.Equal(t, fs.FileMode(0o700), fi.Mode().Perm(), d)
	}
	require.NoError(t, privdir.Ensure(dir), "an existing private directory is accepted again")

	// One of ours that others may read and enter (an older umask) is closed:
	// a socket made in it is out of their reach from the start.
	require.NoError(t, os.Chmod(dir, 0o755))
	tightened, err := privdir.EnsureTightened(dir)
	require.NoError(t, err)
	require.True(t, tightened, "the caller learns that it was open")
	fi, err := os.Lstat(dir)
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o700), fi.Mode().Perm())
	tightened, err = privdir.EnsureTightened(dir)
	require.NoError(t, err)
	require.False(t, tightened, "already private")
	require.NoError(t, privdir.Check(dir))
	err = privdir.Check(filepath.Join(dir, "missing"))
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.NotErrorIs(t, err, privdir.ErrUntrusted)
}

// Another user got there first: each kind of squat is refused, naming what is wrong.
func TestSquattedDirectoriesRefused(t *testing.T) {
	shared := privdirtest.SharedDir(t)

	open := filepath.Join(shared, "open")
	privdirtest.AsNobody(t, "mkdir", "-m", "0777", open)
	refused(t, privdir.Ensure(open), open, "it is owned by uid 65534, not by you (uid 0)")
	// The same as a parent: it is neither root's nor ours.
	refused(t, privdir.Ensure(filepath.Join(open, "app")), open, "it is owned by uid 65534, neither root nor you (uid 0)")
	_, err := os.Lstat(filepath.Join(open, "app"))
	require.ErrorIs(t, err, fs.ErrNotExist, "nothing was created in the refused directory")

	closed := filepath.Join(shared, "closed")
	privdirtest.AsNobody(t, "mkdir", "-m", "0700", closed)
	refused(t, privdir.Check(closed), closed, "it is owned by uid 65534, not by you (uid 0)")

	link := filepath.Join(shared, "link")
	privdirtest.AsNobody(t, "ln", "-s", "/root", link)
	refused(t, privdir.Ensure(link), link, "it is a symlink (to /root, owned by uid 65534), not a directory")
	refused(t, privdir.Ensure(filepath.Join(link, "app")), link, "it is a symlink owned by uid 65534")

	// Ours, but others may write to it.
	wide := filepath.Join(shared, "wide")
	require.NoError(t, os.Mkdir(wide, 0o700))
	require.NoError(t, os.Chmod(wide, 0o777))
	refused(t, privdir.Ensure(wide), wide, "its mode is 0777: group or others may write to it")
	refused(t, privdir.Ensure(filepath.Join(wide, "app")), wide, "its mode is 0777: group or others may write to it and it has no sticky bit")
}

func TestCheckSocket(t *testing.T) {
	shared := privdirtest.SharedDir(t)
	// A socket nobody planted inside our own directory (root put it there for the test).
	dir := filepath.Join(shared, "mine")
	require.NoError(t, privdir.Ensure(dir))
	sock := filepath.Join(dir, "rm.sock")
	privdirtest.Plant(t, sock)
	refused(t, privdir.CheckSocket(sock), sock, "the socket is owned by uid 65534, not by you (uid 0)")
	require.NoError(t, os.Lchown(sock, os.Getuid(), os.Getgid()))
	require.NoError(t, privdir.CheckSocket(sock))
	require.ErrorIs(t, privdir.CheckSocket(filepath.Join(dir, "none.sock")), fs.ErrNotExist)

	// A socket in nobody's directory is refused for the directory, before the socket is looked at.
	theirs := filepath.Join(shared, "theirs")
	privdirtest.AsNobody(t, "mkdir", "-m", "0777", theirs)
	refused(t, privdir.CheckSocket(filepath.Join(theirs, "rm.sock")), theirs, "it is owned by uid 65534, not by you (uid 0)")
	require.False(t, errors.Is(privdir.CheckSocket(filepath.Join(theirs, "rm.sock")), fs.ErrNotExist))
}

func TestHome(t *testing.T) {
	t.Setenv(privdir.EnvHome, "/x/home")
	require.Equal(t, "/x/home", privdir.Home())
	t.Setenv(privdir.EnvHome, "")
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/0")
	require.Equal(t, "/run/user/0/amkeeper", privdir.Home())
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("TMPDIR", "/tmp/t")
	require.Equal(t, "/tmp/t/amkeeper-"+privdir.UserName(), privdir.Home())
}
