package hdfsstore_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/hdfsstore/storetest"
)

var fileURI = hdfsstore.FileURI

// openFile opens a file store on a fresh root that does not exist yet.
func openFile(t testing.TB) hdfsstore.Store {
	t.Helper()
	s, err := hdfsstore.Open(context.Background(), fileURI(filepath.Join(t.TempDir(), "store")))
	require.NoError(t, err)
	return s
}

// rootOf returns the local directory of a file store.
func rootOf(t testing.TB, s hdfsstore.Store) string {
	t.Helper()
	u, err := url.Parse(s.URI())
	require.NoError(t, err)
	require.Equal(t, "file", u.Scheme)
	return filepath.FromSlash(u.Path)
}

func localPath(t testing.TB, s hdfsstore.Store, name string) string {
	return filepath.Join(rootOf(t, s), filepath.FromSlash(name))
}

func TestFileStoreConformance(t *testing.T) {
	storetest.Suite{
		Open: func(t *testing.T) hdfsstore.Store { return openFile(t) },
		Corrupt: func(t *testing.T, s hdfsstore.Store, name string, edit func([]byte) []byte) {
			p := localPath(t, s, name)
			raw, err := os.ReadFile(p)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, edit(raw), 0o600))
		},
	}.Run(t)
}

// temporaries returns the temporary files in dir.
func temporaries(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var tmps []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), hdfsstore.TempPrefix) {
			tmps = append(tmps, filepath.Join(dir, e.Name()))
		}
	}
	return tmps
}

func requireMode(t *testing.T, p string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, want, fi.Mode().Perm(), "mode of %s", p)
}

func TestFilePermissions(t *testing.T) {
	ctx := t.Context()
	base := t.TempDir()
	root := filepath.Join(base, "ha", "storage")
	s, err := hdfsstore.Open(ctx, fileURI(root))
	require.NoError(t, err)
	defer s.Close()
	requireMode(t, filepath.Join(base, "ha"), 0o700)
	requireMode(t, root, 0o700)

	const name = "cluster/jobgraphs/submittedJobGraph-abc"
	_, err = hdfsstore.PutBytes(ctx, s, name, []byte("graph"))
	require.NoError(t, err)
	requireMode(t, filepath.Join(root, "cluster"), 0o700)
	requireMode(t, filepath.Join(root, "cluster", "jobgraphs"), 0o700)
	requireMode(t, filepath.Join(root, filepath.FromSlash(name)), 0o600)

	// The temporary of a Put in flight is private too.
	pr, pw := io.Pipe()
	defer pr.Close()
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(ctx, "cluster/jobgraphs/submittedJobGraph-def", pr)
		done <- err
	}()
	_, err = pw.Write([]byte("partial"))
	require.NoError(t, err)
	tmps := temporaries(t, filepath.Join(root, "cluster", "jobgraphs"))
	require.Len(t, tmps, 1)
	requireMode(t, tmps[0], 0o600)
	require.NoError(t, pw.Close())
	require.NoError(t, <-done)
	requireMode(t, filepath.Join(root, "cluster", "jobgraphs", "submittedJobGraph-def"), 0o600)
}

func TestFileFailedPutLeavesOldContentAndNoTemporary(t *testing.T) {
	ctx := t.Context()
	s := openFile(t)
	defer s.Close()
	const name = "cluster/completedCheckpoint-7"
	_, err := hdfsstore.PutBytes(ctx, s, name, []byte("checkpoint 7"))
	require.NoError(t, err)

	boom := errors.New("disk of the source went away")
	src := io.MultiReader(strings.NewReader(strings.Repeat("x", 3<<20)), iotestErrReader{boom})
	_, err = s.Put(ctx, name, src)
	require.ErrorIs(t, err, boom)
	require.Contains(t, err.Error(), name)

	got, err := hdfsstore.GetBytes(ctx, s, name)
	require.NoError(t, err)
	require.Equal(t, "checkpoint 7", string(got))
	require.Empty(t, temporaries(t, filepath.Dir(localPath(t, s, name))), "the temporary is removed")
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

// TestFileForeignFiles covers files the store did not write: a file without a
// trailer is corrupt, never data; a file with an invalid name is not listed.
func TestFileForeignFiles(t *testing.T) {
	ctx := t.Context()
	s := openFile(t)
	defer s.Close()
	root := rootOf(t, s)
	require.NoError(t, os.WriteFile(filepath.Join(root, "handmade"), []byte("hello"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(root, "not a name"), []byte("x"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(root, hdfsstore.TempPrefix+"leftover"), []byte("x"), 0o600))
	require.NoError(t, os.Symlink(filepath.Join(root, "handmade"), filepath.Join(root, "link")))

	names, err := s.List(ctx, "")
	require.NoError(t, err)
	require.Equal(t, []string{"handmade"}, names)

	_, err = hdfsstore.GetBytes(ctx, s, "handmade")
	require.ErrorIs(t, err, hdfsstore.ErrCorrupt)
	require.Contains(t, err.Error(), "too short")
	_, err = s.Stat(ctx, "handmade")
	require.ErrorIs(t, err, hdfsstore.ErrCorrupt)

	require.NoError(t, hdfsstore.RemoveAll(ctx, s, ""))
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	require.Empty(t, entries, "RemoveAll of everything leaves the root empty")
}

func TestFileReopen(t *testing.T) {
	ctx := t.Context()
	s := openFile(t)
	uri := s.URI()
	info, err := hdfsstore.PutBytes(ctx, s, "cluster/job-result-store/job-1", []byte("SUCCEEDED"))
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s, err = hdfsstore.Open(ctx, uri)
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, uri, s.URI())
	st, err := s.Stat(ctx, "cluster/job-result-store/job-1")
	require.NoError(t, err)
	require.Equal(t, info.Checksum, st.Checksum)
	got, err := hdfsstore.GetBytes(ctx, s, "cluster/job-result-store/job-1")
	require.NoError(t, err)
	require.Equal(t, "SUCCEEDED", string(got))
}

func TestFilePutOverDirectoryAndBelowObject(t *testing.T) {
	ctx := t.Context()
	s := openFile(t)
	defer s.Close()
	_, err := hdfsstore.PutBytes(ctx, s, "a/b", []byte("x"))
	require.NoError(t, err)

	_, err = hdfsstore.PutBytes(ctx, s, "a", []byte("y"))
	require.Error(t, err, "a is a directory of other names")
	require.Contains(t, err.Error(), `"a"`)
	_, err = hdfsstore.PutBytes(ctx, s, "a/b/c", []byte("z"))
	require.Error(t, err, "a/b is an object")
	require.Contains(t, err.Error(), "an object by that name exists")

	names, err := s.List(ctx, "")
	require.NoError(t, err)
	require.Equal(t, []string{"a/b"}, names)
	require.Empty(t, temporaries(t, rootOf(t, s)))
	require.Empty(t, temporaries(t, filepath.Join(rootOf(t, s), "a")))
}

func TestOpen(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	cwd, err := os.Getwd()
	require.NoError(t, err)

	t.Run("valid", func(t *testing.T) {
		for uri, want := range map[string]string{
			fileURI(dir) + "/x/../y/":                    fileURI(filepath.Join(dir, "y")),
			"file://localhost" + fileURI(dir)[7:] + "/z": fileURI(filepath.Join(dir, "z")),
			"FILE://" + fileURI(dir)[7:] + "/w":          fileURI(filepath.Join(dir, "w")),
			fileURI(filepath.Join(dir, "sp ace")):        fileURI(filepath.Join(dir, "sp ace")),
		} {
			s, err := hdfsstore.Open(ctx, uri)
			require.NoError(t, err, uri)
			require.Equal(t, want, s.URI(), uri)
			require.DirExists(t, rootOf(t, s))
			require.NoError(t, s.Close())
		}
	})

	file := filepath.Join(dir, "regular")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	cases := []struct {
		uri      string
		sentinel error // nil: any error
		contains []string
	}{
		{"hdfs://namenode:8020", hdfsstore.ErrInvalidURI,
			[]string{`"hdfs://namenode:8020"`, "no absolute path", "hdfs://namenode:port/absolute/path"}},
		{"hdfs://a:1,,b:2/ha", hdfsstore.ErrInvalidURI, []string{"empty namenode address"}},
		{"s3://bucket/ha", hdfsstore.ErrUnsupportedScheme, []string{`"s3://bucket/ha"`, "file:///", "hdfs://"}},
		{"/data/flink/ha", hdfsstore.ErrInvalidURI, []string{`"file:///data/flink/ha"`}},
		{"data/ha", hdfsstore.ErrInvalidURI, []string{fileURI(filepath.Join(cwd, "data/ha"))}},
		{"file:data/ha", hdfsstore.ErrInvalidURI, []string{"relative", fileURI(filepath.Join(cwd, "data/ha"))}},
		{"file://data/ha", hdfsstore.ErrInvalidURI, []string{`host "data"`, "file:///"}},
		{"file://", hdfsstore.ErrInvalidURI, []string{"no path"}},
		{"file:///data?x=1", hdfsstore.ErrInvalidURI, []string{"query"}},
		{"", hdfsstore.ErrInvalidURI, []string{"file:///"}},
		{"::", hdfsstore.ErrInvalidURI, []string{`"::"`}},
		{fileURI(file), nil, []string{"not a directory"}},
		{fileURI(file) + "/below", nil, []string{"not a directory"}},
	}
	for _, c := range cases {
		s, err := hdfsstore.Open(ctx, c.uri)
		require.Error(t, err, "open %q", c.uri)
		require.True(t, s == nil, "open %q returned a non-nil Store", c.uri)
		if c.sentinel != nil {
			require.ErrorIs(t, err, c.sentinel, "open %q", c.uri)
		}
		for _, want := range c.contains {
			require.Contains(t, err.Error(), want, "open %q", c.uri)
		}
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = hdfsstore.Open(cancelled, fileURI(dir))
	require.ErrorIs(t, err, context.Canceled)
}

// TestRemoveAllWithoutRemover covers the fallback of the RemoveAll function.
func TestRemoveAllWithoutRemover(t *testing.T) {
	ctx := t.Context()
	s := struct{ hdfsstore.Store }{openFile(t)} // hides the Remover
	defer s.Close()
	_, ok := hdfsstore.Store(s).(hdfsstore.Remover)
	require.False(t, ok)
	for _, name := range []string{"j/a", "j/b/c", "k"} {
		_, err := hdfsstore.PutBytes(ctx, s, name, nil)
		require.NoError(t, err)
	}
	require.NoError(t, hdfsstore.RemoveAll(ctx, s, "j/"))
	names, err := s.List(ctx, "")
	require.NoError(t, err)
	require.Equal(t, []string{"k"}, names)
}
