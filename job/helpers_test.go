package job

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/stretchr/testify/require"
)

// waitLimit bounds every wait in these tests; nothing here sleeps.
const waitLimit = 20 * time.Second

const testJobID = JobID("0123456789abcdef0123456789abcdef")

func newStore(t testing.TB) hdfsstore.Store {
	t.Helper()
	s, err := hdfsstore.Open(context.Background(), "file://"+filepath.ToSlash(filepath.Join(t.TempDir(), "store")))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// testGraph is the seed's job, bounded at end records, with the given parallelism.
func testGraph(t testing.TB, end int64, parallelism int) Graph {
	t.Helper()
	spec, err := ParseSpec(fmt.Appendf(nil, `
name: counting
parallelism: %d
checkpointInterval: 5 s
pipeline:
  - sequence: {rate: 100ms, end: %d}
  - countWindowAll: {size: 100, aggregate: sum}
  - file: {path: counts}
`, parallelism, end), "test.yaml")
	require.NoError(t, err)
	return Graph{ID: testJobID, Spec: spec}
}

// windowSums is the seed's expected output: window k sums 100k … 100k+99.
func windowSums(n int) []int64 {
	out := make([]int64, n)
	for k := range out {
		out[k] = 10000*int64(k) + 4950
	}
	return out
}

// gate is a Pacer the test drives: each send lets exactly one record through.
type gate chan time.Time

func (g gate) Next() <-chan time.Time { return g }
func (g gate) Stop()                  {}

// harness is a task whose Run goroutine the test drives.
type harness struct {
	t      testing.TB
	task   *Task
	gate   gate
	cancel context.CancelFunc
	done   chan error
	fed    int
}

const (
	paced   = true
	unpaced = false
)

// start builds subtask 0 of g, restores it from handle and runs it.
func start(t testing.TB, g Graph, store hdfsstore.Store, handle []byte, withGate bool) *harness {
	t.Helper()
	return startWith(t, g, store, handle, withGate, Env{})
}

// startWith is start with the task's Env based on base (its Stats and
// SpillBytes).
func startWith(t testing.TB, g Graph, store hdfsstore.Store, handle []byte, withGate bool, base Env) *harness {
	t.Helper()
	r := &harness{t: t, gate: make(gate), done: make(chan error, 1)}
	env := Env{State: store, StateRoot: "ha/checkpoints", OutputRoot: "out", Log: logging.ForTest(t),
		Stats: base.Stats, SpillBytes: base.SpillBytes}
	if withGate {
		env.Pacer = func(time.Duration) Pacer { return r.gate }
	} else {
		env.Pacer = func(time.Duration) Pacer { return nil }
	}
	task, err := NewTask(g, 0, env)
	require.NoError(t, err)
	require.NoError(t, task.Restore(context.Background(), handle))
	r.task = task
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- task.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-r.done; r.done <- nil })
	return r
}

// feed lets n records through the gate.
func (r *harness) feed(n int) {
	r.t.Helper()
	timeout := time.After(waitLimit)
	for range n {
		select {
		case r.gate <- time.Time{}:
			r.fed++
		case err := <-r.done:
			r.done <- err
			r.t.Fatalf("Run returned while fed %d records: %v", r.fed, err)
		case <-timeout:
			r.t.Fatalf("feeding record %d timed out", r.fed)
		}
	}
}

func (r *harness) checkpoint(id int64) SnapshotResult {
	r.t.Helper()
	return await(r.t, r.task.TriggerCheckpoint(id))
}

func await(t testing.TB, ch <-chan SnapshotResult) SnapshotResult {
	t.Helper()
	select {
	case res := <-ch:
		return res
	case <-time.After(waitLimit):
		t.Fatal("no snapshot result")
		return SnapshotResult{}
	}
}

// complete triggers id, requires success and notifies completion.
func (r *harness) complete(id int64) []byte {
	r.t.Helper()
	res := r.checkpoint(id)
	require.NoError(r.t, res.Err)
	require.NoError(r.t, r.task.NotifyCheckpointComplete(context.Background(), id))
	return res.Handle
}

// crash cancels Run as a lost leader does and waits for it to return.
func (r *harness) crash() error {
	r.t.Helper()
	r.cancel()
	return r.wait()
}

func (r *harness) wait() error {
	r.t.Helper()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(waitLimit):
		r.t.Fatal("Run did not return")
		return nil
	}
}

// finish waits for the end of input, completes a final checkpoint and requires Run
// to return nil.
func (r *harness) finish(id int64) {
	r.t.Helper()
	select {
	case <-r.task.EndOfInput():
	case <-time.After(waitLimit):
		r.t.Fatal("no end of input")
	}
	r.complete(id)
	require.NoError(r.t, r.wait())
}

func committed(t testing.TB, store hdfsstore.Store) []int64 {
	t.Helper()
	out, err := ReadCommitted(context.Background(), store, OutputDir("out", "counts"))
	require.NoError(t, err)
	return out
}

// requirePrefix requires the visible output to be the first windows of the seed's
// output, no more than max of them.
func requirePrefix(t testing.TB, store hdfsstore.Store, max int) {
	t.Helper()
	got := committed(t, store)
	require.LessOrEqual(t, len(got), max, "visible output beyond the last completed checkpoint")
	want := windowSums(len(got))
	if len(want) == 0 {
		want = nil
	}
	require.Equal(t, want, got)
}
