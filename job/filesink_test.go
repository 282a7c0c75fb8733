package job

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const otherJobID = JobID("fedcba9876543210fedcba9876543210")

const sinkDir = "out/counts" // OutputDir("out", "counts"), where testGraph's sink writes

// files returns every object under dir with its payload: committed parts read and
// verified as ReadPart does, their checksum sidecars left out.
func files(t testing.TB, store hdfsstore.Store, dir string) map[string]string {
	t.Helper()
	ctx := context.Background()
	names, err := store.List(ctx, dir+"/")
	require.NoError(t, err)
	out := make(map[string]string, len(names))
	for _, n := range names {
		if strings.Contains(n, "/"+checksumDir+"/") {
			continue
		}
		read := hdfsstore.GetBytes
		if p, ok := ParsePart(n); ok && !strings.Contains(n, "/"+pendingDir+"/") && p.Checkpoint >= 0 {
			read = ReadPart
		}
		b, err := read(ctx, store, n)
		require.NoError(t, err)
		out[n] = string(b)
	}
	return out
}

// without returns a copy of m without the given names, each of which must be in m.
func without(t testing.TB, m map[string]string, names ...string) map[string]string {
	t.Helper()
	out := maps.Clone(m)
	for _, n := range names {
		require.Contains(t, out, n)
		delete(out, n)
	}
	return out
}

// requireKept requires every file of want to be in got with the same bytes.
func requireKept(t testing.TB, want, got map[string]string) {
	t.Helper()
	for n, b := range want {
		require.Contains(t, got, n)
		require.Equal(t, b, got[n], "bytes of %s", n)
	}
}

func pendingPart(job JobID, id int64) string {
	return sinkDir + "/" + pendingDir + "/" + partBase(job, 0, id)
}

func committedPart(job JobID, id int64) string { return sinkDir + "/" + partBase(job, 0, id) }

func committedOf(t testing.TB, store hdfsstore.Store, job JobID) []int64 {
	t.Helper()
	out, err := ReadCommittedJob(context.Background(), store, sinkDir, job)
	require.NoError(t, err)
	return out
}

// restoreOnly builds subtask 0 of g and restores it from handle without running it;
// it returns what the task logged.
func restoreOnly(t testing.TB, g Graph, store hdfsstore.Store, handle []byte) (string, error) {
	t.Helper()
	var logs bytes.Buffer
	log := zerolog.New(io.MultiWriter(&logs, zerolog.NewTestWriter(t)))
	task, err := NewTask(g, 0, Env{State: store, StateRoot: "ha/checkpoints", OutputRoot: "out", Log: log})
	require.NoError(t, err)
	err = task.Restore(context.Background(), handle)
	return logs.String(), err
}

func TestPartNames(t *testing.T) {
	dashed := JobID("ab-00001") // a job ID with '-', as recovery.ValidateJobID allows
	for _, tc := range []struct {
		name string
		want Part
		ok   bool
	}{
		{name: "out/counts/part-0123456789abcdef0123456789abcdef-00003-0000000000000000042",
			want: Part{Job: testJobID, Subtask: 3, Checkpoint: 42}, ok: true},
		{name: "out/counts/_pending/part-ab-00001-00002-0000000000000000007",
			want: Part{Job: dashed, Subtask: 2, Checkpoint: 7}, ok: true},
		{name: "part-00001-00002-0000000000000000007", want: Part{Job: "00001", Subtask: 2, Checkpoint: 7}, ok: true},
		{name: "out/counts/part-00003-0000000000000000042", want: Part{Subtask: 3, Checkpoint: 42}, ok: true}, // old format
		{name: "out/counts/part-0123456789abcdef0123456789abcdef-3-0000000000000000042"},                      // width
		{name: "out/counts/part-0123456789abcdef0123456789abcdef-00003-42"},
		{name: "out/counts/part-0123456789abcdef0123456789abcdef-00003-0000000000000000042.bak"},
		{name: "out/counts/part--00003-0000000000000000042"}, // empty job
		{name: "out/counts/part-00003-+000000000000000042"},
		{name: "out/counts/part-0000000000000000042"},
		{name: "out/counts/data-00003-0000000000000000042"},
		{name: "out/counts/part-"},
		{name: ""},
	} {
		p, ok := ParsePart(tc.name)
		require.Equal(t, tc.ok, ok, tc.name)
		if ok {
			tc.want.Name = tc.name
			assert.Equal(t, tc.want, p)
			base := tc.name[strings.LastIndexByte(tc.name, '/')+1:]
			assert.Equal(t, base, partBase(p.Job, p.Subtask, p.Checkpoint), "round trip")
		}
	}

	// The sink names its parts by job, subtask and checkpoint, and needs a job ID.
	cfg := FileSinkConfig{Path: "counts"}
	s, err := cfg.NewSink(Instance{Job: dashed, Subtask: 2, Output: newStore(t), OutputRoot: "out"})
	require.NoError(t, err)
	sink := s.(*fileSink)
	assert.Equal(t, "out/counts/part-ab-00001-00002-0000000000000000007", sink.finalName(7))
	assert.Equal(t, "out/counts/_pending/part-ab-00001-00002-0000000000000000007", sink.pendingName(7))
	_, err = cfg.NewSink(Instance{Subtask: 2, Output: newStore(t)})
	assert.ErrorContains(t, err, "no job ID")
	_, err = cfg.NewSink(Instance{Job: "a/b", Output: newStore(t)})
	assert.Error(t, err)
}

// Two jobs write the same sink path. Neither's restore, from a checkpoint or
// afresh, touches the other's committed or pending parts, and each job's output
// reads back exactly.
func TestSinkJobsShareAPath(t *testing.T) {
	store := newStore(t)
	ga := testGraph(t, 1000, 1)
	gb := ga
	gb.ID = otherJobID

	a := start(t, ga, store, nil, paced)
	a.feed(150)
	ha := a.complete(1) // A: committed part 1, window 0
	a.feed(200)
	require.NoError(t, a.checkpoint(2).Err) // A: pending part 2, windows 1 and 2
	aFiles := files(t, store, sinkDir)
	require.ElementsMatch(t, []string{committedPart(testJobID, 1), pendingPart(testJobID, 2)}, keys(aFiles))

	b := start(t, gb, store, nil, paced) // a fresh start of B while A runs
	assert.Equal(t, aFiles, files(t, store, sinkDir), "B's fresh start changed A's parts")
	b.feed(250)
	b.complete(1) // B: committed part 1, windows 0 and 1
	b.feed(100)
	require.NoError(t, b.checkpoint(2).Err) // B: pending part 2, window 2
	require.ErrorIs(t, a.crash(), context.Canceled)
	require.ErrorIs(t, b.crash(), context.Canceled)
	before := files(t, store, sinkDir)
	requireKept(t, aFiles, before)
	require.Len(t, before, 4)
	assert.Equal(t, windowSums(1), committedOf(t, store, testJobID))
	assert.Equal(t, windowSums(2), committedOf(t, store, otherJobID))

	// A restores from its checkpoint 1: only A's uncovered pending part goes.
	_, err := restoreOnly(t, ga, store, ha)
	require.NoError(t, err)
	afterA := files(t, store, sinkDir)
	assert.Equal(t, without(t, before, pendingPart(testJobID, 2)), afterA)

	// B starts afresh (no readable checkpoint): its pending part goes, its committed
	// part stays (with a warning), A's parts are not touched.
	logs, err := restoreOnly(t, gb, store, nil)
	require.NoError(t, err)
	assert.Equal(t, without(t, afterA, pendingPart(otherJobID, 2)), files(t, store, sinkDir))
	assert.Contains(t, logs, committedPart(otherJobID, 1))
	assert.NotContains(t, logs, string(testJobID))

	// Both finish; each job's output is exact, the directory holds both.
	ra := start(t, ga, store, ha, unpaced)
	ra.finish(3)
	assert.Equal(t, windowSums(10), committedOf(t, store, testJobID))
	assert.Equal(t, windowSums(2), committedOf(t, store, otherJobID))
	all, err := ReadCommitted(context.Background(), store, sinkDir)
	require.NoError(t, err)
	assert.Equal(t, append(windowSums(10), windowSums(2)...), all, "by job, then subtask and checkpoint")
	requireKept(t, without(t, afterA, pendingPart(otherJobID, 2)), files(t, store, sinkDir))
}

// Recovery falls back to checkpoint 1 although 2 completed and its part was
// published (2's metadata is unreadable and an operator chose 1), then to no
// checkpoint at all: every committed byte stays; only the pending part that no
// restored checkpoint covers goes. The replay duplicates the records of part 2.
func TestRestoreFromOlderCheckpointKeepsCommitted(t *testing.T) {
	store := newStore(t)
	g := testGraph(t, 1000, 1)
	r := start(t, g, store, nil, paced)
	r.feed(120)
	h1 := r.complete(1) // window 0
	r.feed(300)
	r.complete(2) // windows 1 to 3
	r.feed(100)
	require.NoError(t, r.checkpoint(3).Err) // window 4, pending
	require.ErrorIs(t, r.crash(), context.Canceled)
	assert.Equal(t, windowSums(4), committed(t, store))
	before := files(t, store, sinkDir)
	require.ElementsMatch(t, []string{committedPart(testJobID, 1), committedPart(testJobID, 2), pendingPart(testJobID, 3)}, keys(before))
	kept := without(t, before, pendingPart(testJobID, 3))

	logs, err := restoreOnly(t, g, store, h1)
	require.NoError(t, err)
	assert.Equal(t, kept, files(t, store, sinkDir))
	assert.Contains(t, logs, committedPart(testJobID, 2), "the warning names the part the replay duplicates")
	assert.NotContains(t, logs, committedPart(testJobID, 1))

	logs, err = restoreOnly(t, g, store, nil) // no checkpoint readable at all
	require.NoError(t, err)
	assert.Equal(t, kept, files(t, store, sinkDir))
	assert.Contains(t, logs, committedPart(testJobID, 1))
	assert.Contains(t, logs, committedPart(testJobID, 2))

	// The job goes on from checkpoint 1 (the checkpoint counter goes on at 4): the
	// earlier parts stay byte for byte; windows 1 to 3 appear twice.
	r = start(t, g, store, h1, paced)
	r.feed(1000 - 120)
	r.finish(4)
	after := files(t, store, sinkDir)
	requireKept(t, kept, after)
	assert.Equal(t, []string{committedPart(testJobID, 1), committedPart(testJobID, 2), committedPart(testJobID, 4)}, keys(after))
	assert.Equal(t, append(windowSums(4), windowSums(10)[1:]...), committed(t, store))
}

// Parts that are not this job's and subtask's own — the old format
// part-<subtask>-<checkpoint>, a job whose ID extends this one's, look-alikes of
// another width — are never touched, pending or committed, through a fresh start,
// checkpoints, a crash and a restore.
func TestSinkLeavesOtherPartsAlone(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	g := testGraph(t, 1000, 1)
	foreign := map[string]string{
		sinkDir + "/part-00000-0000000000000000001":                                "1\n",
		sinkDir + "/part-00000-0000000000000000009":                                "9\n",
		sinkDir + "/_pending/part-00000-0000000000000000002":                       "2\n",
		sinkDir + "/" + partBase(testJobID+"-00000", 0, 3):                         "3\n",
		sinkDir + "/_pending/" + partBase(testJobID+"-00000", 0, 4):                "4\n",
		sinkDir + "/_pending/part-" + string(testJobID) + "-0-0000000000000000005": "5\n",
		sinkDir + "/part-" + string(testJobID) + "-00000-0000000000000000006.bak":  "6\n",
		sinkDir + "/_pending/" + partBase(testJobID, 1, 7):                         "7\n", // subtask 1
		sinkDir + "/nested/" + partBase(testJobID, 0, 8):                           "8\n",
		sinkDir + "/_pending/" + partBase(otherJobID, 0, 2):                        "2\n",
		sinkDir + "/" + partBase(otherJobID, 0, 1):                                 "10\n",
		"out/other/" + partBase(testJobID, 0, 1):                                   "11\n",
	}
	for n, b := range foreign {
		_, err := hdfsstore.PutBytes(ctx, store, n, []byte(b))
		require.NoError(t, err)
	}
	requireForeign := func() {
		t.Helper()
		got := files(t, store, "out")
		for n := range got {
			p, ok := ParsePart(n)
			if ok && p.Job == testJobID && p.Subtask == 0 && (inDir(n, sinkDir) || inDir(n, sinkDir+"/"+pendingDir)) {
				delete(got, n) // the job's own parts
			}
		}
		require.Equal(t, foreign, got)
	}

	r := start(t, g, store, nil, paced)
	requireForeign()
	r.feed(150)
	h1 := r.complete(1)
	r.feed(200)
	require.NoError(t, r.checkpoint(2).Err)
	require.ErrorIs(t, r.crash(), context.Canceled)
	requireForeign()
	_, err := restoreOnly(t, g, store, h1)
	require.NoError(t, err)
	requireForeign()
	r = start(t, g, store, h1, unpaced)
	r.finish(3)
	requireForeign()
	assert.Equal(t, windowSums(10), committedOf(t, store, testJobID))

	// The directory form reads every job's parts, old format first, in a stable order.
	parts, err := CommittedParts(ctx, store, sinkDir)
	require.NoError(t, err)
	var names []string
	for _, p := range parts {
		names = append(names, p.Name)
	}
	assert.Equal(t, []string{
		sinkDir + "/part-00000-0000000000000000001",
		sinkDir + "/part-00000-0000000000000000009",
		committedPart(testJobID, 1),
		committedPart(testJobID, 3),
		sinkDir + "/" + partBase(testJobID+"-00000", 0, 3),
		sinkDir + "/" + partBase(otherJobID, 0, 1),
	}, names)
	all, err := ReadCommitted(ctx, store, sinkDir)
	require.NoError(t, err)
	assert.Equal(t, append(append([]int64{1, 9}, windowSums(10)...), 3, 10), all)
}

// A publish never replaces a committed part with other bytes: it reports
// ErrPartConflict and leaves both; a re-publish of the same bytes is idempotent.
func TestPublishNeverReplacesCommitted(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	g := testGraph(t, 1000, 1)
	r := start(t, g, store, nil, paced)
	r.feed(150)
	r.complete(1)
	r.feed(200)
	res := r.checkpoint(2) // completed by the coordinator; the notification is lost
	require.NoError(t, res.Err)
	require.ErrorIs(t, r.crash(), context.Canceled)
	pending := files(t, store, sinkDir)[pendingPart(testJobID, 2)]
	require.NotEmpty(t, pending)

	// Another execution of the job published other bytes as part 2.
	_, err := hdfsstore.PutBytes(ctx, store, committedPart(testJobID, 2), []byte("7\n"))
	require.NoError(t, err)
	before := files(t, store, sinkDir)
	_, err = restoreOnly(t, g, store, res.Handle)
	require.ErrorIs(t, err, ErrPartConflict)
	assert.ErrorContains(t, err, committedPart(testJobID, 2))
	assert.Equal(t, before, files(t, store, sinkDir))

	// The same bytes already there: published before the crash, the pending copy not
	// yet removed. The restore removes it and changes nothing visible.
	_, err = hdfsstore.PutBytes(ctx, store, committedPart(testJobID, 2), []byte(pending))
	require.NoError(t, err)
	before = files(t, store, sinkDir)
	_, err = restoreOnly(t, g, store, res.Handle)
	require.NoError(t, err)
	assert.Equal(t, without(t, before, pendingPart(testJobID, 2)), files(t, store, sinkDir))

	// The commit of a running task stops at a conflicting part; it and every later
	// part stay pending, and the notification fails.
	r = start(t, g, store, res.Handle, paced)
	r.feed(100)
	require.NoError(t, r.checkpoint(3).Err)
	r.feed(100)
	require.NoError(t, r.checkpoint(4).Err)
	_, err = hdfsstore.PutBytes(ctx, store, committedPart(testJobID, 3), []byte("8\n"))
	require.NoError(t, err)
	before = files(t, store, sinkDir)
	require.ErrorIs(t, r.task.NotifyCheckpointComplete(ctx, 4), ErrPartConflict)
	assert.Equal(t, before, files(t, store, sinkDir))
	assert.Contains(t, before, pendingPart(testJobID, 4))
}

func keys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// TestCommittedPartsArePlainFiles: a committed part on disk holds the records and
// nothing else (what cat shows), its integrity kept by a sidecar in _checksums/; a
// flipped byte or a truncation is still detected on read; a part of the earlier
// format (hdfsstore's trailer, no sidecar) is still read.
func TestCommittedPartsArePlainFiles(t *testing.T) {
	root := t.TempDir()
	store, err := hdfsstore.Open(context.Background(), "file://"+root)
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	g := testGraph(t, 1000, 1)
	r := start(t, g, store, nil, paced)
	r.feed(250)
	r.complete(1) // windows 0 and 1
	require.ErrorIs(t, r.crash(), context.Canceled)

	part := committedPart(testJobID, 1)
	onDisk, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(part)))
	require.NoError(t, err)
	want := ""
	for _, v := range windowSums(2) {
		want += strconv.FormatInt(v, 10) + "\n"
	}
	assert.Equal(t, want, string(onDisk), "the file is the records, one a line, nothing after them")
	sidecar := filepath.Join(root, filepath.FromSlash(sinkDir), checksumDir, partBase(testJobID, 0, 1))
	require.FileExists(t, sidecar)

	// The earlier format beside it: payload and trailer, no sidecar.
	old := sinkDir + "/" + partBase(otherJobID, 0, 1)
	_, err = hdfsstore.PutBytes(context.Background(), store, old, []byte("7\n"))
	require.NoError(t, err)
	all, err := ReadCommitted(context.Background(), store, sinkDir)
	require.NoError(t, err)
	assert.Equal(t, append(windowSums(2), 7), all)

	path := filepath.Join(root, filepath.FromSlash(part))
	flipped := []byte(string(onDisk))
	flipped[0] ^= 1
	require.NoError(t, os.WriteFile(path, flipped, 0o600))
	_, err = ReadCommitted(context.Background(), store, sinkDir)
	require.ErrorIs(t, err, hdfsstore.ErrCorrupt, "a flipped byte is detected")
	assert.Contains(t, err.Error(), "checksum mismatch")

	require.NoError(t, os.WriteFile(path, onDisk[:len(onDisk)-1], 0o600))
	_, err = ReadCommitted(context.Background(), store, sinkDir)
	require.ErrorIs(t, err, hdfsstore.ErrCorrupt, "a truncated part is detected")
	assert.Contains(t, err.Error(), "length mismatch")
}

// TestCommittedPartsCarryTheCommittingLeaderSession: each committed part's
// sidecar records the leader session of the commit that published it and that
// commit's checkpoint — a completion (later parts) or a restore (the parts the
// restored checkpoint covers, published by the restoring leader) — while the
// part itself stays the records only. Publishing again never changes a stamp;
// parts of the earlier formats read with the zero stamp.
func TestCommittedPartsCarryTheCommittingLeaderSession(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	store, err := hdfsstore.Open(ctx, "file://"+root)
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	first, second := uuid.New(), uuid.New()
	g := testGraph(t, 1000, 1)
	g.Execution = "e1"
	r := start(t, g, store, nil, paced)
	r.feed(150)
	require.NoError(t, r.checkpoint(1).Err)
	require.NoError(t, r.task.NotifyCheckpointComplete(WithLeaderSession(ctx, first), 1))
	r.feed(100)
	require.NoError(t, r.checkpoint(2).Err)
	r.feed(100)
	h3 := r.checkpoint(3) // completed by the first leader, whose completion never reached the task
	require.NoError(t, h3.Err)
	require.ErrorIs(t, r.crash(), context.Canceled)

	// The next leader restores from 3 in a new execution: the restore publishes parts 2 and 3.
	g.Execution = "e2"
	restoreUnder := func(session uuid.UUID) {
		task, err := NewTask(g, 0, Env{State: store, StateRoot: "ha/checkpoints", OutputRoot: "out", Log: zerolog.New(zerolog.NewTestWriter(t))})
		require.NoError(t, err)
		require.NoError(t, task.Restore(WithLeaderSession(ctx, session), h3.Handle))
	}
	restoreUnder(second)
	parts, err := CommittedJobParts(ctx, store, sinkDir, testJobID)
	require.NoError(t, err)
	var got []string
	for _, p := range parts {
		st, err := ReadPartStamp(ctx, store, p.Name)
		require.NoError(t, err)
		got = append(got, fmt.Sprintf("%d by %d in %s under %s", p.Checkpoint, st.CommittedBy, st.Execution, st.LeaderSession))
	}
	require.Equal(t, []string{
		fmt.Sprintf("1 by 1 in e1 under %s", first),
		fmt.Sprintf("2 by 3 in e2 under %s", second),
		fmt.Sprintf("3 by 3 in e2 under %s", second),
	}, got)
	onDisk, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(committedPart(testJobID, 1))))
	require.NoError(t, err)
	assert.NotContains(t, string(onDisk), first.String(), "the stamp is in the sidecar, not the part")

	// Published again (a restore from 3 under a third leader): the stamps stay.
	restoreUnder(uuid.New())
	st, err := ReadPartStamp(ctx, store, committedPart(testJobID, 3))
	require.NoError(t, err)
	require.Equal(t, PartStamp{LeaderSession: second, Execution: "e2", CommittedBy: 3}, st)

	// The earlier formats: a trailer part without a sidecar, and a sidecar without a stamp.
	old := sinkDir + "/" + partBase(otherJobID, 0, 1)
	_, err = hdfsstore.PutBytes(ctx, store, old, []byte("7\n"))
	require.NoError(t, err)
	st, err = ReadPartStamp(ctx, store, old)
	require.NoError(t, err)
	require.Equal(t, PartStamp{}, st)
	unstamped := sinkDir + "/" + partBase(otherJobID, 0, 2)
	_, err = hdfsstore.PutBytes(ctx, store, sidecarName(unstamped), []byte(`{"size":2,"crc32c":1}`))
	require.NoError(t, err)
	_, err = hdfsstore.PutPlainBytes(ctx, store, unstamped, []byte("8\n"))
	require.NoError(t, err)
	st, err = ReadPartStamp(ctx, store, unstamped)
	require.NoError(t, err)
	require.Equal(t, PartStamp{}, st)
	_, err = ReadPartStamp(ctx, store, sinkDir+"/"+partBase(otherJobID, 0, 3))
	require.ErrorIs(t, err, fs.ErrNotExist, "no such part")
}
