package zkclient_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/leakcheck"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

var zkc *zktest.Cluster

func TestMain(m *testing.M) {
	os.Exit(leakcheck.Code(zktest.Main(m, func(c *zktest.Cluster) { zkc = c })))
}

func connect(t testing.TB, c *zktest.Cluster, root string, mod ...func(*zkclient.Config)) *zkclient.Client {
	t.Helper()
	cfg := zkclient.Config{
		Servers:           c.Addrs(),
		Root:              root,
		SessionTimeout:    2 * time.Second,
		ConnectionTimeout: 5 * time.Second,
		RetryWait:         50 * time.Millisecond,
		MaxRetries:        3,
		Logger:            logging.ForTest(t),
	}
	for _, f := range mod {
		f(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := zkclient.Connect(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	return cl
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestChrootCreateGetMulti(t *testing.T) {
	root := zkc.Root(t)
	cl := connect(t, zkc, root)
	ctx := ctxT(t)

	require.NoError(t, cl.EnsurePath(ctx, "/a/b"))
	p, err := cl.Create(ctx, "/a/b/node", []byte("v1"), 0)
	require.NoError(t, err)
	require.Equal(t, "/a/b/node", p)

	// The node is really under the root on the server.
	raw := zkc.Conn(t)
	data, _, err := raw.Get(root + "/a/b/node")
	require.NoError(t, err)
	require.Equal(t, "v1", string(data))

	seq, err := cl.Create(ctx, "/a/seq-", nil, zk.FlagEphemeral|zk.FlagSequence)
	require.NoError(t, err)
	require.Regexp(t, `^/a/seq-\d{10}$`, seq)

	// A multi with a failing check applies nothing and names the failing op.
	_, err = cl.Multi(ctx,
		zkclient.SetOp{Path: "/a/b/node", Data: []byte("v2"), Version: -1},
		zkclient.CheckOp{Path: "/a/b/node", Version: 42},
	)
	var me *zkclient.MultiError
	require.ErrorAs(t, err, &me)
	require.Equal(t, 1, me.Index)
	require.ErrorIs(t, err, zk.ErrBadVersion)
	got, _, err := cl.Get(ctx, "/a/b/node")
	require.NoError(t, err)
	require.Equal(t, "v1", string(got), "a failed multi must change nothing")

	created, err := cl.Multi(ctx,
		zkclient.CheckOp{Path: "/a/b/node", Version: 0},
		zkclient.CreateOp{Path: "/a/b/other", Data: []byte("x")},
	)
	require.NoError(t, err)
	require.Equal(t, []string{"", "/a/b/other"}, created)

	_, _, err = cl.Get(ctx, "/missing")
	require.ErrorIs(t, err, zk.ErrNoNode)
}

func TestSessionCredentialsAreCaptured(t *testing.T) {
	cl := connect(t, zkc, zkc.Root(t))
	s := cl.Session()
	require.NotZero(t, s.ID)
	require.Len(t, s.Password, 16, "ZooKeeper session passwords are 16 bytes")
	// The negotiated timeout is clamped to the server's [2, 20] × tickTime.
	require.GreaterOrEqual(t, s.Timeout, 2*zkc.TickTime())
	require.LessOrEqual(t, s.Timeout, 20*zkc.TickTime())
	require.NotContains(t, s.String(), string(s.Password))
}

func TestContextBoundsACallWhileServerPaused(t *testing.T) {
	c := zktest.Start(t)
	cl := connect(t, c, c.Root(t))
	require.NoError(t, c.Server(0).Pause())
	defer c.Server(0).Resume()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, _, err := cl.Get(ctx, "/")
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// waitState reads events until want arrives or the deadline passes.
func waitState(t *testing.T, l *zkclient.Listener, want zkclient.State, within time.Duration) zkclient.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		e, err := l.Next(ctx)
		require.NoError(t, err, "waiting for %s", want)
		if e.State == want {
			return e
		}
	}
}

func TestStatesSuspendedReconnectedSameSession(t *testing.T) {
	c := zktest.Start(t)
	cl := connect(t, c, c.Root(t), func(cfg *zkclient.Config) { cfg.SessionTimeout = 10 * time.Second })
	l := cl.Listen()
	defer l.Close()
	before := cl.Session().ID

	// A restart is shorter than the session timeout: the session survives.
	require.NoError(t, c.Server(0).Stop())
	waitState(t, l, zkclient.Suspended, 10*time.Second)
	require.False(t, cl.Connected())
	require.NoError(t, c.Server(0).Restart())
	e := waitState(t, l, zkclient.Reconnected, 15*time.Second)
	require.False(t, e.NewSession)
	require.Equal(t, before, e.SessionID)
	require.True(t, cl.Connected())
}

func TestStatesLostThenNewSession(t *testing.T) {
	c := zktest.Start(t)
	cl := connect(t, c, c.Root(t)) // 2 s requested, negotiated within [1 s, 10 s] at tick 500 ms
	ctx := ctxT(t)
	_, err := cl.Create(ctx, "/eph", nil, zk.FlagEphemeral)
	require.NoError(t, err)
	l := cl.Listen()
	defer l.Close()
	before := cl.Session().ID

	// Paused past the session timeout: the client presumes the session lost on
	// its own clock, and the server expires it once it runs again.
	require.NoError(t, c.Server(0).Pause())
	waitState(t, l, zkclient.Suspended, 10*time.Second)
	waitState(t, l, zkclient.Lost, 10*time.Second)
	require.NoError(t, c.Server(0).Resume())
	e := waitState(t, l, zkclient.Reconnected, 20*time.Second)
	require.True(t, e.NewSession)
	require.NotEqual(t, before, e.SessionID)
	ok, _, err := cl.Exists(ctx, "/eph")
	require.NoError(t, err)
	require.False(t, ok, "the old session's ephemeral node must be gone")
}

func TestACLCreatorKeepsOthersOut(t *testing.T) {
	root := zkc.Root(t)
	owner := connect(t, zkc, root, func(cfg *zkclient.Config) {
		cfg.ACL = zkclient.ACLCreator
		cfg.Digest = "amkeeper:s3cret"
	})
	ctx := ctxT(t)
	_, err := owner.Create(ctx, "/guarded", []byte("x"), 0)
	require.NoError(t, err)

	other := connect(t, zkc, root, func(cfg *zkclient.Config) { cfg.Digest = "mallory:guess" })
	_, err = other.Set(ctx, "/guarded", []byte("y"), -1)
	require.ErrorIs(t, err, zk.ErrNoAuth)
	_, _, err = other.Get(ctx, "/guarded")
	require.ErrorIs(t, err, zk.ErrNoAuth)

	anonymous := connect(t, zkc, root)
	_, err = anonymous.Set(ctx, "/guarded", []byte("y"), -1)
	require.ErrorIs(t, err, zk.ErrNoAuth)

	_, err = owner.Set(ctx, "/guarded", []byte("z"), -1)
	require.NoError(t, err)
}

func TestACLCreatorNeedsDigest(t *testing.T) {
	_, err := zkclient.Connect(context.Background(), zkclient.Config{Servers: zkc.Addrs(), ACL: zkclient.ACLCreator})
	require.Error(t, err)
	require.Contains(t, err.Error(), "amkeeper.zookeeper.digest")
}

func TestConnectFailsWithinConnectionTimeout(t *testing.T) {
	// A port nobody listens on: go-zookeeper would retry forever.
	start := time.Now()
	_, err := zkclient.Connect(context.Background(), zkclient.Config{
		Servers:           []string{"127.0.0.1:1"},
		ConnectionTimeout: 300 * time.Millisecond,
		Logger:            logging.ForTest(t),
	})
	require.ErrorIs(t, err, zkclient.ErrNotConnected)
	require.Contains(t, err.Error(), "connection-timeout")
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestCloseIsIdempotentAndEndsListeners(t *testing.T) {
	cl := connect(t, zkc, zkc.Root(t))
	l := cl.Listen()
	require.NoError(t, cl.Close())
	require.NoError(t, cl.Close())
	ctx := ctxT(t)
	e, err := l.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, zkclient.Closed, e.State)
	_, err = l.Next(ctx)
	require.ErrorIs(t, err, zkclient.ErrClosed)
	_, _, err = cl.Get(ctx, "/")
	require.True(t, errors.Is(err, zkclient.ErrClosed), "got %v", err)
}
