package haservices_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/leakcheck"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/embedded"
	"github.com/amkeeper/amkeeper/recovery/haservices"
	"github.com/amkeeper/amkeeper/recovery/recoverytest"
	"github.com/amkeeper/amkeeper/recovery/zkha"
)

// zkc is the ZooKeeper server shared by this package's tests.
var zkc *zktest.Cluster

func TestMain(m *testing.M) {
	os.Exit(leakcheck.Code(zktest.Main(m, func(c *zktest.Cluster) { zkc = c })))
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
			cfg := recoverytest.Config(t, mode, c)
			local := t.TempDir()
			ctx := context.Background()

			first := recoverytest.OpenServices(t, cfg, local)
			recoverytest.LeadOnce(t, first, func(g recovery.Grant) {
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

			second := recoverytest.OpenServices(t, cfg, local)
			recoverytest.LeadOnce(t, second, func(g recovery.Grant) {
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
				latest, ok, err := cps.Latest(ctx)
				require.NoError(t, err)
				require.True(t, ok)
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

// TestOpenPicksTheBackend: high-availability.type decides the backend, and the
// embedded one needs a local directory.
func TestOpenPicksTheBackend(t *testing.T) {
	zkSvc := recoverytest.OpenServices(t, recoverytest.Config(t, "zookeeper", zkc), "")
	require.IsType(t, &zkha.Backend{}, zkSvc.Backend())
	noneCfg := recoverytest.Config(t, "NONE", nil)
	none := recoverytest.OpenServices(t, noneCfg, t.TempDir())
	require.IsType(t, &embedded.Backend{}, none.Backend())

	_, err := haservices.Open(t.Context(), noneCfg, haservices.Options{Logger: logging.ForTest(t)})
	require.ErrorContains(t, err, "local directory")
}

// TestOpenRefusesAClusterIDOverTheOutputRoot: a cluster ID whose first path
// element is the sinks' output root would make cleaning up the cluster's HA
// data delete committed output: Open refuses it, naming the key and the value.
func TestOpenRefusesAClusterIDOverTheOutputRoot(t *testing.T) {
	for _, id := range []string{"output", "/output/", "output/session-1"} {
		cfg, err := conf.Load(conf.Options{ApplicationID: "application_1_0001", Dynamic: []string{"high-availability.cluster-id=" + id}})
		require.NoError(t, err)
		svc, err := haservices.Open(context.Background(), cfg, haservices.Options{LocalDir: t.TempDir(), Logger: logging.ForTest(t)})
		if err == nil {
			svc.Close()
		}
		require.ErrorContains(t, err, `high-availability.cluster-id "`+cfg.ClusterID()+`": its first path element "output" is where sinks write their committed output`, id)
	}
	cfg, err := conf.Load(conf.Options{ApplicationID: "application_1_0001", Dynamic: []string{"high-availability.cluster-id=outputs/1"}})
	require.NoError(t, err)
	svc, err := haservices.Open(context.Background(), cfg, haservices.Options{LocalDir: t.TempDir(), Logger: logging.ForTest(t)})
	require.NoError(t, err, "only the element itself is reserved")
	require.NoError(t, svc.Close())
}
