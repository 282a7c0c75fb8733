package job

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/hdfsstore"
)

// largeSink is subtask 0 of testJobID's file sink on a fresh file store under
// root; it spills past 1 MiB, so a large part is sealed from spills and memory.
func largeSink(t testing.TB, root string, log zerolog.Logger) (*fileSink, hdfsstore.Store) {
	t.Helper()
	store, err := hdfsstore.Open(context.Background(), "file://"+root)
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	cfg := FileSinkConfig{Path: "counts"}
	s, err := cfg.NewSink(Instance{Job: testJobID, Output: store, OutputRoot: "out", SpillBytes: 1 << 20, Log: log})
	require.NoError(t, err)
	return s.(*fileSink), store
}

// sealLarge writes records until the in-progress part holds at least size bytes,
// seals it as checkpoint id and returns its bytes.
func sealLarge(t testing.TB, s *fileSink, id int64, size int) []byte {
	t.Helper()
	var want []byte
	for v := int64(id) << 32; len(want) < size; v++ {
		require.NoError(t, s.Write(v))
		want = strconv.AppendInt(want, v, 10)
		want = append(want, '\n')
	}
	write, err := s.Seal(id)
	require.NoError(t, err)
	require.NoError(t, write(context.Background()))
	return want
}

// allocated returns the bytes allocated while f runs.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestCommitStreamsALargePart: a part of 6 MiB — many times the store's copy
// buffer and commitBuffer — commits byte-identical, with its sidecar, while the
// commit allocates a small fraction of it (a commit that read the part whole
// would allocate at least the part); a second publish of the same part (the
// pending copy left by a crash) compares the two as streams and removes it.
func TestCommitStreamsALargePart(t *testing.T) {
	const size = 6 << 20
	root := t.TempDir()
	ctx := context.Background()
	s, store := largeSink(t, root, zerolog.New(zerolog.NewTestWriter(t)))
	want := sealLarge(t, s, 1, size)

	var err error
	n := allocated(func() { err = s.Commit(ctx, 1) })
	require.NoError(t, err)
	t.Logf("committing a %d-byte part allocated %d bytes", len(want), n)
	require.Less(t, n, uint64(size/4), "the commit streams the part: it allocates a small fraction of its %d bytes", size)

	onDisk, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(s.finalName(1))))
	require.NoError(t, err)
	require.Equal(t, len(want), len(onDisk))
	require.True(t, string(want) == string(onDisk), "the committed part is byte-identical to what was written")
	got, err := ReadPart(ctx, store, s.finalName(1))
	require.NoError(t, err)
	require.Equal(t, len(want), len(got), "the part verifies against its sidecar")
	_, err = store.Stat(ctx, s.pendingName(1))
	require.ErrorIs(t, err, fs.ErrNotExist, "the pending part is removed")

	// A crash after the publish left the pending copy: the next publish compares
	// them (without holding either) and only removes it.
	_, err = store.Put(ctx, s.pendingName(1), bytes.NewReader(want))
	require.NoError(t, err)
	n = allocated(func() { err = s.publish(ctx, 1, 1) })
	require.NoError(t, err)
	require.Less(t, n, uint64(size/4), "the comparison streams both parts")
	_, err = store.Stat(ctx, s.pendingName(1))
	require.ErrorIs(t, err, fs.ErrNotExist, "the same bytes: the pending copy is removed")
	again, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(s.finalName(1))))
	require.NoError(t, err)
	require.True(t, string(onDisk) == string(again), "the committed part is unchanged")
}

// TestCommitRefusesACorruptPendingPart: a pending part with a flipped byte, and
// one cut short, are refused with an error naming the pending part and the
// corruption; nothing is published (no part, no sidecar) and the pending part
// stays for an operator to look at.
func TestCommitRefusesACorruptPendingPart(t *testing.T) {
	for name, damage := range map[string]func(b []byte) []byte{
		"a flipped byte": func(b []byte) []byte { b[len(b)/2] ^= 1; return b },
		"truncated":      func(b []byte) []byte { return b[:len(b)-100] },
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			ctx := context.Background()
			s, store := largeSink(t, root, zerolog.New(zerolog.NewTestWriter(t)))
			sealLarge(t, s, 1, 3<<20)
			path := filepath.Join(root, filepath.FromSlash(s.pendingName(1)))
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			damaged := damage(b)
			require.NoError(t, os.WriteFile(path, damaged, 0o600))

			err = s.Commit(ctx, 1)
			require.ErrorIs(t, err, hdfsstore.ErrCorrupt)
			require.ErrorContains(t, err, s.pendingName(1))
			t.Logf("refused: %v", err)
			for _, n := range []string{s.finalName(1), sidecarName(s.finalName(1))} {
				_, err := os.Stat(filepath.Join(root, filepath.FromSlash(n)))
				require.ErrorIs(t, err, fs.ErrNotExist, "%s is not published", n)
			}
			names, err := store.List(ctx, "out/counts/")
			require.NoError(t, err)
			require.Equal(t, []string{s.pendingName(1)}, names, "only the pending part, as it was")
			still, err := os.ReadFile(path)
			require.NoError(t, err)
			require.True(t, string(damaged) == string(still), "the pending part is left as it is")
		})
	}
}

// BenchmarkCommitLargePart commits a 64 MiB pending part per iteration: B/op is
// the memory a commit takes, which stays at the copy buffers whatever the part's
// size (compare part-bytes).
func BenchmarkCommitLargePart(b *testing.B) {
	const size = 64 << 20
	ctx := context.Background()
	s, store := largeSink(b, b.TempDir(), zerolog.Nop())
	part := sealLarge(b, s, 1, size)
	require.NoError(b, s.Commit(ctx, 1))
	b.SetBytes(int64(len(part)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for _, n := range []string{s.finalName(1), sidecarName(s.finalName(1))} {
			require.NoError(b, store.Delete(ctx, n))
		}
		_, err := store.Put(ctx, s.pendingName(1), bytes.NewReader(part))
		require.NoError(b, err)
		b.StartTimer()
		require.NoError(b, s.publish(ctx, 1, 1))
	}
	b.ReportMetric(float64(len(part)), "part-bytes")
}

// publishedButFailed is a store whose plain puts publish the object and then
// report a failure, as a put whose directory fsync failed after its rename.
type publishedButFailed struct{ hdfsstore.Store }

func (s publishedButFailed) PutPlain(ctx context.Context, name string, r io.Reader) (hdfsstore.Info, error) {
	if _, err := s.Store.(hdfsstore.Plain).PutPlain(ctx, name, r); err != nil {
		return hdfsstore.Info{}, err
	}
	return hdfsstore.Info{}, errors.New("published, but not known to be durable: sync directory: input/output error")
}

func (s publishedButFailed) GetPlain(ctx context.Context, name string, want *hdfsstore.Info) (io.ReadCloser, error) {
	return s.Store.(hdfsstore.Plain).GetPlain(ctx, name, want)
}

// TestCommitThatMayHavePublishedKeepsTheSidecar: a commit whose put failed after
// publishing the part keeps the part's sidecar, so the committed output still
// reads (before, the sidecar was removed and the published part read as corrupt).
func TestCommitThatMayHavePublishedKeepsTheSidecar(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	store, err := hdfsstore.Open(ctx, "file://"+root)
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	cfg := FileSinkConfig{Path: "counts"}
	sink, err := cfg.NewSink(Instance{Job: testJobID, Output: publishedButFailed{store}, OutputRoot: "out",
		SpillBytes: 1 << 20, Log: zerolog.New(zerolog.NewTestWriter(t))})
	require.NoError(t, err)
	s := sink.(*fileSink)
	want := sealLarge(t, s, 1, 64<<10)
	require.Error(t, s.Commit(ctx, 1), "the put reported a failure")
	_, err = os.Stat(filepath.Join(root, filepath.FromSlash(sidecarName(s.finalName(1)))))
	require.NoError(t, err, "the sidecar stays beside the published part")
	got, err := ReadCommittedJob(ctx, store, "out/counts", testJobID)
	require.NoError(t, err, "the committed output reads")
	require.Len(t, got, bytes.Count(want, []byte("\n")))
}
