package zkha_test

import (
	"context"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/recoverytest"
	"github.com/amkeeper/amkeeper/recovery/zkha"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

const jobID = "0123456789abcdef0123456789abcdef"

// TestEnsembleLosingOneServerKeepsLeadershipAndStores kills one server of a
// 3-node ensemble under a leader: the session survives (the client moves to
// another server), the same instance leads, and guarded store writes work.
func TestEnsembleLosingOneServerKeepsLeadershipAndStores(t *testing.T) {
	c := zktest.Start(t, zktest.WithServers(3))
	cfg := recoverytest.Config(t, "zookeeper", c, "high-availability.zookeeper.client.session-timeout=5 s")
	s := recoverytest.OpenServices(t, cfg, "")
	zc := s.Backend().(*zkha.Backend).Client()
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
	session := zc.Session().ID

	// Kill the server this client is connected to: the worst case. (Read the
	// address once: the client moves to another server as soon as this one dies.)
	connected := zc.Server()
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
			return g.Err() == nil && zc.Connected()
		}
	}, 20*time.Second, 10*time.Millisecond)
	require.Equal(t, session, zc.Session().ID, "the session survives losing one server")
	require.NoError(t, graphs.Put(ctx, g, jobID, []byte("after")))
	got, err := graphs.Recover(ctx, jobID)
	require.NoError(t, err)
	require.Equal(t, "after", string(got))
}

// TestACLCreatorProtectsHANodes stores a job graph through services configured
// with acl=creator; a client with other digest credentials can neither change nor
// delete the pointer, and an anonymous one cannot read it.
func TestACLCreatorProtectsHANodes(t *testing.T) {
	cfg := recoverytest.Config(t, "zookeeper", zkc,
		"high-availability.zookeeper.client.acl=creator",
		"amkeeper.zookeeper.digest=amkeeper:s3cret")
	s := recoverytest.OpenServices(t, cfg, "")
	ctx := context.Background()
	recoverytest.LeadOnce(t, s, func(g recovery.Grant) {
		graphs, err := s.JobGraphStore(ctx)
		require.NoError(t, err)
		require.NoError(t, graphs.Put(ctx, g, jobID, []byte("graph")))
	})

	other, err := zkha.ClientConfig(cfg, logging.ForTest(t))
	require.NoError(t, err)
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

// TestACLCreatorEveryHANodeIsPrivateFromItsCreation: under acl creator every
// node the backend makes — the root and cluster nodes, the latch and a latch node,
// connection_info, job graph pointers and their locks, the checkpoint ID counter
// — carries exactly the creator ACL and was never re-ACLed (aversion 0).
func TestACLCreatorEveryHANodeIsPrivateFromItsCreation(t *testing.T) {
	cfg := recoverytest.Config(t, "zookeeper", zkc,
		"high-availability.zookeeper.client.acl=creator",
		"amkeeper.zookeeper.digest=amkeeper:s3cret")
	s := recoverytest.OpenServices(t, cfg, "")
	raw := zkc.Conn(t)
	require.NoError(t, raw.AddAuth("digest", []byte("amkeeper:s3cret")))
	want := zk.DigestACL(zk.PermAll, "amkeeper", "s3cret")
	ctx := context.Background()
	recoverytest.LeadOnce(t, s, func(g recovery.Grant) {
		require.NoError(t, g.Confirm(ctx, "dispatcher", "127.0.0.1:1"))
		graphs, err := s.JobGraphStore(ctx)
		require.NoError(t, err)
		require.NoError(t, graphs.Put(ctx, g, jobID, []byte("graph")))
		counter, err := s.CheckpointIDCounter(ctx, jobID)
		require.NoError(t, err)
		_, err = counter.GetAndIncrement(ctx, g)
		require.NoError(t, err)

		var seen []string
		queue := []string{cfg.PathRoot()}
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			acl, st, err := raw.GetACL(p)
			require.NoError(t, err)
			require.Equal(t, want, acl, p)
			require.Zero(t, st.Aversion, "%s was re-ACLed after its creation", p)
			seen = append(seen, strings.TrimPrefix(p, cfg.ClusterPath()))
			names, _, err := raw.Children(p)
			require.NoError(t, err)
			for _, n := range names {
				queue = append(queue, path.Join(p, n))
			}
		}
		for _, must := range []string{"/leader/latch", "/leader/dispatcher/connection_info", "/jobgraphs/" + jobID,
			"/jobgraphs/" + jobID + "/locks", "/jobs/" + jobID + "/checkpoint_id_counter"} {
			require.Contains(t, seen, must)
		}
	})
}
