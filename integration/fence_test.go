package integration_test

import (
	"cmp"
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/haservices"
	"github.com/amkeeper/amkeeper/taskmanager"
)

// openHA opens the HA services of the -D args (as the processes of a session
// see them), closed when the test ends.
func openHA(t *testing.T, args []string) *recovery.Services {
	t.Helper()
	var dyn []string
	for i := 1; i < len(args); i += 2 {
		dyn = append(dyn, args[i])
	}
	cfg, err := conf.Load(conf.Options{Dynamic: dyn})
	require.NoError(t, err)
	svc, err := haservices.Open(context.Background(), cfg, haservices.Options{Logger: logging.ForTest(t)})
	require.NoError(t, err)
	t.Cleanup(func() { svc.Close() })
	return svc
}

// leaderWrite is one write for a job that ZooKeeper or storage kept, with the
// leader session stamped on it: a retained checkpoint (its pointer and payload)
// or a committed sink part (its sidecar).
type leaderWrite struct {
	what    string // for messages
	stream  string // "checkpoints", or "parts of subtask N"
	id      int64  // its place in its stream: the checkpoint's ID, the part's checkpoint
	by      int64  // the checkpoint that made it: a checkpoint's own ID, the commit's of a part
	session uuid.UUID
	exec    string // the execution that committed a part
}

func (w leaderWrite) String() string {
	s := fmt.Sprintf("%s (by checkpoint %d, leader session %s", w.what, w.by, w.session)
	if w.exec != "" {
		s += ", execution " + w.exec
	}
	return s + ")"
}

// jobWrites walks ZooKeeper (the job's checkpoint pointers, through
// inspection, which reads each payload) and storage (the job's committed parts
// in the sink directory out) for the stamps of what the job's leaders wrote.
func jobWrites(ctx context.Context, svc *recovery.Services, store hdfsstore.Store, out, jobID string) ([]leaderWrite, error) {
	r, err := svc.Inspector().Inspect(ctx)
	if err != nil {
		return nil, err
	}
	var ws []leaderWrite
	for _, n := range r.Nodes {
		if n.Kind != recovery.KindCheckpoint || n.JobID != jobID {
			continue
		}
		if n.Status != recovery.StatusOK {
			return nil, fmt.Errorf("checkpoint pointer %s: %s: %s", n.Path, n.Status, n.Detail)
		}
		id, err := strconv.ParseInt(path.Base(n.Path), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("checkpoint pointer %s: not an ID", n.Path)
		}
		if n.Leader != n.PayloadLeader.String() {
			return nil, fmt.Errorf("checkpoint %d: pointer stamped %q, payload %s", id, n.Leader, n.PayloadLeader)
		}
		ws = append(ws, leaderWrite{what: fmt.Sprintf("checkpoint %d", id), stream: "checkpoints", id: id, by: id, session: n.PayloadLeader})
	}
	parts, err := job.CommittedJobParts(ctx, store, out, job.JobID(jobID))
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		st, err := job.ReadPartStamp(ctx, store, p.Name)
		if err != nil {
			return nil, err
		}
		ws = append(ws, leaderWrite{what: "part " + path.Base(p.Name), stream: fmt.Sprintf("parts of subtask %d", p.Subtask),
			id: p.Checkpoint, by: st.CommittedBy, session: st.LeaderSession, exec: st.Execution})
	}
	return ws, nil
}

// checkLeaderWrites checks the writes against the job's leader sessions in the
// order they led: every write is stamped by one of them; in each stream,
// ordered by ID, no write of a deposed leader comes after the first of a later
// leader, and no part of an execution after the first part of the next; and
// across streams every write of a deposed leader was made by a checkpoint no
// newer than any of a later leader's (a restore publishes, under the new
// leader, what the deposed leader's last checkpoint covers: equal is fine).
// Each leader must have written something. The error names the first write
// out of order.
func checkLeaderWrites(ws []leaderWrite, leaders []uuid.UUID) error {
	rank := map[uuid.UUID]int{}
	for i, l := range leaders {
		rank[l] = i
	}
	streams := map[string][]leaderWrite{}
	maxBy := make([]int64, len(leaders))
	minBy := make([]int64, len(leaders))
	seen := make([]bool, len(leaders))
	for _, w := range ws {
		i, ok := rank[w.session]
		if !ok {
			return fmt.Errorf("%v: stamped by none of the job's leaders %v", w, leaders)
		}
		if !seen[i] || w.by > maxBy[i] {
			maxBy[i] = w.by
		}
		if !seen[i] || w.by < minBy[i] {
			minBy[i] = w.by
		}
		seen[i] = true
		streams[w.stream] = append(streams[w.stream], w)
	}
	for i, ok := range seen {
		if !ok {
			return fmt.Errorf("leader session %s (leader %d of %d) wrote nothing", leaders[i], i+1, len(leaders))
		}
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range streams {
			if !yield(k) {
				return
			}
		}
	}) {
		s := streams[name]
		slices.SortFunc(s, func(a, b leaderWrite) int { return cmp.Compare(a.id, b.id) })
		ended := map[string]leaderWrite{} // executions whose successor has committed: by the successor's first part
		for k := 1; k < len(s); k++ {
			prev, w := s[k-1], s[k]
			if rank[w.session] < rank[prev.session] {
				return fmt.Errorf("%s: %v comes after %v: a deposed leader's write landed after the next leader's", name, w, prev)
			}
			if next, ok := ended[w.exec]; ok {
				return fmt.Errorf("%s: %v comes after %v: a replaced execution committed after its successor", name, w, next)
			}
			if w.exec != prev.exec {
				ended[prev.exec] = w
			}
		}
	}
	for i := range leaders {
		for j := i + 1; j < len(leaders); j++ {
			if maxBy[i] > minBy[j] {
				return fmt.Errorf("leader session %s wrote by checkpoint %d, after leader session %s's first write (by checkpoint %d): a deposed leader's write landed",
					leaders[i], maxBy[i], leaders[j], minBy[j])
			}
		}
	}
	return nil
}

// requireLeaderWrites walks ZooKeeper and storage for the job's writes and
// checks them against its leader sessions in the order they led: nothing a
// deposed leader (or a replaced execution) wrote was accepted after its
// successor's first write. It replaces reading the processes' logs.
func requireLeaderWrites(t *testing.T, svc *recovery.Services, store hdfsstore.Store, jobID string, leaders ...uuid.UUID) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws, err := jobWrites(ctx, svc, store, job.OutputDir(taskmanager.OutputRoot, "counts"), jobID)
	require.NoError(t, err)
	var b []byte
	for _, w := range ws {
		b = fmt.Appendf(b, "\n  %v", w)
	}
	t.Logf("the job's stamped writes:%s", b)
	require.NoError(t, checkLeaderWrites(ws, leaders))
}

// testGuard is a leadership the backend does not recognise: it fences nothing
// (only Err is checked), so a write under it lands whoever leads — the forced
// write of a deposed leader.
type testGuard uuid.UUID

func (g testGuard) SessionID() uuid.UUID { return uuid.UUID(g) }
func (g testGuard) Err() error           { return nil }

// TestLeaderWritesCheckerCatchesADeposedWrite: checkpoints stored in real
// ZooKeeper and parts committed by the real file sink under two leader
// sessions in turn pass the check; then a deposed leader's write is forced
// past the fencing — a part committed under its session, and separately a
// checkpoint stored under it — and the check fails, naming that write. So do a
// part of a replaced execution committed after its successor's, and a write
// stamped by a session that never led.
func TestLeaderWritesCheckerCatchesADeposedWrite(t *testing.T) {
	ctx := context.Background()
	storage := "file://" + t.TempDir()
	svc := openHA(t, []string{"-D", "high-availability.type=zookeeper", "-D", "high-availability.zookeeper.quorum=" + zkc.ConnectString(),
		"-D", "high-availability.zookeeper.path.root=" + zkc.Root(t), "-D", "high-availability.cluster-id=/fence",
		"-D", "high-availability.storageDir=" + storage})
	store, err := hdfsstore.Open(ctx, storage)
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	const jobID = "0123456789abcdef0123456789abcdef"
	cps, err := svc.CheckpointStore(ctx, jobID)
	require.NoError(t, err)
	out := job.OutputDir(taskmanager.OutputRoot, "counts")
	deposed, next := uuid.New(), uuid.New()

	// One subtask's sink, driven as its task is: write, seal, commit under a session.
	sinkOf := func(execution string) job.Sink {
		s, err := (&job.FileSinkConfig{Path: "counts"}).NewSink(job.Instance{Job: jobID, Execution: execution, Output: store,
			OutputRoot: taskmanager.OutputRoot, Log: logging.ForTest(t)})
		require.NoError(t, err)
		return s
	}
	commit := func(s job.Sink, session uuid.UUID, id int64) {
		require.NoError(t, s.Write(id))
		write, err := s.Seal(id)
		require.NoError(t, err)
		require.NoError(t, write(ctx))
		require.NoError(t, s.Commit(job.WithLeaderSession(ctx, session), id))
	}
	store1 := func(session uuid.UUID, id int64) {
		_, err := cps.Add(ctx, testGuard(session), recovery.CompletedCheckpoint{JobID: jobID, ID: id, Timestamp: time.Now(), Metadata: []byte(`{}`)})
		require.NoError(t, err)
	}
	check := func() error {
		ws, err := jobWrites(ctx, svc, store, out, jobID)
		require.NoError(t, err)
		return checkLeaderWrites(ws, []uuid.UUID{deposed, next})
	}

	e1 := sinkOf("e1")
	for id := int64(1); id <= 2; id++ {
		store1(deposed, id)
		commit(e1, deposed, id)
	}
	store1(next, 3) // the next leader adopts e1
	commit(e1, next, 3)
	require.NoError(t, check(), "the leaders wrote in turn")

	// The deposed leader's completion of a checkpoint 4 accepted by the task.
	commit(e1, deposed, 4)
	err = check()
	require.ErrorContains(t, err, "part part-"+jobID+"-00000-0000000000000000004 (by checkpoint 4, leader session "+deposed.String()+", execution e1) comes after")
	require.ErrorContains(t, err, "a deposed leader's write landed after the next leader's")
	require.NoError(t, store.Delete(ctx, out+"/part-"+jobID+"-00000-0000000000000000004"))
	require.NoError(t, check())

	// A checkpoint stored under the deposed session (the ZooKeeper guard would refuse it).
	store1(deposed, 5)
	require.ErrorContains(t, check(), "leader session "+deposed.String()+" wrote by checkpoint 5, after leader session "+next.String()+"'s first write (by checkpoint 3)")
	store1(next, 6) // subsumes 5
	require.NoError(t, check())

	// A replaced execution's part after its successor's, under the same leader.
	e2 := sinkOf("e2")
	commit(e2, next, 7)
	commit(e1, next, 8)
	require.ErrorContains(t, check(), "(by checkpoint 8, leader session "+next.String()+", execution e1) comes after part part-"+jobID+"-00000-0000000000000000007")
	require.NoError(t, store.Delete(ctx, out+"/part-"+jobID+"-00000-0000000000000000008"))

	// A write stamped by a session that never led.
	store1(uuid.New(), 9)
	require.ErrorContains(t, check(), "checkpoint 9 (by checkpoint 9, leader session ")
	require.ErrorContains(t, check(), "stamped by none of the job's leaders")
}
