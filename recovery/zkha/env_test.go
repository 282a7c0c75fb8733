package zkha_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/recoverytest"
	"github.com/amkeeper/amkeeper/recovery/zkha"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// hsConnect connects a zkclient under root.
func hsConnect(t testing.TB, c *zktest.Cluster, root string) *zkclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := zkclient.Connect(ctx, zkclient.Config{
		Servers: c.Addrs(), Root: root, SessionTimeout: 4 * time.Second,
		ConnectionTimeout: 5 * time.Second, RetryWait: 50 * time.Millisecond, MaxRetries: 3,
		Logger: recoverytest.Logger(t),
	})
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	return cl
}

// backendOn is the backend of one more instance, on cl's session.
func backendOn(t testing.TB, cl *zkclient.Client) *zkha.Backend {
	return zkha.NewBackend(cl, uuid.Nil, false, recoverytest.Logger(t))
}

// zkGuard is a test-only leadership (zkha.NodeGuard) with the client whose
// session owns its node.
type zkGuard struct {
	zkha.NodeGuard
	cl *zkclient.Client
}

var guardSeq atomic.Int64

func newZKGuard(t testing.TB, c *zktest.Cluster, root string) *zkGuard {
	t.Helper()
	cl := hsConnect(t, c, root)
	ctx := recoverytest.Context(t)
	require.NoError(t, cl.EnsurePath(ctx, "/leader/latch"))
	p, err := cl.Create(ctx, fmt.Sprintf("/leader/latch/test-%d", guardSeq.Add(1)), nil, zk.FlagEphemeral)
	require.NoError(t, err)
	return &zkGuard{NodeGuard: zkha.NodeGuard{Path: p, ID: uuid.New()}, cl: cl}
}

func (g *zkGuard) deleteNode(t testing.TB) {
	require.NoError(t, g.cl.Delete(recoverytest.Context(t), g.Path, -1))
}

func (g *zkGuard) closeClient() { g.cl.Close() }

// zkBackend is the ZooKeeper backend of the conformance suites: a fresh root on
// the shared server, a test guard in its latch, and a client of its own that
// looks at the znodes (and inspects).
type zkBackend struct {
	root       string
	inspect    *zkclient.Client
	inspecting *zkha.Backend
	guard      *zkGuard
}

var _ recoverytest.Marking = (*zkBackend)(nil)

func newZKBackend(t testing.TB) *zkBackend {
	root := zkc.Root(t)
	inspect := hsConnect(t, zkc, root)
	return &zkBackend{root: root, inspect: inspect, inspecting: backendOn(t, inspect), guard: newZKGuard(t, zkc, root)}
}

// newZKEnv is a conformance environment on ZooKeeper with storage st.
func newZKEnv(t testing.TB, st recoverytest.Storage) (*recoverytest.Env, *zkBackend) {
	b := newZKBackend(t)
	return recoverytest.NewEnv(t, b, st), b
}

func (b *zkBackend) Instance(t testing.TB) recovery.Backend {
	return backendOn(t, hsConnect(t, zkc, b.root))
}
func (b *zkBackend) Inspecting(testing.TB) recovery.Backend { return b.inspecting }
func (b *zkBackend) SessionLocks() bool                     { return true }
func (b *zkBackend) Guard() recovery.Guard                  { return b.guard }
func (b *zkBackend) Depose(t testing.TB)                    { b.guard.deleteNode(t) }
func (b *zkBackend) GuardLatches() int                      { return 1 }
func (b *zkBackend) ReportPath(rel string) string           { return "/" + rel }

func (b *zkBackend) PointerExists(t testing.TB, dir, key string) bool {
	ok, _, err := b.inspect.Exists(recoverytest.Context(t), dir+"/"+key)
	require.NoError(t, err)
	return ok
}

func (b *zkBackend) WritePointer(t testing.TB, dir, key string, data []byte) {
	ctx := recoverytest.Context(t)
	require.NoError(t, b.inspect.EnsurePath(ctx, dir))
	_, err := b.inspect.Create(ctx, dir+"/"+key, data, 0)
	if errors.Is(err, zk.ErrNodeExists) { // rewrite it; its locks stay
		_, err = b.inspect.Set(ctx, dir+"/"+key, data, -1)
		require.NoError(t, err)
		return
	}
	require.NoError(t, err)
	_, err = b.inspect.Create(ctx, dir+"/"+key+"/locks", nil, 0)
	require.NoError(t, err)
}

func (b *zkBackend) Mark(t testing.TB, dir, key string, instance uuid.UUID) {
	ctx := recoverytest.Context(t)
	require.NoError(t, b.inspect.Delete(ctx, dir+"/"+key+"/locks/"+instance.String(), -1))
	require.NoError(t, b.inspect.Delete(ctx, dir+"/"+key+"/locks", -1))
}

// Snapshot captures every znode (path and data) under the root.
func (b *zkBackend) Snapshot(t testing.TB) map[string]string {
	return zkTree(t, b.inspect, "/", "zk:")
}

// zkTree returns every znode (prefix+path → data) under p, p included.
func zkTree(t testing.TB, cl *zkclient.Client, p, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(p string)
	walk = func(p string) {
		data, _, err := cl.Get(recoverytest.Context(t), p)
		require.NoError(t, err)
		out[prefix+p] = string(data)
		kids, _, err := cl.Children(recoverytest.Context(t), p)
		require.NoError(t, err)
		for _, k := range kids {
			if p == "/" {
				walk("/" + k)
			} else {
				walk(p + "/" + k)
			}
		}
	}
	walk(p)
	return out
}

// TestConformance runs the recovery conformance suites on ZooKeeper, with file://
// and with hdfs:// storage.
func TestConformance(t *testing.T) {
	t.Run("zookeeper", func(t *testing.T) {
		recoverytest.Run(t, func(t *testing.T) *recoverytest.Env {
			e, _ := newZKEnv(t, recoverytest.FileStorage(t))
			return e
		})
	})
	t.Run("zookeeper-hdfs", func(t *testing.T) {
		recoverytest.Run(t, func(t *testing.T) *recoverytest.Env {
			e, _ := newZKEnv(t, recoverytest.HDFSStorage(t))
			return e
		})
	})
}
