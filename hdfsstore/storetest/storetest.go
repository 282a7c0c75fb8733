// Package storetest is the conformance suite every hdfsstore.Store backend must
// pass. A backend's test calls Run (or Suite.Run) with a function that returns a
// fresh, empty store; each subtest gets its own and runs in parallel with the others.
//
//	func TestConformance(t *testing.T) {
//		storetest.Suite{Open: openFresh, Corrupt: corruptOnDisk}.Run(t)
//	}
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/hdfsstore"
)

// Suite describes a backend to the conformance suite.
type Suite struct {
	// Open returns a fresh, empty store for one subtest (a new root directory). It
	// is called from parallel subtests. The suite closes the store when the subtest
	// ends. Required.
	Open func(t *testing.T) hdfsstore.Store

	// Corrupt replaces the raw stored bytes of the object name (payload and
	// trailer) by edit(raw), behind the store's back, as a faulty disk or a foreign
	// writer would. Optional: without it the corruption subtests do not run.
	Corrupt func(t *testing.T, s hdfsstore.Store, name string, edit func(raw []byte) []byte)
}

// Run runs the suite without the corruption subtests.
func Run(t *testing.T, open func(t *testing.T) hdfsstore.Store) {
	Suite{Open: open}.Run(t)
}

// Run runs every subtest of the suite.
func (su Suite) Run(t *testing.T) {
	require.NotNil(t, su.Open, "storetest: Suite.Open is required")
	tests := []struct {
		name string
		fn   func(t *testing.T, s hdfsstore.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"EdgeNames", testEdgeNames},
		{"Overwrite", testOverwrite},
		{"Stat", testStat},
		{"List", testList},
		{"ListHidesTemporaries", testListHidesTemporaries},
		{"Delete", testDelete},
		{"Missing", testMissing},
		{"InvalidNames", testInvalidNames},
		{"FailingReader", testFailingReader},
		{"ConcurrentDistinctNames", testConcurrentDistinctNames},
		{"ConcurrentSameName", testConcurrentSameName},
		{"Cancelled", testCancelled},
		{"RemoveAll", testRemoveAll},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, su.open(t))
		})
	}
	t.Run("Plain", func(t *testing.T) {
		t.Parallel()
		su.testPlain(t)
	})
	if su.Corrupt != nil {
		t.Run("Corruption", func(t *testing.T) {
			t.Parallel()
			su.testCorruption(t)
		})
	}
}

func (su Suite) open(t *testing.T) hdfsstore.Store {
	t.Helper()
	s := su.Open(t)
	require.NotNil(t, s, "Suite.Open returned nil")
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

// content returns n deterministic pseudo-random bytes.
func content(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func crc32c(b []byte) uint32 {
	return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
}

// requireContent asserts that name holds want, without dumping megabytes on failure.
func requireContent(t *testing.T, s hdfsstore.Store, name string, want []byte) {
	t.Helper()
	got, err := hdfsstore.GetBytes(t.Context(), s, name)
	require.NoError(t, err, "get %q", name)
	require.Equal(t, len(want), len(got), "length of %q", name)
	require.True(t, bytes.Equal(want, got), "content of %q differs", name)
}

func put(t *testing.T, s hdfsstore.Store, name string, b []byte) hdfsstore.Info {
	t.Helper()
	info, err := hdfsstore.PutBytes(t.Context(), s, name, b)
	require.NoError(t, err, "put %q", name)
	return info
}

func testRoundTrip(t *testing.T, s hdfsstore.Store) {
	ctx := t.Context()
	cases := []struct {
		name string
		data []byte
		// wrap shapes how Put's source delivers the bytes.
		wrap func(io.Reader) io.Reader
	}{
		{"empty", nil, nil},
		{"small", []byte("hello, jobmanager"), iotest.OneByteReader},
		{"chunk-boundary", content(256<<10, 1), nil},
		{"data-with-eof", content(100_003, 2), iotest.DataErrReader},
		{"multi-MiB", content(3<<20+17, 3), iotest.HalfReader},
	}
	for _, c := range cases {
		name := "roundtrip/" + c.name
		var src io.Reader = bytes.NewReader(c.data)
		if c.wrap != nil {
			src = c.wrap(src)
		}
		info, err := s.Put(ctx, name, src)
		require.NoError(t, err, "put %q", name)
		assert.Equal(t, name, info.Name)
		assert.Equal(t, int64(len(c.data)), info.Size, "size of %q", name)
		assert.Equal(t, crc32c(c.data), info.Checksum, "checksum of %q", name)
		assert.False(t, info.ModTime.IsZero(), "mod time of %q", name)

		requireContent(t, s, name, c.data)

		rc, err := s.Get(ctx, name)
		require.NoError(t, err)
		if len(c.data) <= 1<<20 {
			// Reads of every size, io.EOF repeated, no bytes after the end.
			require.NoError(t, iotest.TestReader(rc, c.data), "reader of %q", name)
		} else {
			got, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(rc, 4096)))
			require.NoError(t, err)
			require.Equal(t, c.data[:4096], got)
			rest, err := io.ReadAll(rc)
			require.NoError(t, err)
			require.True(t, bytes.Equal(c.data[4096:], rest), "streamed content of %q", name)
		}
		require.NoError(t, rc.Close())
		require.NoError(t, rc.Close(), "Close of a Get reader is idempotent")

		st, err := s.Stat(ctx, name)
		require.NoError(t, err)
		assert.Equal(t, info.Name, st.Name)
		assert.Equal(t, info.Size, st.Size)
		assert.Equal(t, info.Checksum, st.Checksum)
	}
}

func testEdgeNames(t *testing.T, s hdfsstore.Store) {
	names := []string{
		"single",
		".hidden",
		"...",
		"-dash",
		"UPPER_lower-09.x",
		"a/b/c/d/e/f/g/h",
		strings.Repeat("n", 255),
		"cluster/blob/job_0a1b/blob_p-abcdef0123-4567",
	}
	for i, name := range names {
		put(t, s, name, []byte(fmt.Sprint(i)))
	}
	for i, name := range names {
		requireContent(t, s, name, []byte(fmt.Sprint(i)))
	}
	got, err := s.List(t.Context(), "")
	require.NoError(t, err)
	want := slices.Clone(names)
	slices.Sort(want)
	require.Equal(t, want, got)
}

func testOverwrite(t *testing.T, s hdfsstore.Store) {
	ctx := t.Context()
	put(t, s, "job/graph", content(1<<20, 4))
	info := put(t, s, "job/graph", []byte("shorter"))
	requireContent(t, s, "job/graph", []byte("shorter"))
	st, err := s.Stat(ctx, "job/graph")
	require.NoError(t, err)
	assert.Equal(t, info.Size, st.Size)
	assert.Equal(t, info.Checksum, st.Checksum)
	names, err := s.List(ctx, "")
	require.NoError(t, err)
	require.Equal(t, []string{"job/graph"}, names)

	put(t, s, "job/graph", nil)
	requireContent(t, s, "job/graph", nil)
}

func testStat(t *testing.T, s hdfsstore.Store) {
	ctx := t.Context()
	_, err := s.Stat(ctx, "stat/x")
	require.ErrorIs(t, err, fs.ErrNotExist)

	data := content(12345, 5)
	info := put(t, s, "stat/x", data)
	st, err := s.Stat(ctx, "stat/x")
	require.NoError(t, err)
	require.Equal(t, hdfsstore.Info{Name: "stat/x", Size: 12345, Checksum: crc32c(data), ModTime: st.ModTime}, st)
	require.False(t, st.ModTime.IsZero())
	require.WithinDuration(t, info.ModTime, st.ModTime, time.Minute, "Put and Stat report the write time")
}

func testList(t *testing.T, s hdfsstore.Store) {
	ctx := t.Context()
	all := []string{"a/b/c", "a/b/d", "a/b/e/f", "a/bc", "a-x", "a.c", "b", "z/y/x"}
	for _, name := range all {
		put(t, s, name, []byte(name))
	}
	sorted := slices.Clone(all)
	slices.Sort(sorted)
	cases := []struct {
		prefix string
		want   []string
	}{
		{"", sorted},
		{"a", []string{"a-x", "a.c", "a/b/c", "a/b/d", "a/b/e/f", "a/bc"}},
		{"a/", []string{"a/b/c", "a/b/d", "a/b/e/f", "a/bc"}},
		{"a/b", []string{"a/b/c", "a/b/d", "a/b/e/f", "a/bc"}},
		{"a/b/", []string{"a/b/c", "a/b/d", "a/b/e/f"}},
		{"a/b/e", []string{"a/b/e/f"}},
		{"a/b/c", []string{"a/b/c"}},
		{"b", []string{"b"}},
		{"b/", nil},                 // b is an object, not a directory
		{"b/x/", nil},               // below an object
		{"nothing", nil},            // no such name
		{"nothing/deeper/", nil},    // no such directory
		{"z/y/x/", nil},             // x is an object
		{"a/b/zz", nil},             // no match in an existing directory
		{hdfsstore.TempPrefix, nil}, // temporaries are never listed
	}
	for _, c := range cases {
		got, err := s.List(ctx, c.prefix)
		require.NoError(t, err, "list %q", c.prefix)
		if len(c.want) == 0 {
			require.Empty(t, got, "list %q", c.prefix)
			continue
		}
		require.Equal(t, c.want, got, "list %q", c.prefix)
	}
}

// testListHidesTemporaries holds a Put open mid-stream, so its temporary exists, and
// checks that nothing sees it.
func testListHidesTemporaries(t *testing.T, s hdfsstore.Store) {
	ctx := t.Context()
	put(t, s, "dir/visible", []byte("v"))

	pr, pw := io.Pipe()
	defer pr.Close() // unblocks the Put if the test fails early
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(ctx, "dir/inflight", pr)
		done <- err
	}()
	// Write returns once Put has consumed the bytes, so its temporary exists now.
	_, err := pw.Write(content(64<<10, 6))
	require.NoError(t, err)

	names, err := s.List(ctx, "")
	require.NoError(t, err)
	require.Equal(t, []string{"dir/visible"}, names, "a Put in flight is not listed")
	_, err = s.Stat(ctx, "dir/inflight")
	require.ErrorIs(t, err, fs.ErrNotExist, "a Put in flight is not visible")

	boom := errors.New("source failed")
	require.NoError(t, pw.CloseWithError(boom))
	require.ErrorIs(t, <-done, boom)

	names, err = s.List(ctx, "dir/")
	require.NoError(t, err)
	require.Equal(t, []string{"dir/visible"}, names)
	_, err = s.Get(ctx, "dir/inflight")
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func testDelete(t *testing.T, s hdfsstore.Store) {
	ctx := t.Context()
	put(t, s, "del/a", []byte("a"))
	put(t, s, "del/b", []byte("b"))
	put(t, s, "del/sub/c", []byte("c"))

	require.NoError(t, s.Delete(ctx, "del/a"))
	_, err := s.Get(ctx, "del/a")
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorIs(t, s.Delete(ctx, "del/a"), fs.ErrNotExist, "second delete")

	// A prefix of other names is not an object.
	require.ErrorIs(t, s.Delete(ctx, "del/sub"), fs.ErrNotExist)
	requireContent(t, s, "del/sub/c", []byte("c"))

	names, err := s.List(ctx, "del/")
	require.NoError(t, err)
	require.Equal(t, []string{"del/b", "del/sub/c"}, names)

	// The name is free again.
	put(t, s, "del/a", []byte("again"))
	requireContent(t, s, "del/a", []byte("again"))
}

func testMissing(t *testing.T, s hdfsstore.Store) {
	ctx := t.Context()
	put(t, s, "present/obj", []byte("x"))
	for _, name := range []string{
		"absent",
		"absent/deeper/obj",
		"present/other",
		"present",           // a directory of other names, not an object
		"present/obj/below", // below an object
	} {
		_, err := s.Get(ctx, name)
		require.ErrorIs(t, err, fs.ErrNotExist, "get %q", name)
		_, err = s.Stat(ctx, name)
		require.ErrorIs(t, err, fs.ErrNotExist, "stat %q", name)
		require.ErrorIs(t, s.Delete(ctx, name), fs.ErrNotExist, "delete %q", name)
		_, err = hdfsstore.GetBytes(ctx, s, name)
		require.ErrorIs(t, err, fs.ErrNotExist, "get bytes %q", name)
	}
}

func testInvalidNames(t *testing.T, s hdfsstore.Store) {
	ctx := t.Context()
	invalid := []string{
		"",
		"/abs",
		"trailing/",
		"a//b",
		".",
		"..",
		"a/./b",
		"a/../b",
		"../escape",
		"sp ace",
		`back\slash`,
		"col:on",
		"ünïcode",
		"nul\x00",
		hdfsstore.TempPrefix + "x",
		"dir/" + hdfsstore.TempPrefix + "x/y",
		strings.Repeat("n", 256),
	}
	for _, name := range invalid {
		quoted := fmt.Sprintf("%q", name)
		check := func(op string, err error) {
			t.Helper()
			require.ErrorIs(t, err, hdfsstore.ErrInvalidName, "%s %s", op, quoted)
			require.Contains(t, err.Error(), quoted, "%s: the error names the name", op)
		}
		require.ErrorIs(t, hdfsstore.ValidateName(name), hdfsstore.ErrInvalidName, quoted)
		_, err := s.Put(ctx, name, strings.NewReader("x"))
		check("put", err)
		_, err = s.Get(ctx, name)
		check("get", err)
		_, err = s.Stat(ctx, name)
		check("stat", err)
		check("delete", s.Delete(ctx, name))
	}
	for _, prefix := range []string{"/abs", "/", "../x", "a//b", "a/../", "a/./b/c", "sp ace/x"} {
		_, err := s.List(ctx, prefix)
		require.ErrorIs(t, err, hdfsstore.ErrInvalidName, "list %q", prefix)
		require.ErrorIs(t, hdfsstore.RemoveAll(ctx, s, prefix), hdfsstore.ErrInvalidName, "remove all %q", prefix)
	}
	names, err := s.List(ctx, "")
	require.NoError(t, err)
	require.Empty(t, names, "nothing was stored")
}

// failingReader delivers n bytes and then fails.
type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	k := min(len(p), r.n)
	clear(p[:k])
	r.n -= k
	return k, nil
}

func testFailingReader(t *testing.T, s hdfsstore.Store) {
	ctx := t.Context()
	old := content(300_000, 7)
	put(t, s, "fail/obj", old)

	boom := errors.New("source failed midway")
	_, err := s.Put(ctx, "fail/obj", &failingReader{n: 1 << 20, err: boom})
	require.ErrorIs(t, err, boom)
	requireContent(t, s, "fail/obj", old)

	_, err = s.Put(ctx, "fail/new", &failingReader{n: 1000, err: boom})
	require.ErrorIs(t, err, boom)
	_, err = s.Stat(ctx, "fail/new")
	require.ErrorIs(t, err, fs.ErrNotExist, "a failed Put of a new name leaves nothing")

	names, err := s.List(ctx, "")
	require.NoError(t, err)
	require.Equal(t, []string{"fail/obj"}, names)
}

func testConcurrentDistinctNames(t *testing.T, s hdfsstore.Store) {
	ctx := t.Context()
	const writers, rounds = 8, 6
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range rounds {
				name := fmt.Sprintf("conc/w%d/obj%d", w, i%2)
				data := content(10_000+1000*w+i, uint64(w*100+i))
				if _, err := hdfsstore.PutBytes(ctx, s, name, data); !assert.NoError(t, err) {
					return
				}
				got, err := hdfsstore.GetBytes(ctx, s, name)
				if !assert.NoError(t, err) || !assert.True(t, bytes.Equal(data, got), "content of %q", name) {
					return
				}
			}
		})
	}
	wg.Wait()
	names, err := s.List(ctx, "conc/")
	require.NoError(t, err)
	require.Len(t, names, writers*2)
	for w := range writers {
		for i := rounds - 2; i < rounds; i++ {
			requireContent(t, s, fmt.Sprintf("conc/w%d/obj%d", w, i%2), content(10_000+1000*w+i, uint64(w*100+i)))
		}
	}
}

// testConcurrentSameName races writers of two contents against readers: every read
// returns one of them whole.
func testConcurrentSameName(t *testing.T, s hdfsstore.Store) {
	ctx := t.Context()
	const name = "same/obj"
	versions := [][]byte{content(1<<20, 8), content(700_001, 9)}
	put(t, s, name, versions[0])
	const writers, readers, rounds = 3, 3, 8
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range rounds {
				_, err := hdfsstore.PutBytes(ctx, s, name, versions[(w+i)%2])
				if !assert.NoError(t, err) {
					return
				}
			}
		})
	}
	for range readers {
		wg.Go(func() {
			for range rounds {
				got, err := hdfsstore.GetBytes(ctx, s, name)
				if !assert.NoError(t, err) {
					return
				}
				if !assert.True(t, bytes.Equal(got, versions[0]) || bytes.Equal(got, versions[1]),
					"read %d bytes that are neither version", len(got)) {
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := hdfsstore.GetBytes(ctx, s, name)
	require.NoError(t, err)
	require.True(t, bytes.Equal(got, versions[0]) || bytes.Equal(got, versions[1]))
}

// cancellingReader cancels its context after delivering after bytes and then keeps
// delivering up to limit, so that a Put which ignored the cancellation succeeds.
type cancellingReader struct {
	cancel       context.CancelFunc
	after, limit int
	n            int
}

func (r *cancellingReader) Read(p []byte) (int, error) {
	if r.n >= r.limit {
		return 0, io.EOF
	}
	k := min(len(p), r.limit-r.n, 32<<10)
	clear(p[:k])
	r.n += k
	if r.n >= r.after {
		r.cancel()
	}
	return k, nil
}

func testCancelled(t *testing.T, s hdfsstore.Store) {
	old := content(50_000, 10)
	put(t, s, "cancel/obj", old)

	done, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Put(done, "cancel/new", strings.NewReader("x"))
	require.ErrorIs(t, err, context.Canceled, "put")
	_, err = s.Stat(t.Context(), "cancel/new")
	require.ErrorIs(t, err, fs.ErrNotExist, "a cancelled Put leaves nothing")
	_, err = s.Stat(done, "cancel/obj")
	require.ErrorIs(t, err, context.Canceled, "stat")
	_, err = s.List(done, "")
	require.ErrorIs(t, err, context.Canceled, "list")
	require.ErrorIs(t, s.Delete(done, "cancel/obj"), context.Canceled, "delete")
	_, err = hdfsstore.GetBytes(done, s, "cancel/obj")
	require.ErrorIs(t, err, context.Canceled, "get")
	requireContent(t, s, "cancel/obj", old)

	// Cancelled while the payload streams in: the old content stays.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, err = s.Put(ctx, "cancel/obj", &cancellingReader{cancel: cancel, after: 1 << 20, limit: 64 << 20})
	require.ErrorIs(t, err, context.Canceled, "put cancelled midway")
	requireContent(t, s, "cancel/obj", old)
	names, err := s.List(t.Context(), "")
	require.NoError(t, err)
	require.Equal(t, []string{"cancel/obj"}, names)

	// Cancelled while the payload streams out: the reader stops.
	big := content(2<<20, 11)
	put(t, s, "cancel/big", big)
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	rc, err := s.Get(ctx, "cancel/big")
	require.NoError(t, err)
	defer rc.Close()
	_, err = io.ReadFull(rc, make([]byte, 4096))
	require.NoError(t, err)
	cancel()
	_, err = io.Copy(io.Discard, rc)
	require.ErrorIs(t, err, context.Canceled, "get cancelled midway")
}

func testRemoveAll(t *testing.T, s hdfsstore.Store) {
	ctx := t.Context()
	for _, name := range []string{"r/a/x", "r/a/y/z", "r/ab", "r/b/z", "other"} {
		put(t, s, name, []byte(name))
	}
	list := func(prefix string) []string {
		t.Helper()
		names, err := s.List(ctx, prefix)
		require.NoError(t, err)
		return names
	}
	require.NoError(t, hdfsstore.RemoveAll(ctx, s, "r/a/"))
	require.Equal(t, []string{"other", "r/ab", "r/b/z"}, list(""))
	require.NoError(t, hdfsstore.RemoveAll(ctx, s, "r/a"), "a string prefix")
	require.Equal(t, []string{"other", "r/b/z"}, list(""))
	require.NoError(t, hdfsstore.RemoveAll(ctx, s, "missing/"), "nothing to remove")
	require.NoError(t, hdfsstore.RemoveAll(ctx, s, "other/"), "an object is not a directory")
	require.Equal(t, []string{"other", "r/b/z"}, list(""))
	require.NoError(t, hdfsstore.RemoveAll(ctx, s, ""))
	require.Empty(t, list(""))

	// The store stays usable, also where directories went away.
	put(t, s, "r/a/x", []byte("back"))
	requireContent(t, s, "r/a/x", []byte("back"))
}

func testClose(t *testing.T, s hdfsstore.Store) {
	ctx := t.Context()
	put(t, s, "obj", []byte("x"))
	rc, err := s.Get(ctx, "obj")
	require.NoError(t, err)
	require.NotEmpty(t, s.URI())

	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")

	got, err := io.ReadAll(rc)
	require.NoError(t, err, "a reader outlives its store")
	require.Equal(t, []byte("x"), got)
	require.NoError(t, rc.Close())

	_, err = hdfsstore.PutBytes(ctx, s, "obj", []byte("y"))
	require.ErrorIs(t, err, hdfsstore.ErrClosed, "put")
	_, err = s.Get(ctx, "obj")
	require.ErrorIs(t, err, hdfsstore.ErrClosed, "get")
	_, err = s.Stat(ctx, "obj")
	require.ErrorIs(t, err, hdfsstore.ErrClosed, "stat")
	require.ErrorIs(t, s.Delete(ctx, "obj"), hdfsstore.ErrClosed, "delete")
	_, err = s.List(ctx, "")
	require.ErrorIs(t, err, hdfsstore.ErrClosed, "list")
	require.ErrorIs(t, hdfsstore.RemoveAll(ctx, s, ""), hdfsstore.ErrClosed, "remove all")
}

func (su Suite) testCorruption(t *testing.T) {
	data := content(100_000, 12)
	cases := []struct {
		name string
		edit func(raw []byte) []byte
		// statOK: Stat reads only the trailer, so it cannot see this corruption.
		statOK bool
		// checksum: the error must be a payload checksum mismatch.
		checksum bool
	}{
		{"payload-bit-flip", func(raw []byte) []byte { raw[10] ^= 0x01; return raw }, true, true},
		{"payload-last-byte", func(raw []byte) []byte { raw[len(data)-1] ^= 0x80; return raw }, true, true},
		{"trailer-last-byte", func(raw []byte) []byte { raw[len(raw)-1] ^= 0x01; return raw }, false, false},
		{"trailer-first-byte", func(raw []byte) []byte { raw[len(data)] ^= 0x01; return raw }, false, false},
		{"truncated-by-one", func(raw []byte) []byte { return raw[:len(raw)-1] }, false, false},
		{"truncated-to-half", func(raw []byte) []byte { return raw[:len(raw)/2] }, false, false},
		{"emptied", func(raw []byte) []byte { return raw[:0] }, false, false},
		{"byte-appended", func(raw []byte) []byte { return append(raw, 'x') }, false, false},
		{"byte-dropped", func(raw []byte) []byte { return raw[1:] }, false, false},
		{"foreign", func([]byte) []byte { return []byte("written by someone else\n") }, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := su.open(t)
			ctx := t.Context()
			name := "corrupt/" + c.name
			put(t, s, name, data)
			su.Corrupt(t, s, name, c.edit)

			_, err := s.Stat(ctx, name)
			if c.statOK {
				require.NoError(t, err, "stat reads the intact trailer")
			} else {
				requireCorrupt(t, err, name)
			}
			_, err = hdfsstore.GetBytes(ctx, s, name)
			requireCorrupt(t, err, name)
			if c.checksum {
				var ce *hdfsstore.ChecksumError
				require.ErrorAs(t, err, &ce)
				require.Equal(t, crc32c(data), ce.Want)
				require.NotEqual(t, ce.Want, ce.Got)
			}

			// Streaming: the reader never ends in io.EOF.
			rc, err := s.Get(ctx, name)
			if err == nil {
				_, err = io.Copy(io.Discard, rc)
				require.NoError(t, rc.Close())
			}
			requireCorrupt(t, err, name)

			// A corrupt object can still be found and removed.
			names, err := s.List(ctx, "corrupt/")
			require.NoError(t, err)
			require.Equal(t, []string{name}, names)
			require.NoError(t, s.Delete(ctx, name))
			put(t, s, name, data)
			requireContent(t, s, name, data)
		})
	}
}

func requireCorrupt(t *testing.T, err error, name string) {
	t.Helper()
	require.ErrorIs(t, err, hdfsstore.ErrCorrupt)
	var ce *hdfsstore.ChecksumError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, name, ce.Name)
	require.Contains(t, err.Error(), fmt.Sprintf("%q", name))
}

// testPlain: a plain object holds the payload only (what a reader of the file sees),
// is checked against the caller's record, and is refused by Get; with Corrupt, an
// edited plain object is detected against the record.
func (su Suite) testPlain(t *testing.T) {
	s := su.open(t)
	ctx := t.Context()
	payload := []byte("1\n2\n3\n")
	info, err := hdfsstore.PutPlainBytes(ctx, s, "out/part-0", payload)
	require.NoError(t, err)
	assert.Equal(t, int64(len(payload)), info.Size)
	assert.Equal(t, crc32c(payload), info.Checksum)
	assert.Equal(t, crc32c(payload), hdfsstore.Checksum(payload))

	raw, err := hdfsstore.GetPlainBytes(ctx, s, "out/part-0", nil)
	require.NoError(t, err)
	assert.Equal(t, payload, raw, "the file holds the payload and nothing else")
	got, err := hdfsstore.GetPlainBytes(ctx, s, "out/part-0", &info)
	require.NoError(t, err)
	assert.Equal(t, payload, got)
	_, err = hdfsstore.GetBytes(ctx, s, "out/part-0")
	require.ErrorIs(t, err, hdfsstore.ErrCorrupt, "Get refuses a file without a trailer")

	wrong := info
	wrong.Checksum++
	_, err = hdfsstore.GetPlainBytes(ctx, s, "out/part-0", &wrong)
	require.ErrorIs(t, err, hdfsstore.ErrCorrupt)
	short := info
	short.Size--
	_, err = hdfsstore.GetPlainBytes(ctx, s, "out/part-0", &short)
	require.ErrorIs(t, err, hdfsstore.ErrCorrupt)
	_, err = hdfsstore.GetPlainBytes(ctx, s, "out/missing", &info)
	require.ErrorIs(t, err, fs.ErrNotExist)
	names, err := s.List(ctx, "out/")
	require.NoError(t, err)
	assert.Equal(t, []string{"out/part-0"}, names)

	if su.Corrupt == nil {
		return
	}
	su.Corrupt(t, s, "out/part-0", func(raw []byte) []byte {
		b := bytes.Clone(raw)
		b[0] = '7'
		return b
	})
	_, err = hdfsstore.GetPlainBytes(ctx, s, "out/part-0", &info)
	var ce *hdfsstore.ChecksumError
	require.ErrorAs(t, err, &ce, "a flipped byte is detected against the record")
	assert.Equal(t, info.Checksum, ce.Want)
}
