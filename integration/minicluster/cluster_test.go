package minicluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/integration/minicluster"
	"github.com/amkeeper/amkeeper/integration/multihost"
)

// TestCountingJobSurvivesTwoAMKills runs a counting job on a cluster with two
// TaskManagers and storage on the HDFS peer, kills the AM twice, and checks that
// the committed output is exact and that both kills counted against the budget.
func TestCountingJobSurvivesTwoAMKills(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := minicluster.Start(t, minicluster.WithTaskManagers(2), minicluster.WithBudget(5, 10*time.Minute))
	require.NotNil(t, c.HDFS(), "storage is on the HDFS peer")

	jobID, err := c.Submit(ctx, multihost.CountingJob)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(c.Status().Containers) == 2 }, time.Minute, 20*time.Millisecond)
	tms := c.Status().Containers

	// running reports whether the current leader runs the job and has completed a
	// checkpoint since it took over.
	running := func(attempt int) func() bool {
		return func() bool {
			info, err := c.Checkpoints(jobID)
			return err == nil && c.Status().Attempt == attempt && info.LatestID() > info.RestoredFrom
		}
	}
	require.Eventually(t, running(1), time.Minute, 20*time.Millisecond, "attempt 1 checkpoints")
	for attempt := 2; attempt <= 3; attempt++ {
		_, err := c.KillAM()
		require.NoError(t, err)
		require.Eventually(t, running(attempt), time.Minute, 20*time.Millisecond, "attempt %d checkpoints", attempt)
		info, err := c.Checkpoints(jobID)
		require.NoError(t, err)
		require.True(t, info.Adopted, "attempt %d adopted the running job (issue 18)", attempt)
	}

	var out []int64
	require.Eventually(t, func() bool {
		out, err = c.Output(ctx, "counts")
		return err == nil && len(out) >= 10
	}, time.Minute, 20*time.Millisecond, "ten committed windows")
	for k, v := range out {
		require.Equal(t, int64(10000*k+4950), v, "window %d of %d: exact, no gap, no duplicate", k, len(out))
	}

	h := c.AttemptHistory()
	require.Len(t, h.Attempts, 2)
	for _, a := range h.Attempts {
		require.True(t, a.Counted, "a killed AM is a counted failure")
	}
	require.Equal(t, 2, c.Status().CountedFailures)
	require.Equal(t, tms, c.Status().Containers, "the same two TaskManagers throughout")
}

// TestNewAttemptLeadsBeforeTheSessionTimeout: the mini cluster's supervisor is
// configured as yarn-session's is, with the ZooKeeper quorum, so once it has
// reaped a killed AM it closes that AM's session: with a 10 s session (the
// server's maximum here) the next attempt leads long before the dead attempt's
// latch node would expire.
func TestNewAttemptLeadsBeforeTheSessionTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := minicluster.Start(t, minicluster.WithLocalStorage(),
		minicluster.WithProperty("high-availability.zookeeper.client.session-timeout=10 s"))
	_, err := c.WaitLeader(ctx)
	require.NoError(t, err)

	killed := time.Now()
	_, err = c.KillAM()
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		for _, am := range c.Status().AMs {
			if am.Leading && am.Attempt == 2 {
				return true
			}
		}
		return false
	}, 5*time.Second, 5*time.Millisecond, "attempt 2 leads long before the killed attempt's 10 s session would expire")
	t.Logf("attempt 2 leads %s after the kill", time.Since(killed))
}
