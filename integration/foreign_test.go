package integration_test

import (
	"context"
	"errors"
	"hash/crc32"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery"
)

// TestForeignPointerNeverFollowedByADelete: job A's checkpoint pointers and then
// its job graph pointer are rewritten, through a raw ZooKeeper connection, to
// name committed output parts of job B. A's next checkpoint subsumes the
// rewritten ones, the AM is killed and recovers A, and A is canceled (its job
// graph removed): every one of B's committed parts is still there, byte-identical,
// and the AM logs the foreign pointers.
func TestForeignPointerNeverFollowedByADelete(t *testing.T) {
	b := strings.Replace(fastCounting, "path: counts", "path: counts-b", 1)
	b = strings.Replace(b, "name: counting", "name: counting-b", 1)
	// Restore, not adopt: the next attempt must read A's checkpoints.
	c, id, client, jobs, st := jobSessionWith(t, 2, func(c *cli) {
		c.ha = append(c.ha, "-D", "amkeeper.taskmanager.leaderless-grace=0")
	}, fastCounting, b)
	a, jobB := jobs[0], jobs[1]
	require.Eventually(t, func() bool {
		// B needs three committed parts (a part may hold several windows).
		return len(committed(t, st, "counts")) >= 3 && len(committedBytes(t, st, "counts-b")) >= 3
	}, 60*time.Second, 20*time.Millisecond, "both jobs commit output")

	// B ends; its committed output is what must survive, exactly.
	root := c.haValue("high-availability.zookeeper.path.root") + "/" + c.haValue("high-availability.cluster-id")
	raw := zkc.Conn(t)
	_, err := c.run("", "cancel", "-id", id, jobB)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		ok, _, err := raw.Exists(root + recovery.JobGraphsDir + "/" + jobB)
		return err == nil && !ok
	}, 60*time.Second, 20*time.Millisecond, "B is canceled and its job graph removed")
	partsB := committedBytes(t, st, "counts-b")
	require.GreaterOrEqual(t, len(partsB), 3)
	names := make([]string, 0, len(partsB))
	for n := range partsB {
		names = append(names, n)
	}
	slices.Sort(names)
	t.Logf("B's committed parts: %v", names)

	// pointTo rewrites the pointer at node to name B's part, with its size and
	// checksum: only the path gives it away.
	pointTo := func(node, part string) {
		t.Helper()
		bytes := partsB[part]
		ptr := recovery.Pointer{Version: 1, Path: part, Size: int64(len(bytes)),
			Checksum: crc32.Checksum(bytes, crc32.MakeTable(crc32.Castagnoli))}
		_, err := raw.Set(node, ptr.Encode(), -1)
		if !errors.Is(err, zk.ErrNoNode) { // a checkpoint subsumed meanwhile is fine
			require.NoError(t, err)
		}
	}

	// 1. Subsumption: A's checkpoint pointers name B's first part.
	cpDir := root + "/jobs/" + a + "/checkpoints"
	cps, _, err := raw.Children(cpDir)
	require.NoError(t, err)
	require.NotEmpty(t, cps)
	for _, k := range cps {
		pointTo(cpDir+"/"+k, names[0])
	}
	require.Eventually(t, func() bool {
		now, _, err := raw.Children(cpDir)
		if err != nil {
			return false
		}
		for _, k := range cps {
			if slices.Contains(now, k) {
				return false
			}
		}
		return len(now) > 0
	}, 60*time.Second, 20*time.Millisecond, "A's newer checkpoints subsume the rewritten ones")

	// 2. An AM kill: the next attempt recovers A from its own checkpoint.
	_, err = client.KillAM(context.Background())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		rest := leaderOf(client)
		var info jobmanager.CheckpointInfo
		return rest != "" && getJSON(rest+"/jobs/"+a+"/checkpoints", &info) == nil && info.LatestID() > info.RestoredFrom && info.RestoredFrom > 0
	}, 60*time.Second, 20*time.Millisecond, "the next attempt runs A")

	// 3. A cancel: A's job graph pointer names B's second part when it goes.
	graph := root + recovery.JobGraphsDir + "/" + a
	pointTo(graph, names[1])
	_, err = c.run("", "cancel", "-id", id, a)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		ok, _, err := raw.Exists(graph)
		return err == nil && !ok
	}, 60*time.Second, 20*time.Millisecond, "A is canceled and its job graph pointer removed")

	require.Equal(t, partsB, committedBytes(t, st, "counts-b"), "B's committed output, exactly")
	requireExactCounts(t, committed(t, st, "counts-b"), 3)
	status, err := client.Status(context.Background())
	require.NoError(t, err)
	amLog, err := os.ReadFile(status.AMLog)
	require.NoError(t, err)
	require.Contains(t, string(amLog), "foreign pointer", "the AM logs the foreign job graph pointer")
	require.Contains(t, string(amLog), names[1])
}
