package job

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// sequenceGraph writes its sequence (bounded at end) unchanged into counts.
func sequenceGraph(t testing.TB, end int64) Graph {
	t.Helper()
	spec, err := ParseSpec(fmt.Appendf(nil, `
name: sequence
parallelism: 1
pipeline:
  - sequence: {rate: 100ms, end: %d}
  - file: {path: counts}
`, end), "test.yaml")
	require.NoError(t, err)
	return Graph{ID: testJobID, Spec: spec}
}

func spillsOf(t testing.TB, m map[string]string) []string {
	var out []string
	for name := range m {
		if strings.Contains(name, "/"+spillDir+"/") {
			out = append(out, name)
		}
	}
	return out
}

func seq(from, to int64) []int64 {
	var out []int64
	for v := from; v < to; v++ {
		out = append(out, v)
	}
	return out
}

// TestSinkSpillsUncommittedOutput: a task that runs on without checkpoints (no
// leader) keeps at most SpillBytes of output in memory and spills the rest to
// storage, invisible; the next checkpoint seals the spills and the rest into one
// pending part, in order, and removes the spills; a restore discards spills
// (the replay writes them again). The output is exact.
func TestSinkSpillsUncommittedOutput(t *testing.T) {
	store := newStore(t)
	g := sequenceGraph(t, 1000)
	r := startWith(t, g, store, nil, paced, Env{SpillBytes: 64})
	r.feed(10)
	h1 := r.complete(1)
	r.feed(300) // about 1100 bytes: 17 spills of 64 bytes and some
	spills := spillsOf(t, files(t, store, sinkDir))
	require.GreaterOrEqual(t, len(spills), 15, "output beyond 64 bytes is spilled")
	require.Equal(t, seq(0, 10), committed(t, store), "spilled output is not visible")
	r.complete(2)
	require.Empty(t, spillsOf(t, files(t, store, sinkDir)), "the seal removes the spills")
	require.Equal(t, seq(0, 310), committed(t, store))

	r.feed(200) // spilled, never sealed
	require.NotEmpty(t, spillsOf(t, files(t, store, sinkDir)))
	require.ErrorIs(t, r.crash(), context.Canceled)
	_, err := restoreOnly(t, g, store, h1) // an older checkpoint: discards the spills, keeps what is committed
	require.NoError(t, err)
	require.Empty(t, spillsOf(t, files(t, store, sinkDir)), "a restore discards the spills")
	require.Equal(t, seq(0, 310), committed(t, store))
}
