package recovery_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/recovery"
)

func blobNew(t *testing.T) (*recovery.StorageBlobStore, hdfsstore.Store, string) {
	t.Helper()
	st, root := jrsOpenStore(t)
	b, err := recovery.NewBlobStore(st, "cluster-1")
	require.NoError(t, err)
	return b, st, root
}

func blobGet(t *testing.T, b recovery.BlobStore, jobID, key string) ([]byte, error) {
	t.Helper()
	rc, err := b.Get(t.Context(), jobID, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestBlobPutGetDelete(t *testing.T) {
	ctx := t.Context()
	b, st, _ := blobNew(t)

	require.NoError(t, b.Put(ctx, jrsJob1, "p-1234.jar", strings.NewReader("jar bytes")))
	got, err := blobGet(t, b, jrsJob1, "p-1234.jar")
	require.NoError(t, err)
	assert.Equal(t, "jar bytes", string(got))

	// The layout: <clusterPath>/blob/job_<job-id>/<key>.
	names, err := st.List(ctx, "cluster-1/")
	require.NoError(t, err)
	assert.Equal(t, []string{"cluster-1/blob/job_" + jrsJob1 + "/p-1234.jar"}, names)

	// Replace, then an empty blob.
	require.NoError(t, b.Put(ctx, jrsJob1, "p-1234.jar", strings.NewReader("v2")))
	got, err = blobGet(t, b, jrsJob1, "p-1234.jar")
	require.NoError(t, err)
	assert.Equal(t, "v2", string(got))
	require.NoError(t, b.Put(ctx, jrsJob1, "empty", bytes.NewReader(nil)))
	got, err = blobGet(t, b, jrsJob1, "empty")
	require.NoError(t, err)
	assert.Empty(t, got)

	// Same key, another job: separate blobs.
	_, err = blobGet(t, b, jrsJob2, "p-1234.jar")
	require.ErrorIs(t, err, fs.ErrNotExist)

	require.NoError(t, b.Delete(ctx, jrsJob1, "p-1234.jar"))
	_, err = blobGet(t, b, jrsJob1, "p-1234.jar")
	require.ErrorIs(t, err, fs.ErrNotExist)
	err = b.Delete(ctx, jrsJob1, "p-1234.jar")
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), "p-1234.jar")
}

func TestBlobFailedPutKeepsOld(t *testing.T) {
	ctx := t.Context()
	b, _, _ := blobNew(t)
	require.NoError(t, b.Put(ctx, jrsJob1, "k", strings.NewReader("old")))
	boom := errors.New("boom")
	err := b.Put(ctx, jrsJob1, "k", io.MultiReader(strings.NewReader("new"), iotest.ErrReader(boom)))
	require.ErrorIs(t, err, boom)
	got, err := blobGet(t, b, jrsJob1, "k")
	require.NoError(t, err)
	assert.Equal(t, "old", string(got))
}

func TestBlobCorruptDetected(t *testing.T) {
	ctx := t.Context()
	b, _, root := blobNew(t)
	require.NoError(t, b.Put(ctx, jrsJob1, "k", strings.NewReader("some blob content")))
	p := filepath.Join(root, "cluster-1", "blob", "job_"+jrsJob1, "k")
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	raw[0] ^= 0xff
	require.NoError(t, os.WriteFile(p, raw, 0o600))
	_, err = blobGet(t, b, jrsJob1, "k")
	require.ErrorIs(t, err, hdfsstore.ErrCorrupt)
}

func TestBlobDeleteAll(t *testing.T) {
	ctx := t.Context()
	b, st, root := blobNew(t)
	other, err := recovery.NewBlobStore(st, "cluster-2")
	require.NoError(t, err)
	for _, k := range []string{"a", "b", "c"} {
		require.NoError(t, b.Put(ctx, jrsJob1, k, strings.NewReader(k)))
		require.NoError(t, b.Put(ctx, jrsJob2, k, strings.NewReader(k)))
		require.NoError(t, other.Put(ctx, jrsJob1, k, strings.NewReader(k)))
	}
	// A job ID that has jrsJob1 as a prefix must not be caught by DeleteAll(jrsJob1).
	longer := jrsJob1 + "0"
	require.NoError(t, b.Put(ctx, longer, "a", strings.NewReader("a")))

	require.NoError(t, b.DeleteAll(ctx, jrsJob1))
	for _, k := range []string{"a", "b", "c"} {
		_, err := blobGet(t, b, jrsJob1, k)
		require.ErrorIs(t, err, fs.ErrNotExist, k)
		got, err := blobGet(t, b, jrsJob2, k)
		require.NoError(t, err, k)
		assert.Equal(t, k, string(got))
		got, err = blobGet(t, other, jrsJob1, k)
		require.NoError(t, err, k)
		assert.Equal(t, k, string(got))
	}
	_, err = blobGet(t, b, longer, "a")
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "cluster-1", "blob", "job_"+jrsJob1))
	require.ErrorIs(t, err, fs.ErrNotExist, "the job's directory goes too")

	// Nothing left to delete is not an error.
	require.NoError(t, b.DeleteAll(ctx, jrsJob1))
	require.NoError(t, b.DeleteAll(ctx, jrsJob3))
}

func TestBlobBadKeysAndJobIDs(t *testing.T) {
	ctx := t.Context()
	b, st, _ := blobNew(t)
	for _, key := range []string{"", ".", "..", "a/b", "../x", "/abs", "a b", "ü", hdfsstore.TempPrefix + "x", strings.Repeat("k", 256)} {
		t.Run("key "+key, func(t *testing.T) {
			errs := map[string]error{
				"Put":    b.Put(ctx, jrsJob1, key, strings.NewReader("x")),
				"Delete": b.Delete(ctx, jrsJob1, key),
			}
			_, errs["Get"] = b.Get(ctx, jrsJob1, key)
			for op, err := range errs {
				require.ErrorIs(t, err, recovery.ErrInvalidBlobKey, op)
				assert.Contains(t, err.Error(), `"`+key+`"`, op)
			}
		})
	}
	for _, id := range []string{"", "a/b", "..", "JOB"} {
		t.Run("job "+id, func(t *testing.T) {
			errs := map[string]error{
				"Put":       b.Put(ctx, id, "k", strings.NewReader("x")),
				"Delete":    b.Delete(ctx, id, "k"),
				"DeleteAll": b.DeleteAll(ctx, id),
			}
			_, errs["Get"] = b.Get(ctx, id, "k")
			for op, err := range errs {
				require.ErrorIs(t, err, recovery.ErrInvalidJobID, op)
				assert.Contains(t, err.Error(), `"`+id+`"`, op)
			}
		})
	}
	names, err := st.List(ctx, "")
	require.NoError(t, err)
	assert.Empty(t, names, "nothing was written")

	_, err = recovery.NewBlobStore(st, "a//b")
	require.ErrorIs(t, err, hdfsstore.ErrInvalidName)
}
