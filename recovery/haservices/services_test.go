package haservices_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// haConfig builds a configuration through conf.Load, as the AM will.
func haConfig(t *testing.T, mode string, c *zktest.Cluster, extra ...string) *conf.Config {
	t.Helper()
	dyn := []string{
		"high-availability.type=" + mode,
		"high-availability.storageDir=file://" + t.TempDir(),
		"high-availability.cluster-id=app_" + fmt.Sprint(time.Now().UnixNano()),
		"high-availability.zookeeper.client.session-timeout=4 s",
		"high-availability.zookeeper.client.retry-wait=100 ms",
		"state.checkpoints.num-retained=2",
	}
	if c != nil {
		dyn = append(dyn, "high-availability.zookeeper.quorum="+c.ConnectString(),
			"high-availability.zookeeper.path.root=/services-test")
	}
	cfg, err := conf.Load(conf.Options{Dynamic: append(dyn, extra...)})
	require.NoError(t, err)
	return cfg
}

func openServices(t *testing.T, cfg *conf.Config, local string) *recovery.Services {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	s, err := haservices.Open(ctx, cfg, haservices.Options{LocalDir: local, Logger: logging.ForTest(t)})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// leadOnce runs the election until the first grant and hands it to f.
func leadOnce(t *testing.T, s *recovery.Services, f func(g recovery.Grant)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ran := false
	_ = s.Election().Run(ctx, func(g recovery.Grant) {
		f(g)
		ran = true
		cancel()
	})
	require.True(t, ran, "never granted leadership")
}

const jobID = "0123456789abcdef0123456789abcdef"

// TestServicesSurviveARestartedProcess writes HA state as one leader, closes
// everything (the process is gone), opens the services again as the next attempt
// would, and recovers the job graph and the latest checkpoint — for both modes.
func TestServicesSurviveARestartedProcess(t *testing.T) {
	for _, mode := range []string{"zookeeper", "NONE"} {
		t.Run(mode, func(t *testing.T) {
			var c *zktest.Cluster
			if mode == "zookeeper" {
				c = zkc
			}
			cfg := haConfig(t, mode, c)
			local := t.TempDir()
			ctx := context.Background()

			first := openServices(t, cfg, local)
			leadOnce(t, first, func(g recovery.Grant) {
				require.NoError(t, g.Confirm(ctx, recovery.Dispatcher, "attempt-1"))
				graphs, err := first.JobGraphStore(ctx)
				require.NoError(t, err)
				require.NoError(t, graphs.Put(ctx, g, jobID, []byte("graph v1")))
				counter, err := first.CheckpointIDCounter(ctx, jobID)
				require.NoError(t, err)
				cps, err := first.CheckpointStore(ctx, jobID)
				require.NoError(t, err)
				for i := 0; i < 3; i++ {
					id, err := counter.GetAndIncrement(ctx, g)
					require.NoError(t, err)
					_, err = cps.Add(ctx, g, recovery.CompletedCheckpoint{JobID: jobID, ID: id, Metadata: []byte(fmt.Sprintf("cp %d", id))})
					require.NoError(t, err)
				}
			})
			require.NoError(t, first.Close())

			second := openServices(t, cfg, local)
			leadOnce(t, second, func(g recovery.Grant) {
				graphs, err := second.JobGraphStore(ctx)
				require.NoError(t, err)
				ids, err := graphs.JobIDs(ctx)
				require.NoError(t, err)
				require.Equal(t, []string{jobID}, ids)
				graph, err := graphs.Recover(ctx, jobID)
				require.NoError(t, err)
				require.Equal(t, "graph v1", string(graph))

				cps, err := second.CheckpointStore(ctx, jobID)
				require.NoError(t, err)
				latest, skipped, ok, err := cps.Latest(ctx)
				require.NoError(t, err)
				require.True(t, ok)
				require.Empty(t, skipped)
				require.Equal(t, int64(3), latest.ID)
				require.Equal(t, "cp 3", string(latest.Metadata))
				stored, err := cps.IDs(ctx)
				require.NoError(t, err)
				require.Equal(t, []int64{2, 3}, stored, "state.checkpoints.num-retained=2")

				counter, err := second.CheckpointIDCounter(ctx, jobID)
				require.NoError(t, err)
				next, err := counter.GetAndIncrement(ctx, g)
				require.NoError(t, err)
				require.Equal(t, int64(4), next, "IDs continue across attempts")
			})
		})
	}
}

// TestEnsembleLosingOneServerKeepsLeadershipAndStores kills one server of a
// 3-node ensemble under a leader: the session survives (the client moves to
// another server), the same instance leads, and guarded store writes work.
func TestEnsembleLosingOneServerKeepsLeadershipAndStores(t *testing.T) {
	c := zktest.Start(t, zktest.WithServers(3))
	cfg := haConfig(t, "zookeeper", c, "high-availability.zookeeper.client.session-timeout=5 s")
	s := openServices(t, cfg, "")
	ctx := context.Background()
	graphs, err := s.JobGraphStore(ctx)
	require.NoError(t, err)

	grants := make(chan recovery.Grant, 4)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Election().Run(runCtx, func(g recovery.Grant) { grants <- g; <-g.Done() })
	}()
	t.Cleanup(func() { cancel(); <-done })
	g := <-grants
	require.NoError(t, graphs.Put(ctx, g, jobID, []byte("before")))
	session := s.ZooKeeper().Session().ID

	// Kill the server this client is connected to: the worst case. (Read the
	// address once: the client moves to another server as soon as this one dies.)
	connected := s.ZooKeeper().Server()
	killed := false
	for i, srv := range c.Servers() {
		if srv.Addr() == connected {
			require.NoError(t, c.Server(i).Kill())
			killed = true
		}
	}
	require.True(t, killed, "client connected to %s, not a server of the ensemble", connected)
	// The client notices its server died (SUSPENDED) and the grant is revoked;
	// on reconnecting, the same session's latch node leads again: take the
	// newest grant that is held.
	require.Eventually(t, func() bool { return g.Err() != nil }, 20*time.Second, 5*time.Millisecond,
		"the grant is revoked while the connection is suspended")
	require.Eventually(t, func() bool {
		for {
			select {
			case g = <-grants:
				continue
			default:
			}
			return g.Err() == nil && s.ZooKeeper().Connected()
		}
	}, 20*time.Second, 10*time.Millisecond)
	require.Equal(t, session, s.ZooKeeper().Session().ID, "the session survives losing one server")
	require.NoError(t, graphs.Put(ctx, g, jobID, []byte("after")))
	got, err := graphs.Recover(ctx, jobID)
	require.NoError(t, err)
	require.Equal(t, "after", string(got))
}

// TestACLCreatorProtectsHANodes stores a job graph through services configured
// with acl=creator; a client with other digest credentials can neither change nor
// delete the pointer, and an anonymous one cannot read it.
func TestACLCreatorProtectsHANodes(t *testing.T) {
	cfg := haConfig(t, "zookeeper", zkc,
		"high-availability.zookeeper.client.acl=creator",
		"amkeeper.zookeeper.digest=amkeeper:s3cret")
	s := openServices(t, cfg, "")
	ctx := context.Background()
	leadOnce(t, s, func(g recovery.Grant) {
		graphs, err := s.JobGraphStore(ctx)
		require.NoError(t, err)
		require.NoError(t, graphs.Put(ctx, g, jobID, []byte("graph")))
	})

	other := recovery.ZooKeeperConfig(cfg, logging.ForTest(t))
	other.Digest = "mallory:guess"
	other.ACL = zkclient.ACLOpen
	cl, err := zkclient.Connect(ctx, other)
	require.NoError(t, err)
	defer cl.Close()
	p := "/jobgraphs/" + jobID
	_, err = cl.Set(ctx, p, []byte(`{"v":1,"path":"evil"}`), -1)
	require.ErrorIs(t, err, zk.ErrNoAuth)
	err = cl.Delete(ctx, p+"/locks", -1)
	require.Error(t, err) // not empty or no auth: either way nothing is removed
	_, _, err = cl.Get(ctx, p)
	require.ErrorIs(t, err, zk.ErrNoAuth)

	graphs, err := s.JobGraphStore(ctx)
	require.NoError(t, err)
	got, err := graphs.Recover(ctx, jobID)
	require.NoError(t, err)
	require.Equal(t, "graph", string(got))
}
