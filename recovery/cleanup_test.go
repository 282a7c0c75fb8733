package recovery_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/recovery"
)

func TestCleanupStorage(t *testing.T) {
	ctx := t.Context()
	st, root := jrsOpenStore(t)

	// Two clusters, one a string prefix of the other, with every kind of file.
	fill := func(cluster string) {
		results, err := recovery.NewJobResultStore(st, cluster, nil)
		require.NoError(t, err)
		require.NoError(t, results.CreateDirty(ctx, jrsLead, jrsResult(jrsJob1)))
		require.NoError(t, results.CreateDirty(ctx, jrsLead, jrsResult(jrsJob2)))
		require.NoError(t, results.MarkClean(ctx, jrsLead, jrsJob2))
		_, err = hdfsstore.PutBytes(ctx, st, cluster+"/blob/job_"+jrsJob1+"/k", []byte("blob"))
		require.NoError(t, err)
		_, err = recovery.WriteState(ctx, st, cluster+"/jobgraphs/submittedJobGraph-1", []byte("graph"))
		require.NoError(t, err)
		_, err = recovery.WriteState(ctx, st, cluster+"/completedCheckpoint-1", []byte("cp"))
		require.NoError(t, err)
	}
	fill("cluster-1")
	fill("cluster-10")
	// A crashed writer's temporary inside the cluster goes too.
	tmp := filepath.Join(root, "cluster-1", "jobgraphs", hdfsstore.TempPrefix+"crashed")
	require.NoError(t, os.WriteFile(tmp, []byte("partial"), 0o600))

	before, err := st.List(ctx, "cluster-10/")
	require.NoError(t, err)
	require.Len(t, before, 5)

	require.NoError(t, recovery.CleanupStorage(ctx, st, "cluster-1"))

	names, err := st.List(ctx, "cluster-1/")
	require.NoError(t, err)
	assert.Empty(t, names)
	_, err = os.Stat(filepath.Join(root, "cluster-1"))
	assert.ErrorIs(t, err, os.ErrNotExist, "the cluster's directory and temporaries are gone")

	after, err := st.List(ctx, "cluster-10/")
	require.NoError(t, err)
	assert.Equal(t, before, after, "another cluster is untouched")

	// Repeating, or a cluster with nothing stored, is not an error.
	require.NoError(t, recovery.CleanupStorage(ctx, st, "cluster-1"))
	require.NoError(t, recovery.CleanupStorage(ctx, st, "never-used"))
}

func TestCleanupStorageBadClusterPath(t *testing.T) {
	st, _ := jrsOpenStore(t)
	_, err := hdfsstore.PutBytes(t.Context(), st, "keep", []byte("x"))
	require.NoError(t, err)
	for _, p := range []string{"", "/", "..", "a/"} {
		err := recovery.CleanupStorage(t.Context(), st, p)
		require.ErrorIs(t, err, hdfsstore.ErrInvalidName, "%q", p)
	}
	names, err := st.List(t.Context(), "")
	require.NoError(t, err)
	assert.Equal(t, []string{"keep"}, names)
}
