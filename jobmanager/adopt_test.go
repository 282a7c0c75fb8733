package jobmanager

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/taskmanager/tmapi"
)

// TestAdoptionOnlyOfTheRecordedExecutionComplete: a job is adopted only when
// each of its subtasks runs once, in the recorded execution; anything else of
// the job's is a reason to restore, and a missing subtask is waited for.
func TestAdoptionOnlyOfTheRecordedExecutionComplete(t *testing.T) {
	const job, other, exec = "j", "k", "e1"
	run := func(j string, sub int, e string, last int64) tmapi.RunningTask {
		return tmapi.RunningTask{JobID: j, Subtask: sub, Execution: e, LastCheckpoint: last}
	}
	tm := func(id string, tasks ...tmapi.RunningTask) TaskManagerInfo {
		return TaskManagerInfo{ContainerID: id, Tasks: tasks}
	}
	placement, last, missing, why := adoption([]TaskManagerInfo{
		tm("a", run(job, 1, exec, 7), run(other, 0, "x", 99)), tm("b", run(job, 0, exec, 8)),
	}, job, exec, 2)
	require.Empty(t, why)
	require.Zero(t, missing)
	require.Equal(t, []string{"b", "a"}, []string{placement[0].ContainerID, placement[1].ContainerID})
	require.Equal(t, int64(8), last, "the highest checkpoint a subtask snapshotted; other jobs' do not count")

	_, _, missing, why = adoption([]TaskManagerInfo{tm("a", run(job, 1, exec, 7)), tm("b")}, job, exec, 2)
	require.Empty(t, why)
	require.Equal(t, 1, missing, "subtask 0 may still register")

	for name, tms := range map[string][]TaskManagerInfo{
		"another execution":  {tm("a", run(job, 0, exec, 1)), tm("b", run(job, 1, "e0", 1))},
		"a subtask twice":    {tm("a", run(job, 0, exec, 1)), tm("b", run(job, 0, exec, 1))},
		"a subtask too many": {tm("a", run(job, 2, exec, 1))},
	} {
		_, _, _, why := adoption(tms, job, exec, 2)
		require.NotEmpty(t, why, name)
	}
}

type recorded struct {
	jobID string
	graph []byte
}

func (r *recorded) Put(_ context.Context, _ recovery.Guard, jobID string, graph []byte) error {
	r.jobID, r.graph = jobID, graph
	return nil
}

// TestNewExecutionKeepsTheSubmission: recording an execution rewrites the stored
// payload with its "execution" set and keeps the rest of it — the submission's
// metadata (name, time, graph digest) that GET /jobs/{id} reports.
func TestNewExecutionKeepsTheSubmission(t *testing.T) {
	spec, err := job.ParseSpec([]byte("name: n\nparallelism: 1\npipeline:\n  - sequence: {}\n  - file: {path: p}\n"), "n.yaml")
	require.NoError(t, err)
	g := job.Graph{ID: job.NewJobID(), Spec: spec}
	graph, err := g.Encode()
	require.NoError(t, err)
	meta := submissionMeta{Name: "n", Submitted: time.Unix(1700000000, 0).UTC(), GraphSHA256: GraphDigest(graph)}
	payload, err := encodePayload(graph, meta)
	require.NoError(t, err)

	rec := &recorded{}
	c := &Coordinator{recorder: rec}
	decoded, err := job.DecodeGraph(payload)
	require.NoError(t, err)
	out, err := c.newExecution(context.Background(), nil, &decoded, payload)
	require.NoError(t, err)
	require.Equal(t, out, rec.graph, "the payload deployed is the one recorded")
	require.Equal(t, string(g.ID), rec.jobID)
	require.Equal(t, meta, decodeMeta(out), "the submission's metadata is kept")
	again, err := job.DecodeGraph(out)
	require.NoError(t, err)
	require.NotEmpty(t, again.Execution)
	require.Equal(t, decoded.Execution, again.Execution)
	require.Equal(t, g.Spec, again.Spec)
}
