package integration_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/hdfsstore"
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
	c := newCLI(t)
	uri := peer.URI("/flink/recovery")
	for i := 1; i < len(c.ha); i += 2 {
		if strings.HasPrefix(c.ha[i], "high-availability.storageDir=") {
			c.ha[i] = "high-availability.storageDir=" + uri
		}
	}
	spec := filepath.Join(t.TempDir(), "counting.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(fastCounting), 0o600))
	out, err := c.run("", append([]string{"-n", "1", "-d"}, c.ha...)...)
	require.NoError(t, err)
	id := appIDPattern.FindString(out)
	dir := appDirFor(c, id)
	client := attempts.NewControlClient(dir)
	t.Cleanup(func() { _, _ = c.run("", "stop", "-id", id) })
	t.Cleanup(func() { dumpLogs(t, dir) })
	require.Eventually(t, func() bool { return leaderOf(client) != "" }, 30*time.Second, 20*time.Millisecond)
	out, err = c.run("", "run", "-id", id, spec)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	jobID := lines[len(lines)-1]

	checkpoints := func() jobmanager.CheckpointInfo {
		var info jobmanager.CheckpointInfo
		if rest := leaderOf(client); rest != "" {
			_ = getJSON(rest+"/jobs/"+jobID+"/checkpoints", &info)
		}
		return info
	}
	require.Eventually(t, func() bool { return checkpoints().Latest >= 2 }, 60*time.Second, 20*time.Millisecond)
	_, err = client.KillAM(context.Background())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		i := checkpoints()
		return i.RestoredFrom >= 2 && i.Latest > i.RestoredFrom+1
	}, 60*time.Second, 20*time.Millisecond, "the next attempt restores from a checkpoint on HDFS")

	st, err := hdfsstore.Open(context.Background(), uri)
	require.NoError(t, err)
	defer st.Close()
	requireExactCounts(t, committed(t, st, "counts"), 3)
}
