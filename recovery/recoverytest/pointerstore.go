package recovery_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/integration/hdfspeer"
	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

const hsCluster = "cluster-1"

func hsCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func hsLog(t testing.TB) zerolog.Logger {
	if _, ok := t.(*testing.B); ok {
		return zerolog.Nop() // benchmarks: no per-put log lines
	}
	return logging.ForTest(t)
}

// hsConnect connects a zkclient under root.
func hsConnect(t testing.TB, c *zktest.Cluster, root string) *zkclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := zkclient.Connect(ctx, zkclient.Config{
		Servers: c.Addrs(), Root: root, SessionTimeout: 4 * time.Second,
		ConnectionTimeout: 5 * time.Second, RetryWait: 50 * time.Millisecond, MaxRetries: 3,
		Logger: hsLog(t),
	})
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	return cl
}

// zkGuard is a test-only leadership: an ephemeral node of its own session,
// checked at version 0 by every guarded write. Deposing it deletes the node or
// closes its client; its Err stays nil, so the multi-op check is what fences.
type zkGuard struct {
	cl   *zkclient.Client
	path string
	id   uuid.UUID
}

var guardSeq atomic.Int64

func newZKGuard(t testing.TB, root string) *zkGuard {
	t.Helper()
	cl := hsConnect(t, zkc, root)
	ctx := hsCtx(t)
	require.NoError(t, cl.EnsurePath(ctx, "/leader/latch"))
	p, err := cl.Create(ctx, fmt.Sprintf("/leader/latch/test-%d", guardSeq.Add(1)), nil, zk.FlagEphemeral)
	require.NoError(t, err)
	return &zkGuard{cl: cl, path: p, id: uuid.New()}
}

func (g *zkGuard) SessionID() uuid.UUID { return g.id }
func (g *zkGuard) Err() error           { return nil }
func (g *zkGuard) GuardOps() []zkclient.Op {
	return []zkclient.Op{zkclient.CheckOp{Path: g.path, Version: 0}}
}
func (g *zkGuard) deleteNode(t testing.TB) {
	require.NoError(t, g.cl.Delete(hsCtx(t), g.path, -1))
}
func (g *zkGuard) closeClient() { g.cl.Close() }

// flagGuard is a test-only embedded leadership whose loss is a flag.
type flagGuard struct {
	id      uuid.UUID
	deposed atomic.Bool
}

func (g *flagGuard) SessionID() uuid.UUID { return g.id }
func (g *flagGuard) Err() error {
	if g.deposed.Load() {
		return fmt.Errorf("%w: leader session %s revoked", recovery.ErrNotLeader, g.id)
	}
	return nil
}
func (g *flagGuard) GuardOps() []zkclient.Op { return nil }

// haEnv is one backend of the conformance suites: ZooKeeper under a fresh root
// or embedded pointer files in a fresh directory, with a file:// storage — or,
// for ZooKeeper, hdfs:// storage on the in-process HDFS peer.
type haEnv struct {
	peer    *hdfspeer.Peer // hdfs:// storage; nil for file://
	t       testing.TB
	zk      bool
	root    string           // ZooKeeper root
	inspect *zkclient.Client // ZooKeeper: looks at znodes under root
	local   string           // embedded: pointer directory
	dir     *recovery.EmbeddedDir
	stDir   string
	st      hdfsstore.Store
	guard   recovery.Guard
	depose  func()
}

// hsInst is one AM instance of an environment.
type hsInst struct {
	e  *haEnv
	id uuid.UUID
	cl *zkclient.Client
}

func newHAEnv(t testing.TB, useZK, useHDFS bool) *haEnv {
	t.Helper()
	e := &haEnv{t: t, zk: useZK, stDir: t.TempDir()}
	uri := "file://" + e.stDir
	if useHDFS {
		e.peer = hdfspeer.Start(t)
		uri = e.peer.URI(hdfsRoot)
	}
	st, err := hdfsstore.Open(hsCtx(t), uri)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	e.st = st
	if useZK {
		e.root = zkc.Root(t)
		e.inspect = hsConnect(t, zkc, e.root)
		g := newZKGuard(t, e.root)
		e.guard, e.depose = g, func() { g.deleteNode(t) }
	} else {
		e.local = t.TempDir()
		d, err := recovery.NewEmbeddedDir(e.local)
		require.NoError(t, err)
		e.dir = d
		g := &flagGuard{id: uuid.New()}
		e.guard, e.depose = g, func() { g.deposed.Store(true) }
	}
	return e
}

// hdfsRoot is the storage directory on the HDFS peer.
const hdfsRoot = "/flink/recovery"

// eachBackend runs f against ZooKeeper and against the embedded backend with
// file:// storage, and against ZooKeeper with hdfs:// storage.
func eachBackend(t *testing.T, f func(t *testing.T, e *haEnv)) {
	for _, b := range []struct {
		name       string
		zk, onHDFS bool
	}{{"zookeeper", true, false}, {"embedded", false, false}, {"zookeeper-hdfs", true, true}} {
		t.Run(b.name, func(t *testing.T) { f(t, newHAEnv(t, b.zk, b.onHDFS)) })
	}
}

func (e *haEnv) instance() *hsInst {
	i := &hsInst{e: e, id: uuid.New()}
	if e.zk {
		i.cl = hsConnect(e.t, zkc, e.root)
	}
	return i
}

func (i *hsInst) pointers(dir string) recovery.PointerStore {
	t := i.e.t
	cfg := recovery.PointerStoreConfig{Dir: dir, Storage: i.e.st, PayloadPrefix: hsCluster + "/state-",
		Instance: i.id, Logger: hsLog(t)}
	var ps recovery.PointerStore
	if i.e.zk {
		ps = recovery.NewZooKeeperPointerStore(i.cl, cfg)
	} else {
		eps, err := recovery.NewEmbeddedPointerStore(hsCtx(t), i.e.dir, cfg)
		require.NoError(t, err)
		ps = eps
	}
	t.Cleanup(func() { ps.Close() })
	return ps
}

// payloads lists every object in storage.
func (e *haEnv) payloads() []string {
	names, err := e.st.List(hsCtx(e.t), "")
	require.NoError(e.t, err)
	return names
}

// payloadOf returns the one payload whose name contains part.
func (e *haEnv) payloadOf(part string) string {
	var found []string
	for _, n := range e.payloads() {
		if strings.Contains(n, part) {
			found = append(found, n)
		}
	}
	require.Len(e.t, found, 1, "payloads containing %q: %v", part, found)
	return found[0]
}

// pointerExists reports whether the pointer of key exists in dir (marked or not).
func (e *haEnv) pointerExists(dir, key string) bool {
	if e.zk {
		ok, _, err := e.inspect.Exists(hsCtx(e.t), dir+"/"+key)
		require.NoError(e.t, err)
		return ok
	}
	_, err := os.Stat(filepath.Join(e.local, dir, key))
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	require.NoError(e.t, err)
	return true
}

// snapshot captures every znode (path and data) under the root, or every pointer
// file, plus the storage listing.
func (e *haEnv) snapshot() map[string]string {
	out := map[string]string{}
	for _, n := range e.payloads() {
		out["storage:"+n] = ""
	}
	if e.zk {
		var walk func(p string)
		walk = func(p string) {
			data, _, err := e.inspect.Get(hsCtx(e.t), p)
			require.NoError(e.t, err)
			out["zk:"+p] = string(data)
			kids, _, err := e.inspect.Children(hsCtx(e.t), p)
			require.NoError(e.t, err)
			for _, k := range kids {
				if p == "/" {
					walk("/" + k)
				} else {
					walk(p + "/" + k)
				}
			}
		}
		walk("/")
		return out
	}
	require.NoError(e.t, filepath.WalkDir(e.local, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out["file:"+p] = string(b)
		return err
	}))
	return out
}

// flipByte corrupts a stored payload in place.
func (e *haEnv) flipByte(name string) {
	if e.peer != nil {
		p := hdfsRoot + "/" + name
		b, err := e.peer.ReadFile(p)
		require.NoError(e.t, err)
		b[0] ^= 0xff
		require.NoError(e.t, e.peer.WriteFile(p, b))
		return
	}
	p := filepath.Join(e.stDir, filepath.FromSlash(name))
	b, err := os.ReadFile(p)
	require.NoError(e.t, err)
	b[0] ^= 0xff
	require.NoError(e.t, os.WriteFile(p, b, 0o600))
}

func TestPointerStorePutGetReplaceRemove(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *haEnv) {
		ctx := hsCtx(t)
		ps := e.instance().pointers("/things")

		keys, err := ps.Keys(ctx)
		require.NoError(t, err)
		require.Empty(t, keys)
		_, err = ps.Get(ctx, "a")
		require.ErrorIs(t, err, recovery.ErrNotFound)

		require.NoError(t, ps.Put(ctx, e.guard, "a", []byte("one")))
		require.NoError(t, ps.Put(ctx, e.guard, "b", []byte("two")))
		first := e.payloadOf("state-a-")
		got, err := ps.Get(ctx, "a")
		require.NoError(t, err)
		require.Equal(t, "one", string(got))

		// Replace: new payload, the old one deleted after the pointer moved.
		require.NoError(t, ps.Put(ctx, e.guard, "a", []byte("one, again")))
		got, err = ps.GetAndLock(ctx, "a")
		require.NoError(t, err)
		require.Equal(t, "one, again", string(got))
		require.NotEqual(t, first, e.payloadOf("state-a-"))

		keys, err = ps.Keys(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"a", "b"}, keys)

		entries := ps.GetAll(ctx, []string{"b", "a", "missing"}, true)
		require.Len(t, entries, 3)
		require.Equal(t, "b", entries[0].Key)
		require.Equal(t, "two", string(entries[0].Payload))
		require.Equal(t, "one, again", string(entries[1].Payload))
		require.ErrorIs(t, entries[2].Err, recovery.ErrNotFound)

		require.NoError(t, ps.Release(ctx, "a"))
		require.NoError(t, ps.ReleaseAndTryRemove(ctx, e.guard, "a"))
		require.False(t, e.pointerExists("/things", "a"))
		_, err = ps.Get(ctx, "a")
		require.ErrorIs(t, err, recovery.ErrNotFound)
		require.Len(t, e.payloads(), 1) // only b's
		require.NoError(t, ps.ReleaseAndTryRemove(ctx, e.guard, "a"), "removing a missing key")

		require.Error(t, ps.Put(ctx, e.guard, "../x", nil))
		require.Error(t, ps.Put(ctx, e.guard, "locks", nil))
	})
}

func TestPointerStoreDeposedChangesNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *haEnv) {
		ctx := hsCtx(t)
		ps := e.instance().pointers("/things")
		require.NoError(t, ps.Put(ctx, e.guard, "a", []byte("one")))
		before := e.snapshot()

		e.depose()
		require.ErrorIs(t, ps.Put(ctx, e.guard, "b", []byte("new")), recovery.ErrNotLeader)
		require.ErrorIs(t, ps.Put(ctx, e.guard, "a", []byte("replaced")), recovery.ErrNotLeader)
		require.ErrorIs(t, ps.ReleaseAndTryRemove(ctx, e.guard, "a"), recovery.ErrNotLeader)

		after := e.snapshot()
		if e.zk { // the guard node itself is what deposing deleted
			for k := range before {
				if strings.Contains(k, "/leader/latch/test-") {
					delete(before, k)
				}
			}
		}
		require.Equal(t, before, after)
		got, err := ps.Get(ctx, "a")
		require.NoError(t, err)
		require.Equal(t, "one", string(got))
	})
}

func TestPointerStoreGuardClientClosed(t *testing.T) {
	e := newHAEnv(t, true, false)
	ctx := hsCtx(t)
	ps := e.instance().pointers("/things")
	g := newZKGuard(t, e.root)
	require.NoError(t, ps.Put(ctx, g, "a", []byte("one")))
	before := e.payloads()
	g.closeClient() // the session ends: its ephemeral node goes at once
	require.ErrorIs(t, ps.Put(ctx, g, "a", []byte("two")), recovery.ErrNotLeader)
	require.ErrorIs(t, ps.Put(ctx, g, "b", []byte("two")), recovery.ErrNotLeader)
	require.Equal(t, before, e.payloads())
	require.False(t, e.pointerExists("/things", "b"))
}

func TestPointerStoreDanglingAndCorrupt(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *haEnv) {
		ctx := hsCtx(t)
		ps := e.instance().pointers("/things")
		require.NoError(t, ps.Put(ctx, e.guard, "gone", []byte("payload")))
		require.NoError(t, ps.Put(ctx, e.guard, "bent", []byte("payload")))

		require.NoError(t, e.st.Delete(ctx, e.payloadOf("state-gone-")))
		_, err := ps.Get(ctx, "gone")
		require.ErrorIs(t, err, recovery.ErrDanglingPointer)
		require.ErrorIs(t, err, fs.ErrNotExist)

		e.flipByte(e.payloadOf("state-bent-"))
		_, err = ps.GetAndLock(ctx, "bent")
		require.ErrorIs(t, err, recovery.ErrCorruptState)

		// Both can still be removed.
		require.NoError(t, ps.ReleaseAndTryRemove(ctx, e.guard, "gone"))
		require.NoError(t, ps.ReleaseAndTryRemove(ctx, e.guard, "bent"))
		require.Empty(t, e.payloads())
	})
}

func TestPointerStoreRemoveRefusedWhileLocked(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *haEnv) {
		ctx := hsCtx(t)
		a := e.instance().pointers("/things")
		b := e.instance().pointers("/things")
		require.NoError(t, a.Put(ctx, e.guard, "k", []byte("v")))
		got, err := b.GetAndLock(ctx, "k")
		require.NoError(t, err)
		require.Equal(t, "v", string(got))

		err = a.ReleaseAndTryRemove(ctx, e.guard, "k")
		require.ErrorIs(t, err, recovery.ErrLocked)
		require.True(t, e.pointerExists("/things", "k"))
		require.Len(t, e.payloads(), 1)
		keys, err := b.Keys(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"k"}, keys)

		require.NoError(t, b.Release(ctx, "k"))
		require.NoError(t, a.ReleaseAndTryRemove(ctx, e.guard, "k"))
		require.False(t, e.pointerExists("/things", "k"))
		require.Empty(t, e.payloads())
	})
}

func TestPointerStoreMarkedForDeletion(t *testing.T) {
	e := newHAEnv(t, true, false)
	ctx := hsCtx(t)
	inst := e.instance()
	ps := inst.pointers("/things")
	require.NoError(t, ps.Put(ctx, e.guard, "k", []byte("v")))
	require.NoError(t, ps.Put(ctx, e.guard, "again", []byte("v")))
	// A remove that stopped right after marking: the lock container is gone.
	for _, k := range []string{"k", "again"} {
		require.NoError(t, e.inspect.Delete(ctx, "/things/"+k+"/locks/"+inst.id.String(), -1))
		require.NoError(t, e.inspect.Delete(ctx, "/things/"+k+"/locks", -1))
	}

	keys, err := ps.Keys(ctx)
	require.NoError(t, err)
	require.Empty(t, keys)
	_, err = ps.Get(ctx, "k")
	require.ErrorIs(t, err, recovery.ErrNotFound)
	_, err = ps.GetAndLock(ctx, "k")
	require.ErrorIs(t, err, recovery.ErrNotFound)
	entries := ps.GetAll(ctx, []string{"k"}, false)
	require.ErrorIs(t, entries[0].Err, recovery.ErrNotFound)
	require.Len(t, e.payloads(), 2)

	// A later remove finishes it: payload, then node.
	require.NoError(t, ps.ReleaseAndTryRemove(ctx, e.guard, "k"))
	require.False(t, e.pointerExists("/things", "k"))
	require.Len(t, e.payloads(), 1)

	// A put over a marked key finishes the removal and adds it anew.
	require.NoError(t, ps.Put(ctx, e.guard, "again", []byte("new")))
	got, err := ps.Get(ctx, "again")
	require.NoError(t, err)
	require.Equal(t, "new", string(got))
	require.Len(t, e.payloads(), 1)
}
