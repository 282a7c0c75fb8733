package jobmanager

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/flinkshape"
)

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// jobWithHistory is the statistics of a job restored from checkpoint 3 on two
// TaskManagers, that completed checkpoint 4, failed checkpoint 5, failed over
// (a TaskManager went away) and was redeployed from checkpoint 4 on one.
func jobWithHistory(t *testing.T, t0 time.Time) (*statsBook, error) {
	b := newStatsBook()
	const id = "0000000000000000000000000000000a"
	two := []TaskManagerInfo{{ContainerID: "c1", Slots: 1}, {ContainerID: "c2", Slots: 1}}
	b.deployed(id, 3, t0, two)
	b.triggered(id)
	b.finished(id, checkpointRecord{ID: 4, Triggered: t0.Add(time.Second), Acked: t0.Add(1250 * time.Millisecond), Size: 100, Subtasks: 2})
	b.triggered(id)
	b.finished(id, checkpointRecord{ID: 5, Triggered: t0.Add(2 * time.Second), Acked: t0.Add(2100 * time.Millisecond), Subtasks: 2,
		Failure: "checkpoint 5 aborted: subtask 1: connection refused"})
	lost := errors.New("taskmanager c2 is gone")
	b.undeployed(id, lost, t0.Add(3*time.Second))
	b.deployed(id, 4, t0.Add(4*time.Second), two[:1])
	return b, lost
}

// TestFlinkShapesOfAJob: GET /jobs/{id}/checkpoints, /exceptions, /jobs,
// /jobs/overview and /jobs/{id} have every field Flink's responses have (the
// recorded lists), with the values the job's history gives.
func TestFlinkShapesOfAJob(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	const id = "0000000000000000000000000000000a"
	b, lost := jobWithHistory(t, t0)
	st, ok := b.get(id)
	require.True(t, ok)

	info := checkpointInfo(st, true)
	flinkshape.Check(t, "/jobs/:id/checkpoints", mustJSON(t, info))
	require.Equal(t, CheckpointCounts{Restored: 2, Total: 2, Completed: 1, Failed: 1}, info.Counts)
	require.Equal(t, int64(4), info.Latest.Completed.ID)
	require.Equal(t, int64(250), info.Latest.Completed.EndToEndDuration)
	require.Equal(t, int64(100), info.Latest.Completed.StateSize)
	require.Equal(t, "completed", info.Latest.Completed.ClassName)
	require.Equal(t, "failed", info.Latest.Failed.ClassName)
	require.Equal(t, "checkpoint 5 aborted: subtask 1: connection refused", *info.Latest.Failed.FailureMessage)
	require.Equal(t, int64(4), info.Latest.Restored.ID)
	require.Equal(t, t0.Add(4*time.Second).UnixMilli(), info.Latest.Restored.RestoreTimestamp)
	require.Nil(t, info.Latest.Savepoint)
	require.Equal(t, []int64{5, 4}, []int64{info.History[0].ID, info.History[1].ID}, "newest first")
	require.Equal(t, StatsSummary{Min: 250, Max: 250, Avg: 250, P50: 250, P90: 250, P95: 250, P99: 250, P999: 250}, info.Summary.EndToEndDuration)
	require.Equal(t, int64(4), info.LatestID())
	require.Equal(t, int64(4), info.RestoredFrom)
	require.True(t, info.Deployed)

	ex := jobExceptions(st, st.droppedExceptions)
	flinkshape.Check(t, "/jobs/:id/exceptions", mustJSON(t, ex))
	require.Equal(t, lost.Error(), *ex.RootException)
	require.Equal(t, t0.Add(3*time.Second).UnixMilli(), *ex.Timestamp)
	require.Len(t, ex.ExceptionHistory.Entries, 1)
	require.False(t, ex.Truncated)

	require.Equal(t, int64(2), st.restarts, "restored from an earlier leader's checkpoint, then redeployed after a failure")
	require.Equal(t, map[string]int{"c1": 1}, b.usedSlots())

	tasks := jobTasks{parallelism: st.parallelism, running: len(st.placement)}
	running := timedJob{JobStatus{JobID: id, Name: "counting", State: JobRunning}, t0, time.Time{}}
	canceled := timedJob{JobStatus{JobID: "0000000000000000000000000000000b", Name: "gone", State: JobCanceled}, t0, t0.Add(time.Minute)}
	now := t0.Add(10 * time.Second)

	list := map[string]any{"jobs": []JobIDStatus{{running.JobStatus, FlinkState(running.State)}, {canceled.JobStatus, FlinkState(canceled.State)}}}
	flinkshape.Check(t, "/jobs", mustJSON(t, list))

	overview := map[string]any{"jobs": []JobOverview{jobOverview(running, tasks, now), jobOverview(canceled, jobTasks{}, now)}}
	flinkshape.Check(t, "/jobs/overview", mustJSON(t, overview))
	o := jobOverview(running, tasks, now)
	require.Equal(t, JobOverview{JID: id, Name: "counting", StartTime: t0.UnixMilli(), EndTime: -1, Duration: 10_000,
		State: "RUNNING", LastModification: now.UnixMilli(), Tasks: TaskCounts{Total: 1, Running: 1}}, o)
	c := jobOverview(canceled, jobTasks{}, now)
	require.Equal(t, "CANCELED", c.State)
	require.Equal(t, int64(60_000), c.Duration)

	for _, j := range []timedJob{running, canceled} {
		d := jobDetail(j, tasks, now)
		body := mustJSON(t, d)
		flinkshape.Check(t, "/jobs/:id", body)
		var back JobStatus
		require.NoError(t, json.Unmarshal(body, &back))
		require.Equal(t, j.JobStatus, back, "amkeeper's own fields stay beside Flink's")
	}

	require.Equal(t, JobCounts{Running: 1, Cancelled: 1}, countJobs([]timedJob{running, canceled}))
	require.Equal(t, "RESTARTING", FlinkState(JobRecoveryFailed))
	require.Equal(t, "FINISHED", FlinkState("SUCCEEDED"))
}

// TestFlinkShapeOfTaskManagers: GET /taskmanagers entries have Flink's
// TaskManagerInfo fields and amkeeper's; freeSlots counts the deployed subtasks.
func TestFlinkShapeOfTaskManagers(t *testing.T) {
	hb := time.UnixMilli(1_700_000_000_000)
	tm := TaskManagerInfo{ContainerID: "container_1_0001_01_000001", Slots: 2, Address: "http://127.0.0.1:1", LastHeartbeat: hb}
	d := taskManagerDetail(tm, 1, 1<<30, 2)
	body := mustJSON(t, map[string]any{"taskmanagers": []TaskManagerDetail{d}})
	flinkshape.Check(t, "/taskmanagers", body)
	require.Equal(t, 1, d.FreeSlots)
	require.Equal(t, 2, d.SlotsNumber)
	require.Equal(t, hb.UnixMilli(), d.TimeSinceLastHeartbeat)
	var back struct {
		TaskManagers []TaskManagerInfo `json:"taskmanagers"`
	}
	require.NoError(t, json.Unmarshal(body, &back))
	require.Equal(t, tm.ContainerID, back.TaskManagers[0].ContainerID, "amkeeper's fields stay")
}

// TestExceptionHistoryIsBounded: a job failing over more often than the
// history keeps reports the newest failures, truncated.
func TestExceptionHistoryIsBounded(t *testing.T) {
	b := newStatsBook()
	t0 := time.UnixMilli(1_700_000_000_000)
	for i := range exceptionsSize + 3 {
		b.undeployed("j", errors.New("failure "+string(rune('a'+i))), t0.Add(time.Duration(i)*time.Second))
	}
	st, _ := b.get("j")
	ex := jobExceptions(st, st.droppedExceptions)
	require.Len(t, ex.ExceptionHistory.Entries, exceptionsSize)
	require.True(t, ex.Truncated)
	require.Equal(t, "failure "+string(rune('a'+exceptionsSize+2)), *ex.RootException)
}
