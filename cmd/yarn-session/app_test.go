package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBenchmarksAreNotInTheShippedCLI: the benchmarks live in cmd/amkeeper-bench.
func TestBenchmarksAreNotInTheShippedCLI(t *testing.T) {
	_, code := run(t, "bench", "failover", "--kills", "1")
	require.Equal(t, exitUsage, code)
	out, code := run(t, "--help")
	require.Equal(t, 0, code)
	require.NotContains(t, out, "bench")
}
