package hdfspeer_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/colinmarc/hdfs/v2"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/integration/hdfspeer"
)

func client(t *testing.T, addrs ...string) *hdfs.Client {
	t.Helper()
	c, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: addrs, User: "tester"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

// TestClientRoundTrip drives the unmodified client through everything the peer
// answers: a file of several blocks, reads at offsets, listings of several pages,
// rename over a file, delete and the errors the client interprets.
func TestClientRoundTrip(t *testing.T) {
	peer := hdfspeer.Start(t, hdfspeer.WithBlockSize(1<<20))
	c := client(t, peer.Addr())

	require.NoError(t, c.MkdirAll("/a/b", 0o755))
	data := make([]byte, 2<<20+12345)
	for i := range data {
		data[i] = byte(i * 7)
	}
	w, err := c.Create("/a/b/f")
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.Equal(t, "tester", peer.Owner("/a/b/f"))

	got, err := c.ReadFile("/a/b/f")
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got))
	r, err := c.Open("/a/b/f")
	require.NoError(t, err)
	part := make([]byte, 1000)
	_, err = r.ReadAt(part, 1<<20-500) // across a block boundary
	require.NoError(t, err)
	require.Equal(t, data[1<<20-500:1<<20+500], part)
	require.NoError(t, r.Close())

	_, err = c.Create("/a/b/f")
	require.ErrorIs(t, err, os.ErrExist)
	_, err = c.Stat("/a/missing")
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = c.Create("/a/missing/f")
	require.ErrorIs(t, err, os.ErrNotExist, "create does not make parents")

	require.NoError(t, c.MkdirAll("/many", 0o755))
	for i := range 250 {
		require.NoError(t, c.CreateEmptyFile(fmt.Sprintf("/many/f%03d", i)))
	}
	entries, err := c.ReadDir("/many")
	require.NoError(t, err)
	require.Len(t, entries, 250)
	require.Equal(t, "f249", entries[249].Name())

	require.NoError(t, c.Rename("/many/f000", "/a/b/f"), "rename replaces the target")
	fi, err := c.Stat("/a/b/f")
	require.NoError(t, err)
	require.Zero(t, fi.Size())
	require.Error(t, c.Remove("/many"), "not empty")
	require.NoError(t, c.RemoveAll("/many"))
	_, err = c.Stat("/many/f001")
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Equal(t, []string{"b"}, peer.List("/a"))
}

func TestCompleteFalse(t *testing.T) {
	peer := hdfspeer.Start(t)
	c := client(t, peer.Addr())
	peer.FailComplete(2)
	w, err := c.Create("/f")
	require.NoError(t, err)
	_, err = w.Write([]byte("x"))
	require.NoError(t, err)
	for range 2 {
		require.True(t, hdfs.IsErrReplicating(w.Close()))
	}
	require.NoError(t, w.Close())
	got, err := c.ReadFile("/f")
	require.NoError(t, err)
	require.Equal(t, "x", string(got))
}

func TestStandbyFailover(t *testing.T) {
	peer := hdfspeer.Start(t, hdfspeer.WithStandby())
	c := client(t, peer.StandbyAddr(), peer.Addr())
	require.NoError(t, c.MkdirAll("/ha", 0o755))
	require.Equal(t, 1, peer.Calls("mkdirs"))
}

func TestDropWrite(t *testing.T) {
	peer := hdfspeer.Start(t)
	c := client(t, peer.Addr())
	peer.DropWriteAfter(100 << 10)
	w, err := c.Create("/f")
	require.NoError(t, err)
	_, err = w.Write(make([]byte, 1<<20))
	// Close even after a failed Write, as hdfsstore does: it ends the writer's
	// heartbeat goroutine, which otherwise runs for ever.
	closeErr := w.Close()
	if err == nil {
		err = closeErr
	}
	require.Error(t, err)
	require.False(t, errors.Is(err, io.EOF), "a dropped connection is an error, not an end: %v", err)
}

func TestStopRestart(t *testing.T) {
	peer := hdfspeer.Start(t)
	c := client(t, peer.Addr())
	require.NoError(t, c.MkdirAll("/kept", 0o755))
	peer.Stop()
	_, err := c.Stat("/kept")
	require.Error(t, err)
	peer.Restart()
	c2 := client(t, peer.Addr()) // a fresh client: no backoff to wait out
	fi, err := c2.Stat("/kept")
	require.NoError(t, err)
	require.True(t, fi.IsDir())
}
