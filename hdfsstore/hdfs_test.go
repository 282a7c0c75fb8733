package hdfsstore_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/hdfsstore/storetest"
	"github.com/amkeeper/amkeeper/integration/hdfspeer"
)

var hdfsRoots atomic.Int64

// openHDFS opens a store on a fresh root of the peer.
func openHDFS(t testing.TB, peer *hdfspeer.Peer) hdfsstore.Store {
	t.Helper()
	root := fmt.Sprintf("/amk/%s-%d", strings.ReplaceAll(t.Name(), "/", "_"), hdfsRoots.Add(1))
	s, err := hdfsstore.Open(t.Context(), peer.URI(root))
	require.NoError(t, err)
	return s
}

// hdfsPath returns the HDFS path of name in the store s.
func hdfsPath(t testing.TB, s hdfsstore.Store, name string) string {
	t.Helper()
	u, err := url.Parse(s.URI())
	require.NoError(t, err)
	require.Equal(t, "hdfs", u.Scheme)
	return path.Join(u.Path, name)
}

func TestHDFSStoreConformance(t *testing.T) {
	peer := hdfspeer.Start(t)
	storetest.Suite{
		Open: func(t *testing.T) hdfsstore.Store { return openHDFS(t, peer) },
		Corrupt: func(t *testing.T, s hdfsstore.Store, name string, edit func([]byte) []byte) {
			p := hdfsPath(t, s, name)
			raw, err := peer.ReadFile(p)
			require.NoError(t, err)
			require.NoError(t, peer.WriteFile(p, edit(raw)))
		},
	}.Run(t)
}

func TestHDFSRetriesIncompleteClose(t *testing.T) {
	peer := hdfspeer.Start(t)
	s := openHDFS(t, peer)
	defer s.Close()
	ctx := t.Context()

	peer.FailComplete(3)
	before := peer.Calls("complete")
	_, err := hdfsstore.PutBytes(ctx, s, "job/graph", []byte("replicated at last"))
	require.NoError(t, err)
	require.Equal(t, 4, peer.Calls("complete")-before, "three answers of false, then true")
	got, err := hdfsstore.GetBytes(ctx, s, "job/graph")
	require.NoError(t, err)
	require.Equal(t, "replicated at last", string(got))

	// A namenode that never completes the file: Put gives up and leaves nothing.
	peer.FailComplete(1000)
	_, err = hdfsstore.PutBytes(ctx, s, "job/never", []byte("x"))
	require.ErrorContains(t, err, "replication in progress")
	peer.FailComplete(0)
	_, err = s.Stat(ctx, "job/never")
	require.ErrorIs(t, err, fs.ErrNotExist)
	names, err := s.List(ctx, "")
	require.NoError(t, err)
	require.Equal(t, []string{"job/graph"}, names)
	require.Empty(t, temporaryFiles(t, peer, hdfsPath(t, s, "job")))
}

// temporaryFiles returns the temporaries in the HDFS directory dir, read through a
// store on the peer's root.
func temporaryFiles(t *testing.T, peer *hdfspeer.Peer, dir string) []string {
	t.Helper()
	var tmps []string
	for _, name := range peer.List(dir) {
		if strings.HasPrefix(name, hdfsstore.TempPrefix) {
			tmps = append(tmps, name)
		}
	}
	return tmps
}

func TestHDFSFailsOverPastStandby(t *testing.T) {
	peer := hdfspeer.Start(t, hdfspeer.WithStandby())
	uri := peer.URI("/ha/store")
	require.True(t, strings.HasPrefix(uri, "hdfs://"+peer.StandbyAddr()+","), "the standby comes first: %s", uri)
	s, err := hdfsstore.Open(t.Context(), uri)
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, uri, s.URI())

	data := bytes.Repeat([]byte("ha"), 100_000)
	_, err = hdfsstore.PutBytes(t.Context(), s, "obj", data)
	require.NoError(t, err)
	got, err := hdfsstore.GetBytes(t.Context(), s, "obj")
	require.NoError(t, err)
	require.Equal(t, data, got)
}

func TestHDFSDatanodeDropMidWrite(t *testing.T) {
	peer := hdfspeer.Start(t)
	s := openHDFS(t, peer)
	defer s.Close()
	ctx := t.Context()

	old := bytes.Repeat([]byte("old "), 50_000)
	_, err := hdfsstore.PutBytes(ctx, s, "obj", old)
	require.NoError(t, err)

	peer.DropWriteAfter(300 << 10)
	_, err = hdfsstore.PutBytes(ctx, s, "obj", bytes.Repeat([]byte("new "), 200_000))
	require.Error(t, err, "a dropped datanode connection fails the Put")
	t.Logf("put with a dropped datanode connection: %v", err)

	got, err := hdfsstore.GetBytes(ctx, s, "obj")
	require.NoError(t, err)
	require.Equal(t, old, got, "the old content stays")
	names, err := s.List(ctx, "")
	require.NoError(t, err)
	require.Equal(t, []string{"obj"}, names)
	require.Empty(t, temporaryFiles(t, peer, hdfsPath(t, s, "")), "the failed Put removed its temporary")

	// The next Put goes through.
	_, err = hdfsstore.PutBytes(ctx, s, "obj", []byte("newer"))
	require.NoError(t, err)
}

func TestHDFSNamenodeRestart(t *testing.T) {
	peer := hdfspeer.Start(t)
	s := openHDFS(t, peer)
	defer s.Close()
	ctx := t.Context()
	_, err := hdfsstore.PutBytes(ctx, s, "before", []byte("kept"))
	require.NoError(t, err)

	peer.Stop()
	_, err = hdfsstore.PutBytes(ctx, s, "during", []byte("x"))
	require.Error(t, err, "no namenode")
	_, err = s.Stat(ctx, "before")
	require.Error(t, err)
	peer.Restart()

	// The client waits out a backoff before it dials a failed namenode again.
	require.Eventually(t, func() bool {
		_, err := s.Stat(ctx, "before")
		return err == nil
	}, 20*time.Second, 100*time.Millisecond)
	got, err := hdfsstore.GetBytes(ctx, s, "before")
	require.NoError(t, err)
	require.Equal(t, "kept", string(got))
	_, err = hdfsstore.PutBytes(ctx, s, "after", []byte("y"))
	require.NoError(t, err)
	names, err := s.List(ctx, "")
	require.NoError(t, err)
	require.Equal(t, []string{"after", "before"}, names)
}

func TestHDFSOpenURIs(t *testing.T) {
	peer := hdfspeer.Start(t)
	ctx := t.Context()

	s, err := hdfsstore.Open(ctx, peer.URI("/x/../flink//recovery/"))
	require.NoError(t, err)
	require.Equal(t, peer.URI("/flink/recovery"), s.URI())
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent: the client is closed once")

	// No authority: fs.defaultFS from HADOOP_CONF_DIR.
	conf := t.TempDir()
	require.NoError(t, os.WriteFile(conf+"/core-site.xml", []byte(`<?xml version="1.0"?>
<configuration>
  <property><name>fs.defaultFS</name><value>hdfs://`+peer.Addr()+`</value></property>
</configuration>
`), 0o600))
	t.Setenv("HADOOP_CONF_DIR", conf)
	t.Setenv("HADOOP_USER_NAME", "flink")
	s, err = hdfsstore.Open(ctx, "hdfs:///flink/recovery")
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, "hdfs:///flink/recovery", s.URI())
	_, err = hdfsstore.PutBytes(ctx, s, "via-conf", []byte("z"))
	require.NoError(t, err)
	require.Equal(t, "flink", peer.Owner("/flink/recovery/via-conf"), "HADOOP_USER_NAME is the HDFS user")

	t.Setenv("HADOOP_CONF_DIR", t.TempDir())
	_, err = hdfsstore.Open(ctx, "hdfs:///flink/recovery")
	require.ErrorIs(t, err, hdfsstore.ErrInvalidURI)
	require.ErrorContains(t, err, "fs.defaultFS")
}

// TestHDFSRealCluster runs the conformance suite against a real namenode, without
// the corruption cases (they edit raw bytes behind the store's back).
func TestHDFSRealCluster(t *testing.T) {
	addr := os.Getenv("AMKEEPER_TEST_NAMENODE")
	if addr == "" {
		t.Skip("set AMKEEPER_TEST_NAMENODE=host:port to run the hdfs:// conformance suite against a real cluster " +
			"(it writes under /tmp/amkeeper-test-<pid> as HADOOP_USER_NAME or the OS user)")
	}
	base := fmt.Sprintf("hdfs://%s/tmp/amkeeper-test-%d", addr, os.Getpid())
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) hdfsstore.Store {
		s, err := hdfsstore.Open(context.Background(), fmt.Sprintf("%s/%d", base, n.Add(1)))
		require.NoError(t, err)
		return s
	})
	s, err := hdfsstore.Open(context.Background(), base)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, hdfsstore.RemoveAll(context.Background(), s, ""))
}
