package jobmanager

import (
	"testing"

	"github.com/stretchr/testify/require"

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
