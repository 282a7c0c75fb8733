package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseContenderLine(t *testing.T) {
	for _, tc := range []struct {
		line     string
		kind     string
		id       int64
		password string // hex
		at       int64
	}{
		{line: "session 1000a3f2c6e0001 00ff10", kind: lineSession, id: 0x1000a3f2c6e0001, password: "00ff10"},
		{line: "session -7f 0a", kind: lineSession, id: -0x7f, password: "0a"}, // a negative int64 as Go and Python print it
		{line: "session ffffffffffffffff 0a", kind: lineSession, id: -1, password: "0a"},
		{line: "  leader 1700000000123456789\r", kind: lineLeader, at: 1700000000123456789},
	} {
		l, err := parseContenderLine(tc.line)
		require.NoError(t, err, tc.line)
		assert.Equal(t, tc.kind, l.kind, tc.line)
		assert.Equal(t, tc.id, l.id, tc.line)
		if tc.password != "" {
			assert.Equal(t, tc.password, hex.EncodeToString(l.password), tc.line)
		}
		if tc.at != 0 {
			assert.Equal(t, tc.at, l.at.UnixNano(), tc.line)
		}
	}
}

func TestParseContenderLineRejects(t *testing.T) {
	for _, line := range []string{
		"",
		"hello",
		"leader",
		"leader soon",
		"leader -5",
		"leader 1 2",
		"session 1a",
		"session xyz 00",
		"session 1a 5ecre7",
		"session 1a 00 extra",
	} {
		_, err := parseContenderLine(line)
		require.Error(t, err, "%q", line)
		assert.NotContains(t, err.Error(), "5ecre7", "errors never quote a password")
	}
}

func TestContenderLineStringHidesPassword(t *testing.T) {
	l, err := parseContenderLine("session 1f c0ffee")
	require.NoError(t, err)
	assert.Equal(t, "session 0x1f", l.String())
}

func TestHandoverRatio(t *testing.T) {
	assert.InDelta(t, 0.5, handoverRatio([]float64{1, 2, 3}, []float64{4, 4, 5}), 1e-9)
	assert.Equal(t, "n/a", fmtRatio(handoverRatio(nil, []float64{1})))
	assert.Equal(t, "n/a", fmtRatio(handoverRatio([]float64{1}, nil)))
	assert.Equal(t, "0.50", fmtRatio(0.5))
}

// runApp runs the app with o and returns stdout and the error's message and exit
// code.
func runApp(t *testing.T, o options, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := newApp(&out, &errOut, o).RunContext(context.Background(), append([]string{"amkeeper-bench"}, args...))
	if err == nil {
		return out.String(), "", 0
	}
	return out.String(), err.Error(), exitCode(err)
}

func TestElectionFlagsAreValidated(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--rounds", "0"}, "--rounds must be between 1 and 1000, got 0"},
		{[]string{"--rounds", "1001"}, "--rounds must be between 1 and 1000"},
		{[]string{"--expiry-rounds", "-1"}, "--expiry-rounds must be between 0 and 100, got -1"},
		{[]string{"--session-timeout", "500ms"}, "--session-timeout must be between 1s and 10s"},
		{[]string{"--session-timeout", "11s"}, "--session-timeout must be between 1s and 10s"},
	} {
		_, msg, code := runApp(t, defaultOptions(), append([]string{"--log-level", "warn", "election"}, tc.args...)...)
		assert.Equal(t, exitUsage, code, "%v", tc.args)
		assert.Contains(t, msg, tc.want, "%v", tc.args)
	}
}

func TestElectionWithoutKazooSaysWhatToInstall(t *testing.T) {
	noKazoo := filepath.Join(t.TempDir(), "python3")
	require.NoError(t, os.WriteFile(noKazoo,
		[]byte("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'kazoo'\" >&2\nexit 1\n"), 0o700))
	for _, python := range []string{filepath.Join(t.TempDir(), "missing", "python3"), noKazoo} {
		_, msg, code := runApp(t, options{kazooPython: python}, "--log-level", "warn", "election", "--session-timeout", time.Second.String())
		assert.Equal(t, exitFailure, code, python)
		assert.Contains(t, msg, "apt-get install python3-kazoo", python)
	}
}

func TestBadLogLevelIsAUsageError(t *testing.T) {
	_, msg, code := runApp(t, options{kazooPython: "/nonexistent/python3"}, "--log-level", "loud", "election")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, msg, "loud")
}
