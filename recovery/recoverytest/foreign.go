package recoverytest

import (
	"bytes"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/recovery"
)

// otherPart is a committed output part of another job, in the same storage.
const otherPart = "out/part-job-2-0-3"

// writeRaw stores b under name as is (a file of someone else's, not a payload).
func writeRaw(t *testing.T, e *Env, name string, b []byte) {
	_, err := e.St.Put(Context(t), name, bytes.NewReader(b))
	require.NoError(t, err)
}

// rawBytes reads a stored file as is.
func rawBytes(t *testing.T, e *Env, name string) []byte {
	r, err := e.St.Get(Context(t), name)
	require.NoError(t, err)
	defer r.Close()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return b
}

// foreignPointer is a well-formed pointer to path whose size and checksum match
// b: all a pointer can carry, so only its path gives it away.
func foreignPointer(path string, b []byte) []byte {
	return recovery.Pointer{Version: 1, Path: path, Size: int64(len(b)),
		Checksum: crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))}.Encode()
}

// requireUntouched checks that every file in want is still stored, byte-identical.
func requireUntouched(t *testing.T, e *Env, want map[string][]byte) {
	t.Helper()
	for name, b := range want {
		require.Equal(t, b, rawBytes(t, e, name), "file %s changed", name)
	}
}

// testPointerStoreForeignPointerNeverFollowed rewrites a key's pointer to name
// files that are not the store's own — another store's payload, another job's
// output part, the same part spelled absolute or through ../ — and checks that
// reads refuse them and that replacing or removing the key removes only the
// pointer.
func testPointerStoreForeignPointerNeverFollowed(t *testing.T, e *Env) {
	ctx := Context(t)
	ps := e.Instance().Pointers("/things")
	part := []byte("committed output of job-2\n")
	writeRaw(t, e, otherPart, part)
	otherStore := Cluster + "/submittedJobGraph-a-" + uuid.NewString()
	_, err := recovery.WriteState(ctx, e.St, otherStore, []byte("another store's payload"))
	require.NoError(t, err)
	files := map[string][]byte{otherPart: part, otherStore: rawBytes(t, e, otherStore)}

	for _, c := range []struct{ name, target, path string }{
		{"another payload prefix", otherStore, otherStore},
		{"another job's part", otherPart, otherPart},
		{"absolute path", otherPart, "/" + otherPart},
		{"../ past the prefix", otherPart, Cluster + "/state-a-" + uuid.NewString() + "/../../" + otherPart},
		{"../ from the cluster", otherPart, Cluster + "/../" + otherPart},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.NoError(t, ps.Put(ctx, e.Guard(), "a", []byte("ours")))
			own := e.PayloadOf("state-a-")
			rewrite := func() { e.Backend.WritePointer(t, "/things", "a", foreignPointer(c.path, files[c.target])) }

			rewrite()
			_, err := ps.Get(ctx, "a")
			require.ErrorIs(t, err, recovery.ErrForeignPointer)
			require.ErrorIs(t, err, recovery.ErrCorruptState)
			require.Contains(t, err.Error(), c.path)
			_, err = ps.GetAndLock(ctx, "a")
			require.ErrorIs(t, err, recovery.ErrForeignPointer)
			entries := ps.GetAll(ctx, []string{"a"}, false)
			require.ErrorIs(t, entries[0].Err, recovery.ErrForeignPointer)

			// Replacing the key moves the pointer; the file it named stays.
			require.NoError(t, ps.Put(ctx, e.Guard(), "a", []byte("ours again")))
			got, err := ps.Get(ctx, "a")
			require.NoError(t, err)
			require.Equal(t, "ours again", string(got))
			requireUntouched(t, e, files)

			// Removing the key removes the pointer; the file it named stays.
			rewrite()
			require.NoError(t, ps.ReleaseAndTryRemove(ctx, e.Guard(), "a"))
			require.False(t, e.PointerExists("/things", "a"))
			requireUntouched(t, e, files)

			// The payloads the foreign pointer displaced are orphans, not deleted.
			require.Contains(t, e.Payloads(), own)
			require.NoError(t, e.St.Delete(ctx, own))
			require.NoError(t, e.St.Delete(ctx, e.PayloadOf("state-a-")))
		})
	}
	require.ElementsMatch(t, []string{otherPart, otherStore}, e.Payloads())
}

// testInspectReportsForeignPointers rewrites a job graph pointer to name another
// store's payload and a checkpoint pointer to name another job's output part:
// inspection reports both as foreign (unhealthy), the stores refuse them, and
// clean keeps both pointers, the files they name and the payloads they displaced.
func testInspectReportsForeignPointers(t *testing.T, e *Env) {
	ctx := Context(t)
	c := newInspCluster(t, e)
	c.healthy(t)
	part := []byte("committed output of job-2\n")
	writeRaw(t, e, otherPart, part)
	cp1 := e.PayloadOf("completedCheckpoint-" + inspJob + "-" + strings.Repeat("0", 18) + "1-")
	graph := e.PayloadOf("submittedJobGraph-" + inspJob + "-")
	cp2 := e.PayloadOf("completedCheckpoint-" + inspJob + "-" + strings.Repeat("0", 18) + "2-")
	before := map[string][]byte{}
	for _, n := range e.Payloads() {
		before[n] = rawBytes(t, e, n)
	}

	e.Backend.WritePointer(t, recovery.JobGraphsDir, inspJob, foreignPointer(cp1, before[cp1]))
	e.Backend.WritePointer(t, recovery.CheckpointsDir(inspJob), strings.Repeat("0", 18)+"2", foreignPointer(otherPart, part))

	r := c.inspect(t)
	require.False(t, r.Healthy())
	g := statusOf(t, r, c.p("jobgraphs/"+inspJob))
	assert.Equal(t, recovery.StatusForeign, g.Status)
	assert.Equal(t, cp1, g.Payload)
	assert.Contains(t, g.Detail, cp1)
	cp := statusOf(t, r, c.p(cpPath(2)))
	assert.Equal(t, recovery.StatusForeign, cp.Status)
	assert.Equal(t, otherPart, cp.Payload)
	assert.Equal(t, recovery.StatusOK, statusOf(t, r, c.p(cpPath(1))).Status)
	assert.Len(t, r.Problems(), 2)
	assert.False(t, g.Cleanable())
	assert.Contains(t, r.String(), "foreign")
	// The displaced payloads are orphans now.
	var orphans []string
	for _, o := range r.Orphans {
		orphans = append(orphans, o.Name)
	}
	assert.ElementsMatch(t, []string{graph, cp2}, orphans)

	_, err := c.graphs.Recover(ctx, inspJob)
	require.ErrorIs(t, err, recovery.ErrForeignPointer)

	res, err := c.in.Clean(ctx, r, 0)
	require.NoError(t, err)
	assert.Empty(t, res.Removed)
	kept := map[string]string{}
	for _, k := range res.Kept {
		kept[k.What] = k.Reason
	}
	assert.Contains(t, kept[c.p("jobgraphs/"+inspJob)], "foreign")
	assert.Contains(t, kept[c.p(cpPath(2))], "foreign")
	assert.Contains(t, kept[graph], "foreign")
	assert.Contains(t, kept[cp2], "foreign")
	require.True(t, e.PointerExists(recovery.JobGraphsDir, inspJob))
	require.Equal(t, len(before), len(e.Payloads()))
	requireUntouched(t, e, before)
	requireUntouched(t, e, map[string][]byte{otherPart: part})
}
