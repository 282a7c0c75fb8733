package recovery_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/recoverytest"
)

// jrsLead is the leadership the tests write results under.
var jrsLead = recoverytest.NewFlagGuard()

const (
	jrsJob1 = "a3f0c1d2e4b5968778695a4b3c2d1e0f"
	jrsJob2 = "0123456789abcdef0123456789abcdef"
	jrsJob3 = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
)

// jrsOpenStore opens a fresh file:// store; it returns the store and its local root.
func jrsOpenStore(t *testing.T) (hdfsstore.Store, string) {
	t.Helper()
	root := t.TempDir()
	st, err := hdfsstore.Open(t.Context(), "file://"+filepath.ToSlash(root))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st, root
}

func jrsNew(t *testing.T) (*recovery.StorageJobResultStore, hdfsstore.Store, string) {
	t.Helper()
	st, root := jrsOpenStore(t)
	s, err := recovery.NewJobResultStore(st, "cluster-1", nil)
	require.NoError(t, err)
	return s, st, root
}

func jrsResult(id string) recovery.JobResult {
	return recovery.JobResult{
		JobID:       id,
		State:       "SUCCEEDED",
		Finished:    time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
		Diagnostics: "done",
	}
}

func jrsExists(t *testing.T, st hdfsstore.Store, name string) bool {
	t.Helper()
	_, err := st.Stat(t.Context(), name)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	require.NoError(t, err)
	return true
}

func jrsHas(t *testing.T, s recovery.JobResultStore, id string) bool {
	t.Helper()
	ok, err := s.Has(t.Context(), id)
	require.NoError(t, err)
	return ok
}

func jrsDirty(t *testing.T, s recovery.JobResultStore) []recovery.JobResult {
	t.Helper()
	d, err := s.Dirty(t.Context())
	require.NoError(t, err)
	return d
}

const (
	jrsDirtyName = "cluster-1/job-result-store/" + jrsJob1 + "_DIRTY.json"
	jrsCleanName = "cluster-1/job-result-store/" + jrsJob1 + ".json"
)

func TestJobResultLifecycle(t *testing.T) {
	ctx := t.Context()
	s, st, _ := jrsNew(t)

	// Nothing yet.
	assert.False(t, jrsHas(t, s, jrsJob1))
	assert.Empty(t, jrsDirty(t, s))

	// Dirty.
	r := jrsResult(jrsJob1)
	require.NoError(t, s.CreateDirty(ctx, jrsLead, r))
	assert.True(t, jrsExists(t, st, jrsDirtyName))
	assert.False(t, jrsExists(t, st, jrsCleanName))
	assert.True(t, jrsHas(t, s, jrsJob1))
	assert.False(t, jrsHas(t, s, jrsJob2))
	assert.Equal(t, []recovery.JobResult{r}, jrsDirty(t, s))

	// Clean.
	require.NoError(t, s.MarkClean(ctx, jrsLead, jrsJob1))
	assert.False(t, jrsExists(t, st, jrsDirtyName))
	assert.True(t, jrsExists(t, st, jrsCleanName))
	assert.True(t, jrsHas(t, s, jrsJob1))
	assert.Empty(t, jrsDirty(t, s))

	// Idempotent.
	require.NoError(t, s.MarkClean(ctx, jrsLead, jrsJob1))
	assert.True(t, jrsHas(t, s, jrsJob1))
	assert.Empty(t, jrsDirty(t, s))

	// The clean file carries the same result, in versioned JSON.
	b, err := hdfsstore.GetBytes(ctx, st, jrsCleanName)
	require.NoError(t, err)
	assert.JSONEq(t, `{"version":1,"result":{"jobId":"`+jrsJob1+`","state":"SUCCEEDED",`+
		`"finished":"2024-05-01T12:00:00Z","diagnostics":"done"}}`, string(b))
}

func TestJobResultCrashBetweenCleanAndDelete(t *testing.T) {
	ctx := t.Context()
	s, st, _ := jrsNew(t)
	require.NoError(t, s.CreateDirty(ctx, jrsLead, jrsResult(jrsJob1)))
	require.NoError(t, s.CreateDirty(ctx, jrsLead, jrsResult(jrsJob2)))

	// What MarkClean leaves when it dies after writing the clean file.
	b, err := hdfsstore.GetBytes(ctx, st, jrsDirtyName)
	require.NoError(t, err)
	_, err = hdfsstore.PutBytes(ctx, st, jrsCleanName, b)
	require.NoError(t, err)
	require.True(t, jrsExists(t, st, jrsDirtyName))

	assert.True(t, jrsHas(t, s, jrsJob1))
	assert.Equal(t, []recovery.JobResult{jrsResult(jrsJob2)}, jrsDirty(t, s), "clean wins over a leftover dirty file")
	err = s.CreateDirty(ctx, jrsLead, jrsResult(jrsJob1))
	require.ErrorIs(t, err, recovery.ErrJobResultExists)

	// MarkClean again finishes the job: the leftover dirty file goes.
	require.NoError(t, s.MarkClean(ctx, jrsLead, jrsJob1))
	assert.False(t, jrsExists(t, st, jrsDirtyName))
	assert.True(t, jrsExists(t, st, jrsCleanName))
	assert.True(t, jrsHas(t, s, jrsJob1))
	assert.Equal(t, []recovery.JobResult{jrsResult(jrsJob2)}, jrsDirty(t, s))
}

func TestJobResultDuplicateCreateDirty(t *testing.T) {
	ctx := t.Context()
	s, _, _ := jrsNew(t)
	require.NoError(t, s.CreateDirty(ctx, jrsLead, jrsResult(jrsJob1)))

	other := jrsResult(jrsJob1)
	other.State = "FAILED"
	err := s.CreateDirty(ctx, jrsLead, other)
	require.ErrorIs(t, err, recovery.ErrJobResultExists)
	assert.Contains(t, err.Error(), jrsJob1)
	assert.Equal(t, []recovery.JobResult{jrsResult(jrsJob1)}, jrsDirty(t, s), "the first result stays")

	require.NoError(t, s.MarkClean(ctx, jrsLead, jrsJob1))
	err = s.CreateDirty(ctx, jrsLead, other)
	require.ErrorIs(t, err, recovery.ErrJobResultExists, "a clean result refuses too")
	assert.Contains(t, err.Error(), jrsJob1)
	assert.Empty(t, jrsDirty(t, s))
}

func TestJobResultDirtyOrderAndForeignFiles(t *testing.T) {
	ctx := t.Context()
	s, st, _ := jrsNew(t)
	for _, id := range []string{jrsJob3, jrsJob1, jrsJob2} {
		require.NoError(t, s.CreateDirty(ctx, jrsLead, jrsResult(id)))
	}
	// Names that are not results of this store are ignored.
	for _, name := range []string{
		"cluster-1/job-result-store/README",
		"cluster-1/job-result-store/NOT-A-JOB_DIRTY.json",
		"cluster-1/job-result-store/sub/" + jrsJob1 + "_DIRTY.json",
		"cluster-2/job-result-store/" + jrsJob1 + "_DIRTY.json",
	} {
		_, err := hdfsstore.PutBytes(ctx, st, name, []byte("x"))
		require.NoError(t, err)
	}
	got := jrsDirty(t, s)
	require.Len(t, got, 3)
	assert.Equal(t, []string{jrsJob2, jrsJob3, jrsJob1}, []string{got[0].JobID, got[1].JobID, got[2].JobID})
}

func TestJobResultMarkCleanWithoutResult(t *testing.T) {
	s, _, _ := jrsNew(t)
	err := s.MarkClean(t.Context(), jrsLead, jrsJob1)
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), jrsJob1)
}

func TestJobResultBadState(t *testing.T) {
	s, _, _ := jrsNew(t)
	r := jrsResult(jrsJob1)
	r.State = "RUNNING"
	err := s.CreateDirty(t.Context(), jrsLead, r)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "RUNNING")
	assert.False(t, jrsHas(t, s, jrsJob1))
}

func TestJobResultBadJobIDs(t *testing.T) {
	ctx := t.Context()
	s, _, _ := jrsNew(t)
	long := make([]byte, 65)
	for i := range long {
		long[i] = 'a'
	}
	for _, id := range []string{"", "../etc", "a/b", "ABCDEF", "job-1", "-abc", "abc-", "ab cd", string(long), "é"} {
		t.Run(id, func(t *testing.T) {
			require.Error(t, recovery.ValidateJobID(id))
			r := jrsResult(id)
			errs := map[string]error{"CreateDirty": s.CreateDirty(ctx, jrsLead, r), "MarkClean": s.MarkClean(ctx, jrsLead, id)}
			_, errs["Has"] = s.Has(ctx, id)
			for op, err := range errs {
				require.ErrorIs(t, err, recovery.ErrInvalidJobID, op)
				assert.Contains(t, err.Error(), `"`+id+`"`, op)
			}
		})
	}
	for _, id := range []string{jrsJob1, jrsJob3, "0", "f-0"} {
		assert.NoError(t, recovery.ValidateJobID(id), id)
	}
}

func TestJobResultBadClusterPath(t *testing.T) {
	st, _ := jrsOpenStore(t)
	for _, p := range []string{"", "/abs", "a/../b", "a/"} {
		_, err := recovery.NewJobResultStore(st, p, nil)
		require.ErrorIs(t, err, hdfsstore.ErrInvalidName, p)
	}
}

func TestJobResultCorrupt(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, st hdfsstore.Store, root string)
	}{
		{"bad JSON", func(t *testing.T, st hdfsstore.Store, _ string) {
			_, err := hdfsstore.PutBytes(ctx, st, jrsDirtyName, []byte("{not json"))
			require.NoError(t, err)
		}},
		{"unknown version", func(t *testing.T, st hdfsstore.Store, _ string) {
			_, err := hdfsstore.PutBytes(ctx, st, jrsDirtyName, []byte(`{"version":2,"result":{"jobId":"`+jrsJob1+`"}}`))
			require.NoError(t, err)
		}},
		{"another job's result", func(t *testing.T, st hdfsstore.Store, _ string) {
			_, err := hdfsstore.PutBytes(ctx, st, jrsDirtyName, []byte(`{"version":1,"result":{"jobId":"`+jrsJob2+`"}}`))
			require.NoError(t, err)
		}},
		{"bad checksum on disk", func(t *testing.T, st hdfsstore.Store, root string) {
			s, err := recovery.NewJobResultStore(st, "cluster-1", nil)
			require.NoError(t, err)
			require.NoError(t, s.CreateDirty(ctx, jrsLead, jrsResult(jrsJob1)))
			p := filepath.Join(root, filepath.FromSlash(jrsDirtyName))
			raw, err := os.ReadFile(p)
			require.NoError(t, err)
			raw[5] ^= 0xff // inside the payload
			require.NoError(t, os.WriteFile(p, raw, 0o600))
		}},
		{"not an hdfsstore object", func(t *testing.T, st hdfsstore.Store, root string) {
			p := filepath.Join(root, filepath.FromSlash(jrsDirtyName))
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
			require.NoError(t, os.WriteFile(p, []byte(`{"version":1}`), 0o600))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, st, root := jrsNew(t)
			tc.write(t, st, root)

			_, err := s.Dirty(ctx)
			require.ErrorIs(t, err, recovery.ErrCorruptState)
			assert.Contains(t, err.Error(), jrsDirtyName)

			err = s.MarkClean(ctx, jrsLead, jrsJob1)
			require.ErrorIs(t, err, recovery.ErrCorruptState)
			assert.False(t, jrsExists(t, st, jrsCleanName), "a corrupt result is not made clean")

			assert.True(t, jrsHas(t, s, jrsJob1), "a corrupt result still counts as a result")
		})
	}
}

// TestJobResultWritesAreFenced: a deposed leader writes no dirty result, and does
// not make one clean; the result it could not clean stays dirty for the next one.
func TestJobResultWritesAreFenced(t *testing.T) {
	ctx := t.Context()
	s, _, _ := jrsNew(t)
	old := recoverytest.NewFlagGuard()
	old.Depose()
	require.ErrorIs(t, s.CreateDirty(ctx, old, jrsResult(jrsJob1)), recovery.ErrNotLeader)
	assert.False(t, jrsHas(t, s, jrsJob1), "nothing written")

	require.NoError(t, s.CreateDirty(ctx, jrsLead, jrsResult(jrsJob2)))
	require.ErrorIs(t, s.MarkClean(ctx, old, jrsJob2), recovery.ErrNotLeader)
	dirty := jrsDirty(t, s)
	require.Len(t, dirty, 1)
	assert.Equal(t, jrsJob2, dirty[0].JobID, "still dirty")
	r, err := s.Result(ctx, jrsJob2)
	require.NoError(t, err)
	assert.Equal(t, jrsResult(jrsJob2).State, r.State)
	_, err = s.Result(ctx, jrsJob1)
	require.ErrorIs(t, err, fs.ErrNotExist)
}
