package integration_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/integration/hdfspeer"
	"github.com/amkeeper/amkeeper/integration/netns"
	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/jobmanager"
)

// TestHDFSHostPartitionedDuringCheckpoints: ZooKeeper on host z, the HDFS peer
// (namenode and datanode) on host h, the session on host a with
// high-availability.storageDir — job graphs, checkpoint metadata, task state
// and the sink's output — on h. h is cut off from a (packets dropped both ways)
// for 5 s while the job checkpoints every 300 ms with a checkpoint timeout of
// 1 s (without it, writes only stall: TCP retransmits, and the checkpoint in
// flight completes after healing): checkpoints fail and are retried, no
// checkpoint completes without its files, the leader keeps its leadership (storage is not
// ZooKeeper), and once the partition heals checkpoints complete again and the
// committed windows are exact: nothing committed half, no state lost.
func TestHDFSHostPartitionedDuringCheckpoints(t *testing.T) {
	bed := netns.New(t, "z", "h", "a")
	z, h, a := bed.Host("z"), bed.Host("h"), bed.Host("a")
	zk := zktest.Start(t, zktest.WithHosts(z))
	peer := hdfspeer.Start(t, hdfspeer.WithHost(h))
	require.True(t, strings.HasPrefix(peer.Addr(), h.Address()+":"), "the namenode is on host h: %s", peer.Addr())
	uri := peer.URI("/flink/recovery")
	t.Cleanup(func() { _ = h.Heal() })
	s := startHostSession(t, zk, a, "high-availability.storageDir="+uri, "execution.checkpointing.timeout=1 s",
		"jobmanager.rpc.address="+a.Address(), "rest.address="+a.Address(), "taskmanager.host="+a.Address())
	rest := s.rest().Address
	spec := filepath.Join(t.TempDir(), "counting.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(fastCounting), 0o600))
	out, err := s.cl.runOn(a, "", "run", "-id", s.id, spec)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	jobID := lines[len(lines)-1]
	checkpoints := func() jobmanager.CheckpointInfo {
		var info jobmanager.CheckpointInfo
		_ = getJSON(rest+"/jobs/"+jobID+"/checkpoints", &info)
		return info
	}
	require.Eventually(t, func() bool { return checkpoints().LatestID() >= 3 }, 60*time.Second, 20*time.Millisecond,
		"the job checkpoints on HDFS")
	store, err := hdfsstore.Open(context.Background(), uri)
	require.NoError(t, err)
	defer store.Close()
	leader := s.rm()

	latest := checkpoints().LatestID()
	down := time.Now()
	require.NoError(t, netns.Partition(h, a))
	// The checkpoint in flight may still complete (its files may be written);
	// none after it can.
	tick := time.NewTicker(50 * time.Millisecond) // the pace of the observation over the partition
	defer tick.Stop()
	var stalled int64
	for time.Since(down) < 5*time.Second {
		info := checkpoints()
		if time.Since(down) > time.Second {
			if stalled == 0 {
				stalled = info.LatestID()
				require.LessOrEqual(t, stalled, latest+1, "at most the checkpoint in flight at the partition completes")
			}
			require.LessOrEqual(t, info.LatestID(), stalled, "no checkpoint completes while HDFS is cut off")
		}
		<-tick.C
	}
	heal := time.Now()
	require.NoError(t, h.Heal())
	var info jobmanager.CheckpointInfo
	require.Eventually(t, func() bool { info = checkpoints(); return info.LatestID() > stalled }, 60*time.Second, 10*time.Millisecond,
		"checkpoints complete again once HDFS is back")
	again := time.Now()
	t.Logf("HDFS host partitioned for %v → a checkpoint completed %v after healing (%v after the fault); restored from %d, %d failed checkpoints",
		heal.Sub(down), again.Sub(heal), again.Sub(down), info.RestoredFrom, info.Counts.Failed)
	require.Positive(t, info.Counts.Failed, "checkpoints failed during the partition")
	if info.RestoredFrom > 0 {
		require.GreaterOrEqual(t, info.RestoredFrom, stalled, "a restore starts from the latest completed checkpoint: no state lost")
	}
	require.Equal(t, leader.SessionID, s.rm().SessionID, "the leader keeps its leadership: storage is not ZooKeeper")
	require.Eventually(t, func() bool { return checkpoints().LatestID() > stalled+3 }, 30*time.Second, 10*time.Millisecond,
		"the job keeps checkpointing")
	_, err = s.cl.runOn(a, "", "stop", "-id", s.id)
	require.NoError(t, err)
	got := committed(t, store, "counts")
	t.Logf("committed %d windows", len(got))
	requireExactCounts(t, got, 3)
	requireLeaderWrites(t, openHA(t, s.cl.ha), store, jobID, leader.SessionID)
}
