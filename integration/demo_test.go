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
			require.Contains(t, s, "Attempt 3 of 4 leads")
			require.Contains(t, s, "no gap, no duplicate")
			require.Contains(t, s, "no process of it is left")
		})
	}
}

// TestBenchFailover runs `yarn-session bench failover` briefly in both modes and
// checks its report ends with the summary line scripts parse.
func TestBenchFailover(t *testing.T) {
	for _, mode := range []string{"restart", "standby"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "--log-level", "warn", "bench", "failover", "--kills", "3", "--mode", mode)
			cmd.Env = append(cmd.Environ(), "TMPDIR="+t.TempDir())
			out, err := cmd.CombinedOutput()
			t.Logf("%s", out)
			require.NoError(t, err)
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			require.Regexp(t, `^failover p50=\d+ms p99=\d+ms$`, lines[len(lines)-1])
			require.Contains(t, string(out), "RSS: supervisor")
			if mode == "restart" {
				require.Contains(t, string(out), "tasks_deployed")
			}
		})
	}
}

// TestBenchRecovery runs `yarn-session bench recovery` small: a new leader recovers
// 300 stored jobs, and 4 TaskManagers re-register after two AM kills.
func TestBenchRecovery(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--log-level", "warn", "bench", "recovery", "--jobs", "300", "--tms", "4", "--kills", "2")
	cmd.Env = append(cmd.Environ(), "TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	require.NoError(t, err)
	s := string(out)
	require.Contains(t, s, "Recovery: 300 jobs")
	require.Regexp(t, `(?m)^recovery \d+\.\dus/job$`, s)
	require.Regexp(t, `RSS: supervisor \d+ kB \(private \d+ kB\), AM \d+ kB \(private \d+ kB\), TaskManagers (\d+ kB \(private \d+ kB\), ){3}\d+ kB \(private \d+ kB\)`, s)
	lines := strings.Split(strings.TrimSpace(s), "\n")
	require.Regexp(t, `^reregister p50=\d+ms max=\d+ms$`, lines[len(lines)-1])
}
