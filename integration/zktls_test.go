package integration_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/zktls/tlstest"
	"github.com/amkeeper/amkeeper/supervisor"
)

// TestJobSessionOverTLSOnlyZooKeeper runs a job session against a ZooKeeper
// that accepts TLS only (client certificates required): the AM wins the
// election, a TaskManager follows it and the job commits; the AM is SIGKILLed,
// the supervisor closes its session over TLS (fast fencing), the next attempt
// recovers the job onto the same TaskManager, and the output stays exactly
// once. Every ZooKeeper connection of every process must be TLS for this to
// pass: a plain one gets no session at all.
func TestJobSessionOverTLSOnlyZooKeeper(t *testing.T) {
	certs := tlstest.Generate(t, t.TempDir())
	secure := zktest.Start(t, zktest.WithTLS(certs.Server, certs.CA))
	c, id, client, _, st := jobSessionWith(t, 1, func(c *cli) {
		for i := 1; i < len(c.ha); i += 2 {
			if strings.HasPrefix(c.ha[i], "high-availability.zookeeper.quorum=") {
				c.ha[i] = "high-availability.zookeeper.quorum=" + secure.ConnectString()
			}
		}
		c.ha = append(c.ha,
			"-D", "zookeeper.client.secure=true",
			"-D", "zookeeper.ssl.keyStore.location="+certs.Client,
			"-D", "zookeeper.ssl.trustStore.location="+certs.CA)
	}, fastCounting)

	require.Eventually(t, func() bool { return len(committed(t, st, "counts")) >= 3 }, 60*time.Second, 20*time.Millisecond,
		"the job commits output with every ZooKeeper connection over TLS")
	before, err := client.Status(context.Background())
	require.NoError(t, err)
	require.Len(t, before.Containers, 1)

	require.NoError(t, syscall.Kill(before.AMPID, syscall.SIGKILL))
	var after supervisor.Status
	require.Eventually(t, func() bool {
		after, err = client.Status(context.Background())
		return err == nil && after.Attempt > before.Attempt && leaderOf(client) != ""
	}, 60*time.Second, 20*time.Millisecond, "the next attempt leads")
	n := len(committed(t, st, "counts"))
	require.Eventually(t, func() bool { return len(committed(t, st, "counts")) >= n+3 }, 60*time.Second, 20*time.Millisecond,
		"the job runs on under the next attempt")
	after, err = client.Status(context.Background())
	require.NoError(t, err)
	require.Len(t, after.Containers, 1)
	require.Equal(t, before.Containers[0].ID, after.Containers[0].ID, "the TaskManager followed the new leader over TLS")
	requireExactCounts(t, committed(t, st, "counts"), n+3)

	// The supervisor closed the dead attempt's session over TLS: logged at info,
	// without an error (a plain dial to the TLS port would fail and warn).
	fenced := false
	log, err := os.ReadFile(filepath.Join(appDirFor(c, id), "supervisor.log"))
	require.NoError(t, err)
	for _, line := range strings.Split(string(log), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) != nil || e["message"] != "closed the dead attempt's zookeeper session" {
			continue
		}
		require.Equal(t, "info", e["level"], "fencing over TLS: %s", line)
		require.Nil(t, e["error"], line)
		fenced = true
	}
	require.True(t, fenced, "the supervisor fenced the killed attempt's session")
}
