package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunWithCheckpoints(t *testing.T) {
	store := newStore(t)
	r := start(t, testGraph(t, 2000, 1), store, nil, paced)

	r.feed(150) // window 0 done, half of window 1
	res := r.checkpoint(1)
	require.NoError(t, res.Err)
	requirePrefix(t, store, 0) // sealed, not visible before completion
	require.NoError(t, r.task.NotifyCheckpointComplete(context.Background(), 1))
	requirePrefix(t, store, 1)
	assert.Len(t, committed(t, store), 1)

	r.feed(30) // no window closes: checkpoint 2 seals nothing
	r.complete(2)
	r.feed(270) // windows 1..3
	res = r.checkpoint(3)
	require.NoError(t, res.Err)
	require.NoError(t, r.task.AbortCheckpoint(context.Background(), 3))
	_, err := store.Stat(context.Background(), res.Name)
	assert.ErrorIs(t, err, fs.ErrNotExist, "an aborted checkpoint's state is removed")
	requirePrefix(t, store, 1)

	r.feed(100) // window 4; the part of aborted 3 goes out with 4
	r.complete(4)
	requirePrefix(t, store, 5)
	assert.Len(t, committed(t, store), 5)

	// Notifications are idempotent and may repeat old IDs.
	require.NoError(t, r.task.NotifyCheckpointComplete(context.Background(), 4))
	require.NoError(t, r.task.NotifyCheckpointComplete(context.Background(), 2))
	// IDs must increase.
	assert.ErrorIs(t, r.checkpoint(4).Err, ErrCheckpointOrder)

	r.feed(2000 - 550)
	r.finish(5)
	assert.Equal(t, windowSums(20), committed(t, store))
	// A finished task still acknowledges checkpoints (other subtasks may run), and
	// restoring from such a checkpoint changes nothing.
	res = await(t, r.task.TriggerCheckpoint(6))
	require.NoError(t, res.Err)
	require.NoError(t, r.task.NotifyCheckpointComplete(context.Background(), 6))
	r2 := start(t, testGraph(t, 2000, 1), store, res.Handle, unpaced)
	r2.finish(7)
	assert.Equal(t, windowSums(20), committed(t, store))
	r3 := start(t, testGraph(t, 2000, 1), store, nil, paced)
	require.ErrorIs(t, r3.crash(), context.Canceled)
	assert.ErrorIs(t, await(t, r3.task.TriggerCheckpoint(1)).Err, ErrNotRunning)
	assert.ErrorIs(t, r.task.Run(context.Background()), ErrLifecycle)
	assert.ErrorIs(t, r.task.Restore(context.Background(), nil), ErrLifecycle)
}

// TestCrashAtWorstMoment kills the task (as an AM loss does) at random points,
// some in the middle of a checkpoint, some right after a checkpoint completed but
// before its commit notification, and restores a new task from the latest completed
// checkpoint each time. The committed output must always be a prefix of the seed's
// output within what completed checkpoints cover, and exact at the end.
func TestCrashAtWorstMoment(t *testing.T) {
	const end, windows = 3000, 30
	rng := rand.New(rand.NewPCG(5, 2026))
	for trial := range 25 {
		t.Run(fmt.Sprint("trial", trial), func(t *testing.T) {
			store := newStore(t)
			g := testGraph(t, end, 1)
			var (
				latest    []byte // handle of the latest completed checkpoint
				latestPos int    // records it covers
				nextID    int64  = 1
			)
			for gen := range 1 + rng.IntN(4) {
				r := start(t, g, store, latest, paced)
				pos := latestPos
				feed := func(n int) { n = min(n, end-pos); r.feed(n); pos += n }
				for range rng.IntN(4) {
					feed(rng.IntN(450))
					res := r.checkpoint(nextID)
					require.NoError(t, res.Err)
					if rng.IntN(4) == 0 {
						require.NoError(t, r.task.AbortCheckpoint(context.Background(), nextID))
					} else {
						latest, latestPos = res.Handle, pos
						require.NoError(t, r.task.NotifyCheckpointComplete(context.Background(), nextID))
					}
					nextID++
					requirePrefix(t, store, latestPos/100)
				}
				feed(rng.IntN(450))
				switch how := rng.IntN(3); how {
				case 0: // checkpoint acknowledged, never completed
					require.NoError(t, r.checkpoint(nextID).Err)
				case 1: // triggered, the task dies whenever
					ch := r.task.TriggerCheckpoint(nextID)
					r.crash()
					await(t, ch) // a snapshot, ErrNotRunning or a cancelled write
				case 2: // completed (pointer stored), notification lost
					res := r.checkpoint(nextID)
					require.NoError(t, res.Err)
					latest, latestPos = res.Handle, pos
				}
				nextID++
				err := r.crash()
				if err != nil {
					require.ErrorIs(t, err, context.Canceled)
				}
				requirePrefix(t, store, latestPos/100)
				t.Logf("generation %d crashed at record %d; latest completed covers %d", gen, pos, latestPos)
			}
			r := start(t, g, store, latest, unpaced)
			r.finish(nextID)
			require.Equal(t, windowSums(windows), committed(t, store))
			pending, err := store.List(context.Background(), OutputDir("out", "counts")+"/"+pendingDir+"/")
			require.NoError(t, err)
			assert.Empty(t, pending)
		})
	}
}

func TestRestoreCommitsWhenNotifyLost(t *testing.T) {
	store := newStore(t)
	g := testGraph(t, 1000, 1)
	r := start(t, g, store, nil, paced)
	r.feed(250)
	res := r.checkpoint(1) // completed by the coordinator, which then died
	require.NoError(t, res.Err)
	r.feed(120)
	require.NoError(t, r.checkpoint(2).Err) // in flight when the AM died
	require.ErrorIs(t, r.crash(), context.Canceled)
	requirePrefix(t, store, 0)

	// Two restores from 1: the first publishes, the second finds it published.
	r1 := start(t, g, store, res.Handle, paced)
	assert.Equal(t, windowSums(2), committed(t, store))
	require.ErrorIs(t, r1.crash(), context.Canceled)
	r2 := start(t, g, store, res.Handle, unpaced)
	assert.Equal(t, windowSums(2), committed(t, store))
	r2.finish(3)
	assert.Equal(t, windowSums(10), committed(t, store))
}

func TestRestoreBadState(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	g := testGraph(t, 1000, 1)
	r := start(t, g, store, nil, paced)
	r.feed(150)
	h := r.complete(1)
	require.ErrorIs(t, r.crash(), context.Canceled)
	var handle stateHandle
	require.NoError(t, json.Unmarshal(h, &handle))

	restore := func(g Graph, subtask int, h []byte) error {
		task, err := NewTask(g, subtask, Env{State: store, StateRoot: "ha/checkpoints", OutputRoot: "out", Log: logging.ForTest(t)})
		require.NoError(t, err)
		return task.Restore(ctx, h)
	}
	requireStateErr := func(err error, cause error) {
		t.Helper()
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrState)
		var se *StateError
		assert.True(t, errors.As(err, &se), "%T", err)
		if cause != nil {
			assert.ErrorIs(t, err, cause)
		}
	}

	requireStateErr(restore(g, 0, []byte("not json")), nil)
	requireStateErr(restore(g, 0, []byte(`{"name":""}`)), nil)
	missing, _ := json.Marshal(stateHandle{Name: "ha/checkpoints/nothing/here"})
	requireStateErr(restore(g, 0, missing), fs.ErrNotExist)

	// Another job's or subtask's state is refused.
	g2 := testGraph(t, 1000, 2)
	requireStateErr(restore(g2, 1, h), nil)
	other := g
	other.ID = NewJobID()
	requireStateErr(restore(other, 0, h), nil)

	// A state file replaced by another valid object: the handle's checksum differs.
	b, err := hdfsstore.GetBytes(ctx, store, handle.Name)
	require.NoError(t, err)
	_, err = hdfsstore.PutBytes(ctx, store, handle.Name, append(b, ' '))
	require.NoError(t, err)
	requireStateErr(restore(g, 0, h), hdfsstore.ErrCorrupt)

	// A damaged file.
	_, err = hdfsstore.PutBytes(ctx, store, handle.Name, b)
	require.NoError(t, err)
	require.NoError(t, restore(g, 0, h), "the original bytes are good again")
	path := filepath.Join(storeDir(t, store), filepath.FromSlash(handle.Name))
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	raw[3] ^= 0xff
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	requireStateErr(restore(g, 0, h), hdfsstore.ErrCorrupt)
	require.NoError(t, os.Remove(path))
	requireStateErr(restore(g, 0, h), fs.ErrNotExist)
}

func storeDir(t *testing.T, s hdfsstore.Store) string {
	t.Helper()
	u := s.URI()
	require.Contains(t, u, "file://")
	return filepath.FromSlash(u[len("file://"):])
}

func TestRestoreLostPart(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	g := testGraph(t, 1000, 1)
	r := start(t, g, store, nil, paced)
	r.feed(150)
	res := r.checkpoint(1)
	require.NoError(t, res.Err)
	require.ErrorIs(t, r.crash(), context.Canceled)
	dir := OutputDir("out", "counts")
	require.NoError(t, hdfsstore.RemoveAll(ctx, store, dir+"/"))

	task, err := NewTask(g, 0, Env{State: store, StateRoot: "ha/checkpoints", OutputRoot: "out", Log: logging.ForTest(t)})
	require.NoError(t, err)
	assert.ErrorIs(t, task.Restore(ctx, res.Handle), ErrPartLost)
}

func TestParallelSubtasks(t *testing.T) {
	const p, end = 3, 6000
	store := newStore(t)
	g := testGraph(t, end, p)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	tasks := make([]*Task, p)
	done := make(chan error, p)
	for i := range p {
		task, err := NewTask(g, i, Env{State: store, OutputRoot: "out", Log: logging.ForTest(t),
			Pacer: func(time.Duration) Pacer { return nil }})
		require.NoError(t, err)
		tasks[i] = task
		go func() { done <- task.Run(ctx) }()
	}
	// The coordinator's round: trigger every subtask, then notify every subtask.
	round := func(id int64) {
		for _, task := range tasks {
			require.NoError(t, await(t, task.TriggerCheckpoint(id)).Err)
		}
		for _, task := range tasks {
			require.NoError(t, task.NotifyCheckpointComplete(ctx, id))
		}
	}
	round(1)
	for _, task := range tasks {
		<-task.EndOfInput()
	}
	round(2)
	for range p {
		require.NoError(t, <-done)
	}
	// Subtask i sums its own records i, i+p, …, 100 at a time.
	var want []int64
	for i := range int64(p) {
		for k := range int64(end / p / 100) {
			var sum int64
			for j := 100 * k; j < 100*k+100; j++ {
				sum += i + p*j
			}
			want = append(want, sum)
		}
	}
	assert.Equal(t, want, committed(t, store))
	_, err := NewTask(g, p, Env{State: store})
	assert.ErrorContains(t, err, "want 0 to 2")
}

func TestRealTimePacer(t *testing.T) {
	p := RealTimePacer(time.Millisecond)
	defer p.Stop()
	start := time.Now()
	for range 5 {
		select {
		case <-p.Next():
		case <-time.After(waitLimit):
			t.Fatal("pacer never fired")
		}
	}
	assert.GreaterOrEqual(t, time.Since(start), 4*time.Millisecond)
}

// slowStateStore holds every Put of a state file (under ha/checkpoints) until
// release is closed, telling held about each.
type slowStateStore struct {
	hdfsstore.Store
	hdfsstore.Plain // committed parts are plain files
	held            chan string
	release         chan struct{}
}

func (s slowStateStore) Put(ctx context.Context, name string, r io.Reader) (hdfsstore.Info, error) {
	if strings.HasPrefix(name, "ha/checkpoints/") {
		s.held <- name
		<-s.release
	}
	return s.Store.Put(ctx, name, r)
}

// A snapshot's writes do not stop the task: records keep flowing while the state
// is stored (the processing stall at every checkpoint was the time of the writes),
// and the sink's part ends at the barrier, not at the end of the writes.
func TestRecordsFlowWhileSnapshotIsWritten(t *testing.T) {
	base := newStore(t)
	store := slowStateStore{Store: base, Plain: base.(hdfsstore.Plain), held: make(chan string, 1), release: make(chan struct{})}
	r := start(t, testGraph(t, 1000, 1), store, nil, paced)
	var once sync.Once
	release := func() { once.Do(func() { close(store.release) }) }
	t.Cleanup(release) // before the harness's: a held write must not keep Run from returning
	r.feed(150)
	ch := r.task.TriggerCheckpoint(1)
	select {
	case <-store.held:
	case <-time.After(waitLimit):
		t.Fatal("the state of checkpoint 1 was never written")
	}
	// The state's write is held: 200 more records must pass meanwhile.
	deadline := time.After(5 * time.Second)
	for i := range 200 {
		select {
		case r.gate <- time.Time{}:
		case <-deadline:
			t.Fatalf("record %d after the barrier waited for the snapshot's write: the task's loop stopped while the state was stored", i)
		}
	}
	release()
	res := await(t, ch)
	require.NoError(t, res.Err)
	require.NoError(t, r.task.NotifyCheckpointComplete(context.Background(), 1))
	require.Equal(t, windowSums(1), committed(t, store), "checkpoint 1 covers the records before its barrier: one window")
	r.complete(2)
	require.Equal(t, windowSums(3), committed(t, store))
}

// pairedStore holds a sealed part's Put until a state file's Put has begun, and
// fails it when none begins within waitLimit: a snapshot that writes the part
// and the state one after the other fails here.
type pairedStore struct {
	hdfsstore.Store
	hdfsstore.Plain
	stateBegun chan struct{}
	once       *sync.Once
}

func (s pairedStore) Put(ctx context.Context, name string, r io.Reader) (hdfsstore.Info, error) {
	switch {
	case strings.HasPrefix(name, "ha/checkpoints/"):
		s.once.Do(func() { close(s.stateBegun) })
	case strings.Contains(name, "/"+pendingDir+"/"):
		select {
		case <-s.stateBegun:
		case <-time.After(waitLimit):
			return hdfsstore.Info{}, fmt.Errorf("part %s written alone: no state write began beside it", name)
		}
	}
	return s.Store.Put(ctx, name, r)
}

// A snapshot's two durable writes, the sink's sealed part and the chain's state,
// run side by side (their fsyncs overlap), and the snapshot is acknowledged only
// once both are stored.
func TestSnapshotWritesPartAndStateTogether(t *testing.T) {
	base := newStore(t)
	store := pairedStore{Store: base, Plain: base.(hdfsstore.Plain), stateBegun: make(chan struct{}), once: &sync.Once{}}
	r := start(t, testGraph(t, 1000, 1), store, nil, paced)
	r.feed(150)
	res := await(t, r.task.TriggerCheckpoint(1))
	require.NoError(t, res.Err)
	require.NoError(t, r.task.NotifyCheckpointComplete(context.Background(), 1))
	require.Equal(t, windowSums(1), committed(t, store), "checkpoint 1's part is committed: one window")
}
