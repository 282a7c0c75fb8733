package integration_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/integration/hdfspeer"
	"github.com/amkeeper/amkeeper/jobmanager"
)

// TestSessionOnHDFSRecoversAfterAMKill runs a session whose
// high-availability.storageDir is hdfs:// on the in-process HDFS peer: the AM and
// TaskManager processes write job graphs, checkpoints and output through the
// unmodified HDFS client; the AM is killed and the next attempt recovers the job
// from its checkpoint on HDFS, output exact.
func TestSessionOnHDFSRecoversAfterAMKill(t *testing.T) {
	peer := hdfspeer.Start(t)
	uri := peer.URI("/flink/recovery")
	_, _, client, jobs, st := jobSessionWith(t, 1, func(c *cli) {
		for i := 1; i < len(c.ha); i += 2 {
			if strings.HasPrefix(c.ha[i], "high-availability.storageDir=") {
				c.ha[i] = "high-availability.storageDir=" + uri
			}
		}
		// Restore, not adopt: the next attempt reads the checkpoint from HDFS.
		c.ha = append(c.ha, "-D", "amkeeper.taskmanager.leaderless-grace=0")
	}, fastCounting)
	jobID := jobs[0]

	checkpoints := func() jobmanager.CheckpointInfo { _, info := checkpointsUnder(client, jobID); return info }
	require.Eventually(t, func() bool { return checkpoints().LatestID() >= 2 }, 60*time.Second, 20*time.Millisecond)
	_, err := client.KillAM(context.Background())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		i := checkpoints()
		return i.RestoredFrom >= 2 && i.LatestID() > i.RestoredFrom+1
	}, 60*time.Second, 20*time.Millisecond, "the next attempt restores from a checkpoint on HDFS")

	requireExactCounts(t, committed(t, st, "counts"), 3)
}
