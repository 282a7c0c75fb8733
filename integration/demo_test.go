package integration_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDemo runs `yarn-session demo` as a user would (its own ZooKeeper, session
// and job) and checks its verdict; --ha none runs the same without ZooKeeper.
func TestDemo(t *testing.T) {
	for _, ha := range []string{"zookeeper", "none"} {
		t.Run(ha, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "--log-level", "warn", "demo", "--ha", ha, "--kills", "2", "--dir", t.TempDir())
			cmd.Env = append(cmd.Environ(), "TMPDIR="+t.TempDir())
			out, err := cmd.CombinedOutput()
			t.Logf("%s", out)
			require.NoError(t, err)
			s := string(out)
			require.Equal(t, 2, strings.Count(s, "SIGKILL the AM"))
			require.Equal(t, 2, strings.Count(s, "unchanged: the containers outlived the AM"))
			// Phrased as status phrases the budget, never "attempt N of M".
			require.Regexp(t, `Attempt 1 leads \(AM pid \d+\); 1 of 4 attempts used; [^;]+; survives 3 more failures; `, s)
			// An AM kill alone: the new leader adopts the running tasks.
			require.Equal(t, 2, strings.Count(s, "the job was adopted: its tasks kept running"))
			require.Regexp(t, `Attempt 3 leads after \d+\.\ds; the job was adopted: its tasks kept running \(execution [0-9a-f-]+, checkpoint \d+\); [23] of 4 attempts used; [^;]+; survives [12] more failures?; `, s)
			require.NotRegexp(t, `Attempt \d+ of \d+|attempt\(s\) left`, s)
			require.Contains(t, s, "no gap, no duplicate")
			require.Contains(t, s, "no process of it is left")
		})
	}
}
