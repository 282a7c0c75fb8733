package integration_test

import (
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBenchElection runs `amkeeper-bench election` briefly (ours against
// python3-kazoo, real contender processes on the bench's own ZooKeeper) and checks
// the table, the summary line scripts parse, and that no contender outlives it.
func TestBenchElection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	cmd := exec.CommandContext(ctx, benchBin, "--log-level", "warn", "election",
		"--rounds", "3", "--expiry-rounds", "1", "--session-timeout", "2s")
	cmd.Env = append(cmd.Environ(), "TMPDIR="+tmp)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	require.NoError(t, err)

	s := string(out)
	for _, row := range []string{"graceful leave (quit)", "kill, dead session closed", "kill, session expiry"} {
		require.Regexp(t, regexp.MustCompile(`(?m)^\s*`+regexp.QuoteMeta(row)+`\s+\d+(\s+\d+\.\d+){4}\s+\d+\.\d+\s*$`), s, "row %q", row)
	}
	require.Regexp(t, `RSS of an elected contender: ours \d+ kB \(private \d+ kB\), kazoo \d+ kB \(private \d+ kB\)`, s)

	lines := strings.Split(strings.TrimSpace(s), "\n")
	m := regexp.MustCompile(`^election graceful ratio=(\d+\.\d+) kill ratio=(\d+\.\d+)$`).FindStringSubmatch(lines[len(lines)-1])
	require.NotNil(t, m, "last line: %q", lines[len(lines)-1])
	for _, r := range m[1:] {
		v, err := strconv.ParseFloat(r, 64)
		require.NoError(t, err)
		require.Greater(t, v, 0.0)
	}

	// Every contender (ours run benchBin, checked by TestMain; kazoo's runs the
	// script from the bench's directory under tmp) and the ZooKeeper are gone.
	require.Eventually(t, func() bool { return len(processesMentioning(tmp)) == 0 }, 10*time.Second, 20*time.Millisecond,
		"processes still running from %s: %v", tmp, processesMentioning(tmp))
}

// processesMentioning lists live processes whose command line contains s.
func processesMentioning(s string) []int {
	return processes(func(cmdline string) bool { return strings.Contains(cmdline, s) })
}

// TestBenchFailover runs `amkeeper-bench failover` briefly in both modes, with
// sessions of the yarn-session under test, and checks its report ends with the
// summary line scripts parse.
func TestBenchFailover(t *testing.T) {
	for _, mode := range []string{"restart", "standby"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, benchBin, "--log-level", "warn", "--yarn-session", bin, "failover", "--kills", "3", "--mode", mode)
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

// TestBenchRecovery runs `amkeeper-bench recovery` small: a new leader recovers
// 300 stored jobs, and 4 TaskManagers re-register after two AM kills.
func TestBenchRecovery(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, benchBin, "--log-level", "warn", "--yarn-session", bin, "recovery", "--jobs", "300", "--tms", "4", "--kills", "2")
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

// TestBenchFaults runs `amkeeper-bench faults --faults ensemble` once: a
// three-server ZooKeeper ensemble on hosts of a network-namespace bed, a
// session with and one without tolerate-suspended-connections; it checks the
// table, the summary line, and that no process of the bench outlives it.
func TestBenchFaults(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	cmd := exec.CommandContext(ctx, benchBin, "--log-level", "warn", "--yarn-session", bin, "faults", "--faults", "ensemble", "--runs", "1", "--outage", "3s")
	cmd.Env = append(cmd.Environ(), "TMPDIR="+tmp)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	require.NoError(t, err)
	s := string(out)
	for _, row := range []string{"one server's host lost", "majority lost for 3s"} {
		for _, session := range []string{"tolerated, 8 s session", "not tolerated, 2 s session"} {
			require.Regexp(t, regexp.MustCompile(`(?m)^\s*`+regexp.QuoteMeta(row)+`\s+`+regexp.QuoteMeta(session)+`\s+\d+\s+\d+\s*$`), s, "row %q %q", row, session)
		}
	}
	lines := strings.Split(strings.TrimSpace(s), "\n")
	require.Regexp(t, `^faults one-lost p50=\d+ms/\d+ms majority-lost p50=\d+ms/\d+ms$`, lines[len(lines)-1])
	require.Eventually(t, func() bool { return len(processesMentioning(tmp)) == 0 }, 10*time.Second, 20*time.Millisecond,
		"processes still running from %s: %v", tmp, processesMentioning(tmp))
}

// TestBenchHostFaults runs `amkeeper-bench faults` once with two host faults on
// a standalone cluster (masters on two hosts, TaskManagers on two, ZooKeeper
// and HDFS on hosts of their own): the leader's host lost, and the HDFS host
// cut off for 2 s. It checks each row has its times (a new leader only where
// leadership moves), how the task ran on (a lost leader's is adopted or
// restored; the HDFS fault keeps the leader) and exact output, the note on the time after healing, the
// summary line, and that no process of the bench outlives it.
func TestBenchHostFaults(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	cmd := exec.CommandContext(ctx, benchBin, "--log-level", "warn", "--yarn-session", bin, "faults",
		"--faults", "host-loss,hdfs-partition", "--runs", "1", "--outage", "2s")
	cmd.Env = append(cmd.Environ(), "TMPDIR="+tmp)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	require.NoError(t, err)
	s := string(out)
	require.NotContains(t, s, "ZooKeeper servers on hosts z1–z3", "the ensemble faults were not asked for")
	m := regexp.MustCompile(`(?m)^\s*leader's host lost \(all killed, link down\)\s+(\d+)\s+\d+\s+(\d+)\s+\d+\s+(\d+)\s+\d+\s+1 (adopted|restored)\s+exact \(\d+ windows\)\s*$`).FindStringSubmatch(s)
	require.NotNil(t, m, "host loss row")
	leader, _ := strconv.Atoi(m[1])
	checkpoint, _ := strconv.Atoi(m[2])
	output, _ := strconv.Atoi(m[3])
	// Nobody can confirm a lost host's death: the 2 s session timeout bounds
	// the new leader; the checkpoint and the output follow it.
	require.GreaterOrEqual(t, leader, 1500, "the session timeout bounds the new leader")
	require.GreaterOrEqual(t, checkpoint, leader)
	require.GreaterOrEqual(t, output, checkpoint)
	m = regexp.MustCompile(`(?m)^\s*HDFS host cut from the cluster for 2s\s+-\s+-\s+(\d+)\s+\d+\s+\d+\s+\d+\s+1 (kept|restored)\s+exact \(\d+ windows\)\s*$`).FindStringSubmatch(s)
	require.NotNil(t, m, "HDFS row")
	checkpoint, _ = strconv.Atoi(m[1])
	require.GreaterOrEqual(t, checkpoint, 2000, "no checkpoint triggered after the fault completes while HDFS is cut off")
	require.Regexp(t, `(?m)^hdfs-partition: a checkpoint completed -?\d+ ms \(p50; max -?\d+\) after the fault healed$`, s)
	lines := strings.Split(strings.TrimSpace(s), "\n")
	require.Regexp(t, `^host-faults checkpoint host-loss p50=\d+ms hdfs-partition p50=\d+ms$`, lines[len(lines)-1])
	require.Eventually(t, func() bool { return len(processesMentioning(tmp)) == 0 }, 10*time.Second, 20*time.Millisecond,
		"processes still running from %s: %v", tmp, processesMentioning(tmp))
}
