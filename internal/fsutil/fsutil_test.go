package fsutil_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/fsutil"
)

func TestWriteFileAtomicReplacesWholeFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state")
	require.NoError(t, fsutil.WriteFileAtomic(p, []byte("one"), 0o600))
	require.NoError(t, fsutil.WriteFileAtomic(p, []byte("two"), 0o644))
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "two", string(b))
	fi, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o644), fi.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left")
}

func TestWriteFileAtomicLeavesTheOldFileOnFailure(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state")
	require.NoError(t, fsutil.WriteFileAtomic(p, []byte("old"), 0o600))
	// A directory where the file goes: the rename fails.
	q := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(q, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(q, "x"), nil, 0o600))
	err := fsutil.WriteFileAtomic(q, []byte("new"), 0o600)
	require.ErrorContains(t, err, q)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 2, "no temporary file is left")
	err = fsutil.WriteFileAtomic(filepath.Join(dir, "missing", "f"), nil, 0o600)
	require.ErrorIs(t, err, fs.ErrNotExist)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "old", string(b))
}
