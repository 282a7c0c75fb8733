package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/attempts"
)

// emptyConfDir is a configuration directory with an empty flink-conf.yaml.
func emptyConfDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "flink-conf.yaml"), nil, 0o644))
	return dir
}

var budgetZK = []string{
	"-D", "high-availability.type=zookeeper",
	"-D", "high-availability.zookeeper.quorum=localhost:2181",
	"-D", "high-availability.storageDir=file:///tmp/amkeeper-budget",
}

func TestBudgetExplain(t *testing.T) {
	dir := emptyConfDir(t)
	cases := []struct {
		name     string
		args     []string
		contains []string
		absent   []string
	}{
		{"no HA: a single attempt", nil, []string{
			"high-availability.type NONE",
			"max attempts  ", "yarn.application-attempts=1 (default)", "not capped",
			"1 failure", "never restarted",
		}, []string{"Warnings", "CAPPED"}},
		{"ZooKeeper HA default with a 30s crash loop is unbounded", budgetZK, []string{
			"yarn.application-attempts=2 (default)",
			"2 failures", "each ending less than 10s before the last",
			"Warnings (1):", "restarted forever (FLINK-38112)", "fail after 30s (--attempt-lifetime)",
		}, []string{"CAPPED"}},
		{"cap applies, named with both keys and origins", append([]string{"-D", "yarn.application-attempts=10",
			"--attempt-lifetime", "1s"}, budgetZK...), []string{
			"yarn.application-attempts=10 (-D); cap yarn.resourcemanager.am.max-attempts=2 (default): CAPPED",
			"-D: yarn.application-attempts: 10 exceeds yarn.resourcemanager.am.max-attempts=2 (default): capped to 2 attempts",
			"Warnings (1):",
		}, []string{"forever"}},
		{"window long enough: no warning", append([]string{"-D", "yarn.application-attempt-failures-validity-interval=10 min"}, budgetZK...),
			[]string{"window                10m0s"}, []string{"Warnings"}},
		{"window disabled", append([]string{"-D", "yarn.application-attempt-failures-validity-interval=-1"}, budgetZK...),
			[]string{"disabled", "in total, over the application's whole life", "ends after 2 failures in total"}, []string{"forever"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := run(t, append([]string{"--conf-dir", dir, "budget", "explain"}, tc.args...)...)
			require.Equal(t, 0, code)
			for _, s := range tc.contains {
				require.Contains(t, out, s)
			}
			for _, s := range tc.absent {
				require.NotContains(t, out, s)
			}
		})
	}
}

// cellRE matches one row of the simulate table: attempts, then percentages.
var cellRE = regexp.MustCompile(`([0-9.]+)%`)

func simulateTable(t *testing.T, out string) map[string][]string {
	t.Helper()
	rows := map[string][]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(\d+)\s+(.*%.*)$`).FindAllStringSubmatch(out, -1) {
		for _, c := range cellRE.FindAllStringSubmatch(m[2], -1) {
			rows[m[1]] = append(rows[m[1]], c[1])
		}
	}
	return rows
}

func TestBudgetSimulateDeterministicAndMonotonic(t *testing.T) {
	dir := emptyConfDir(t)
	args := append([]string{"--conf-dir", dir, "budget", "simulate", "--runs", "300", "--seed", "42"}, budgetZK...)
	out1, code := run(t, args...)
	require.Equal(t, 0, code)
	out2, code := run(t, args...)
	require.Equal(t, 0, code)
	require.Equal(t, out1, out2, "same seed, same table")

	require.Contains(t, out1, "MTBF 5m0s (--mtbf), restart 1s, 300 runs per cell, seed 42")
	require.Contains(t, out1, "* configured: max attempts 2, window 10s")
	require.Regexp(t, `(?m)^\s+2\s+\S+%\s+\S+%\*`, out1, "the configured cell (2 attempts, 10s) is marked")

	rows := simulateTable(t, out1)
	order := []string{"1", "2", "3", "5", "10"}
	for col := range 5 {
		prev := 101.0
		for _, r := range order {
			require.Len(t, rows[r], 5, "row %s", r)
			v, err := strconv.ParseFloat(rows[r][col], 64)
			require.NoError(t, err)
			require.LessOrEqual(t, v, prev, "more attempts raised the probability: row %s col %d", r, col)
			prev = v
		}
	}

	out3, code := run(t, append(args[:len(args):len(args)], "--seed", "43")...)
	require.Equal(t, 0, code)
	require.NotEqual(t, out1, out3)
}

func TestBudgetSimulateAddsTheConfiguredSetting(t *testing.T) {
	out, code := run(t, "--conf-dir", emptyConfDir(t), "budget", "simulate", "--runs", "10",
		"--attempts", "3", "--windows", "1m", "-D", "yarn.application-attempt-failures-validity-interval=0")
	require.Equal(t, 0, code)
	require.Contains(t, out, "* configured: max attempts 1, window disabled")
	require.Regexp(t, `disabled\s+1m0s`, out)
	require.Regexp(t, `(?m)^\s+1\s+\S+%\*`, out)
}

func TestBudgetSimulateFromHistory(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	h := attempts.History{Attempts: []attempts.AttemptRecord{
		{Attempt: 1, Start: t0, End: t0.Add(20 * time.Minute), Exit: attempts.ExitFailed, Counted: true, Reason: attempts.ReasonWithinBudget},
		{Attempt: 2, Start: t0.Add(21 * time.Minute), End: t0.Add(41 * time.Minute), Exit: attempts.ExitFailed, Counted: true, Reason: attempts.ReasonWithinBudget},
	}}
	data, err := h.MarshalJSON()
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "history.json")
	require.NoError(t, os.WriteFile(path, data, 0o644))

	out, code := run(t, "--conf-dir", emptyConfDir(t), "budget", "simulate", "--runs", "20", "--history", path)
	require.Equal(t, 0, code)
	require.Contains(t, out, "MTBF 20m0s (estimated from 2 failures in "+path+")")

	_, code = run(t, "--conf-dir", emptyConfDir(t), "budget", "simulate", "--history", path, "--mtbf", "1m")
	require.Equal(t, exitUsage, code)

	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"attempts":[{"attempt":1}]}`), 0o644))
	_, code = run(t, "--conf-dir", emptyConfDir(t), "budget", "simulate", "--history", bad)
	require.Equal(t, exitFailure, code)
}

func TestBudgetBadFlags(t *testing.T) {
	dir := emptyConfDir(t)
	cases := map[string][]string{
		"--runs must be at least 1, got 0":    {"simulate", "--runs", "0"},
		"--mtbf must be positive, got 0s":     {"simulate", "--mtbf", "0s"},
		"--duration must be positive":         {"simulate", "--duration", "-1h"},
		"--restart must not be negative":      {"simulate", "--restart", "-1s"},
		`--attempts: "0" is not a number`:     {"simulate", "--attempts", "1,0"},
		`--windows: "soon" is not a duration`: {"simulate", "--windows", "0,soon"},
		"--attempt-lifetime must be positive": {"explain", "--attempt-lifetime", "0s"},
		"give either --mtbf or --history":     {"simulate", "--mtbf", "1m", "--history", "x.json"},
	}
	for msg, args := range cases {
		errOut, code := runErr(t, append([]string{"--conf-dir", dir, "budget"}, args...)...)
		require.Equal(t, exitUsage, code, msg)
		require.Contains(t, errOut, msg)
	}
	_, code := run(t, "--conf-dir", dir, "budget", "simulate", "--runs", "ten")
	require.NotEqual(t, 0, code)
	_, code = run(t, "--conf-dir", dir, "budget", "explain", "-D", "yarn.application-attempts=0")
	require.Equal(t, exitInvalidConf, code)
}

// runErr executes the CLI in-process and returns the error message main would
// print and the exit code.
func runErr(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := newApp(&out, &errOut).RunContext(context.Background(), append([]string{"yarn-session"}, args...))
	require.Error(t, err)
	return err.Error(), exitCode(err)
}
