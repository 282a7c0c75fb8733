package jobmanager

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"
)

// The shapes of Flink's REST responses that the AM serves, built from what the
// AM knows. Field names are Flink's (testdata/flink-rest-fields.txt lists them
// with their source); amkeeper's own fields sit beside them, never in their
// place. Every builder here is pure: the handlers in rest.go gather the data.

// Flink's job states (JobStatus), onto which amkeeper's map.
const (
	flinkRunning    = "RUNNING"
	flinkRestarting = "RESTARTING"
	flinkCanceled   = "CANCELED"
	flinkFinished   = "FINISHED"
	flinkFailed     = "FAILED"
)

// FlinkState maps an amkeeper job state onto Flink's JobStatus: a job whose
// recovery is retried or waits for an operator (RECOVERING, RECOVERY_FAILED)
// is RESTARTING, a job result's SUCCEEDED is FINISHED; RUNNING, CANCELED and
// FAILED are the same words.
func FlinkState(state string) string {
	switch state {
	case JobRecovering, JobRecoveryFailed:
		return flinkRestarting
	case "SUCCEEDED":
		return flinkFinished
	}
	return state
}

// Finished reports whether an amkeeper job state is final: canceled, or a job
// result's SUCCEEDED or FAILED.
func Finished(state string) bool {
	switch FlinkState(state) {
	case flinkCanceled, flinkFinished, flinkFailed:
		return true
	}
	return false
}

// millis is t in Unix milliseconds, -1 for the zero time (Flink's "not yet").
func millis(t time.Time) int64 {
	if t.IsZero() {
		return -1
	}
	return t.UnixMilli()
}

// JobCounts are /overview's job counts: running (or pending: restarting),
// finished, cancelled, failed.
type JobCounts struct {
	Running   int `json:"jobs-running"`
	Finished  int `json:"jobs-finished"`
	Cancelled int `json:"jobs-cancelled"`
	Failed    int `json:"jobs-failed"`
}

func countJobs(jobs []timedJob) JobCounts {
	var c JobCounts
	for _, j := range jobs {
		switch FlinkState(j.State) {
		case flinkFinished:
			c.Finished++
		case flinkCanceled:
			c.Cancelled++
		case flinkFailed:
			c.Failed++
		default:
			c.Running++
		}
	}
	return c
}

// DashboardConfig is GET /config (Flink's DashboardConfiguration).
type DashboardConfig struct {
	RefreshInterval int64  `json:"refresh-interval"`
	TimezoneName    string `json:"timezone-name"`
	TimezoneOffset  int    `json:"timezone-offset"` // milliseconds east of UTC
	FlinkVersion    string `json:"flink-version"`   // amkeeper's version
	FlinkRevision   string `json:"flink-revision"`  // amkeeper's revision
	Features        struct {
		WebSubmit  bool `json:"web-submit"`
		WebCancel  bool `json:"web-cancel"`
		WebRescale bool `json:"web-rescale"`
		WebHistory bool `json:"web-history"`
	} `json:"features"`
}

func dashboardConfig(now time.Time, refresh time.Duration, version, revision string) DashboardConfig {
	name, offset := now.Zone()
	c := DashboardConfig{RefreshInterval: refresh.Milliseconds(), TimezoneName: name, TimezoneOffset: offset * 1000,
		FlinkVersion: version, FlinkRevision: revision}
	// Jobs are submitted and canceled with the CLI, which carries the
	// application secret; the web page cannot.
	return c
}

// JobIDStatus is one entry of GET /jobs (Flink's JobIdWithStatus): id and
// status are Flink's fields; status holds amkeeper's state (a superset of
// Flink's: RECOVERING and RECOVERY_FAILED say why a job does not run), and
// state the Flink state it maps onto.
type JobIDStatus struct {
	JobStatus
	FlinkState string `json:"state"`
}

// TaskCounts are a job's subtasks per Flink execution state, with their total.
type TaskCounts struct {
	Total        int `json:"total"`
	Created      int `json:"created"`
	Scheduled    int `json:"scheduled"`
	Deploying    int `json:"deploying"`
	Running      int `json:"running"`
	Finished     int `json:"finished"`
	Canceling    int `json:"canceling"`
	Canceled     int `json:"canceled"`
	Failed       int `json:"failed"`
	Reconciling  int `json:"reconciling"`
	Initializing int `json:"initializing"`
}

// JobOverview is one job of GET /jobs/overview (Flink's JobDetails).
type JobOverview struct {
	JID              string     `json:"jid"`
	Name             string     `json:"name"`
	StartTime        int64      `json:"start-time"`
	EndTime          int64      `json:"end-time"`
	Duration         int64      `json:"duration"`
	State            string     `json:"state"`
	LastModification int64      `json:"last-modification"`
	Tasks            TaskCounts `json:"tasks"`
}

// jobTasks is what the coordinator knows of a job's subtasks.
type jobTasks struct {
	parallelism int // 0: unknown here
	running     int // subtasks deployed now
	takeover    *Takeover
}

func taskCounts(state string, t jobTasks) TaskCounts {
	c := TaskCounts{Total: max(t.parallelism, t.running)}
	switch FlinkState(state) {
	case flinkRunning:
		c.Running = t.running
		c.Scheduled = c.Total - t.running // waiting for slots
	case flinkRestarting:
		c.Created = c.Total
	case flinkCanceled:
		c.Canceled = c.Total
	case flinkFinished:
		c.Finished = c.Total
	case flinkFailed:
		c.Failed = c.Total
	}
	return c
}

func jobOverview(j timedJob, t jobTasks, now time.Time) JobOverview {
	end := j.Ended
	last := j.Ended
	if last.IsZero() {
		last = now
	}
	dur := int64(-1)
	if !j.Started.IsZero() {
		stop := now
		if !end.IsZero() {
			stop = end
		}
		dur = stop.Sub(j.Started).Milliseconds()
	}
	return JobOverview{JID: j.JobID, Name: j.Name, StartTime: millis(j.Started), EndTime: millis(end), Duration: dur,
		State: FlinkState(j.State), LastModification: last.UnixMilli(), Tasks: taskCounts(j.State, t)}
}

// JobVertex is one vertex of GET /jobs/{id}: amkeeper runs a job's pipeline
// chained in one task per subtask, so a job has one vertex.
type JobVertex struct {
	ID             string         `json:"id"`
	Name           string         `json:"name"`
	MaxParallelism int            `json:"maxParallelism"`
	Parallelism    int            `json:"parallelism"`
	Status         string         `json:"status"`
	StartTime      int64          `json:"start-time"`
	EndTime        int64          `json:"end-time"`
	Duration       int64          `json:"duration"`
	Tasks          map[string]int `json:"tasks"`
	Metrics        map[string]any `json:"metrics"` // none measured
}

// JobDetail is GET /jobs/{id} (Flink's JobDetailsInfo), with amkeeper's
// JobStatus fields (id, status, error, checkpoint, file, graphSha256) beside.
type JobDetail struct {
	JobStatus
	JID            string           `json:"jid"`
	Name           string           `json:"name"`
	IsStoppable    bool             `json:"isStoppable"`
	State          string           `json:"state"`
	StartTime      int64            `json:"start-time"`
	EndTime        int64            `json:"end-time"`
	Duration       int64            `json:"duration"`
	MaxParallelism int              `json:"maxParallelism"`
	Now            int64            `json:"now"`
	Timestamps     map[string]int64 `json:"timestamps"`
	Vertices       []JobVertex      `json:"vertices"`
	StatusCounts   map[string]int   `json:"status-counts"`
	Plan           JobPlan          `json:"plan"`
	// Takeover is amkeeper's: how this AM took the job over (adopted or
	// restored, and why); absent for a job it has not run.
	Takeover *Takeover `json:"takeover,omitempty"`
}

// JobPlan is the plan of GET /jobs/{id}: one node, the chained pipeline.
type JobPlan struct {
	JID   string        `json:"jid"`
	Name  string        `json:"name"`
	Type  string        `json:"type"`
	Nodes []JobPlanNode `json:"nodes"`
}

// JobPlanNode is one node of a JobPlan.
type JobPlanNode struct {
	ID          string `json:"id"`
	Parallelism int    `json:"parallelism"`
	Operator    string `json:"operator"`
	Description string `json:"description"`
}

// vertexID is a job's one vertex ID: 32 hex digits, as Flink's JobVertexID.
func vertexID(jobID string) string {
	sum := sha256.Sum256([]byte("vertex/" + jobID))
	return hex.EncodeToString(sum[:16])
}

func jobDetail(j timedJob, t jobTasks, now time.Time) JobDetail {
	o := jobOverview(j, t, now)
	counts := taskCounts(j.State, t)
	perState := map[string]int{"CREATED": counts.Created, "SCHEDULED": counts.Scheduled, "DEPLOYING": counts.Deploying,
		"RUNNING": counts.Running, "FINISHED": counts.Finished, "CANCELING": counts.Canceling, "CANCELED": counts.Canceled,
		"FAILED": counts.Failed, "RECONCILING": counts.Reconciling, "INITIALIZING": counts.Initializing}
	vstatus := "CREATED"
	for _, s := range []string{"RUNNING", "FINISHED", "CANCELED", "FAILED"} {
		if perState[s] > 0 {
			vstatus = s
		}
	}
	vertexStates := map[string]int{}
	for s := range perState {
		vertexStates[s] = 0
	}
	vertexStates[vstatus] = 1
	timestamps := map[string]int64{}
	if !j.Started.IsZero() {
		timestamps["INITIALIZING"], timestamps["CREATED"], timestamps["RUNNING"] = j.Started.UnixMilli(), j.Started.UnixMilli(), j.Started.UnixMilli()
	}
	if !j.Ended.IsZero() {
		timestamps[o.State] = j.Ended.UnixMilli()
	}
	vid := vertexID(j.JobID)
	v := JobVertex{ID: vid, Name: j.Name, MaxParallelism: counts.Total, Parallelism: counts.Total, Status: vstatus,
		StartTime: o.StartTime, EndTime: o.EndTime, Duration: o.Duration, Tasks: perState, Metrics: map[string]any{}}
	return JobDetail{JobStatus: j.JobStatus, JID: j.JobID, Name: j.Name, State: o.State, StartTime: o.StartTime, EndTime: o.EndTime,
		Duration: o.Duration, MaxParallelism: counts.Total, Now: now.UnixMilli(), Timestamps: timestamps,
		Vertices: []JobVertex{v}, StatusCounts: vertexStates, Takeover: t.takeover,
		Plan: JobPlan{JID: j.JobID, Name: j.Name, Type: "STREAMING",
			Nodes: []JobPlanNode{{ID: vid, Parallelism: counts.Total, Operator: "pipeline", Description: j.Name}}}}
}

// CheckpointInfo is GET /jobs/{id}/checkpoints: Flink's CheckpointingStatistics
// (counts, summary, latest, history) as this AM saw the job, with amkeeper's
// Deployed and RestoredFrom beside.
type CheckpointInfo struct {
	Counts  CheckpointCounts       `json:"counts"`
	Summary CheckpointSummary      `json:"summary"`
	Latest  LatestCheckpoints      `json:"latest"`
	History []CheckpointStatistics `json:"history"` // newest first
	// Deployed: the job's tasks run under this AM now.
	Deployed bool `json:"deployed"`
	// RestoredFrom is the checkpoint the job's tasks were last restored from
	// here (0: started fresh).
	RestoredFrom int64 `json:"restoredFrom"`
	// Adopted: the job's tasks run as an earlier leader deployed them; this AM
	// adopted them (no restore) and checkpoints them.
	Adopted bool `json:"adopted"`
	// Takeover is how this AM took the job over (nil: it has not).
	Takeover *Takeover `json:"takeover,omitempty"`
}

// LatestID is the newest checkpoint the job has here: the latest completed
// one, or else the one it was restored from (0: none).
func (i CheckpointInfo) LatestID() int64 {
	if c := i.Latest.Completed; c != nil && c.ID > i.RestoredFrom {
		return c.ID
	}
	return i.RestoredFrom
}

// CheckpointCounts are the checkpoint counts (Flink's Counts).
type CheckpointCounts struct {
	Restored   int64 `json:"restored"`
	Total      int64 `json:"total"`
	InProgress int   `json:"in_progress"`
	Completed  int64 `json:"completed"`
	Failed     int64 `json:"failed"`
}

// StatsSummary is min/max/avg and quantiles of one quantity (Flink's
// StatsSummaryDto); all zero before the first completed checkpoint.
type StatsSummary struct {
	Min  int64   `json:"min"`
	Max  int64   `json:"max"`
	Avg  int64   `json:"avg"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
}

func summarize(xs []int64) StatsSummary {
	if len(xs) == 0 {
		return StatsSummary{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	var sum int64
	for _, x := range s {
		sum += x
	}
	q := func(p float64) float64 { return float64(s[min(len(s)-1, int(p*float64(len(s))))]) }
	return StatsSummary{Min: s[0], Max: s[len(s)-1], Avg: sum / int64(len(s)),
		P50: q(0.5), P90: q(0.9), P95: q(0.95), P99: q(0.99), P999: q(0.999)}
}

// CheckpointSummary summarizes the completed checkpoints (Flink's Summary).
// Sizes are of the checkpoint metadata amkeeper stores; the TaskManagers'
// state files are not measured. Alignment and in-flight data are always zero:
// amkeeper's checkpoints are aligned barriers with no buffered data.
type CheckpointSummary struct {
	CheckpointedSize  StatsSummary `json:"checkpointed_size"`
	StateSize         StatsSummary `json:"state_size"`
	EndToEndDuration  StatsSummary `json:"end_to_end_duration"`
	AlignmentBuffered StatsSummary `json:"alignment_buffered"`
	ProcessedData     StatsSummary `json:"processed_data"`
	PersistedData     StatsSummary `json:"persisted_data"`
}

// LatestCheckpoints are the latest completed, savepoint (never: amkeeper takes
// none), failed and restored checkpoints; null when there is none.
type LatestCheckpoints struct {
	Completed *CheckpointStatistics `json:"completed"`
	Savepoint *CheckpointStatistics `json:"savepoint"`
	Failed    *CheckpointStatistics `json:"failed"`
	Restored  *RestoredCheckpoint   `json:"restored"`
}

// CheckpointStatistics is one checkpoint (Flink's CheckpointStatistics with its
// completed and failed variants, told apart by className).
type CheckpointStatistics struct {
	ClassName          string         `json:"className"` // completed, failed, in_progress
	ID                 int64          `json:"id"`
	Status             string         `json:"status"`
	IsSavepoint        bool           `json:"is_savepoint"`
	TriggerTimestamp   int64          `json:"trigger_timestamp"`
	LatestAckTimestamp int64          `json:"latest_ack_timestamp"`
	CheckpointedSize   int64          `json:"checkpointed_size"`
	StateSize          int64          `json:"state_size"`
	EndToEndDuration   int64          `json:"end_to_end_duration"`
	AlignmentBuffered  int64          `json:"alignment_buffered"`
	ProcessedData      int64          `json:"processed_data"`
	PersistedData      int64          `json:"persisted_data"`
	NumSubtasks        int            `json:"num_subtasks"`
	NumAckSubtasks     int            `json:"num_acknowledged_subtasks"`
	CheckpointType     string         `json:"checkpoint_type"`
	Tasks              map[string]any `json:"tasks"`
	// completed
	ExternalPath *string `json:"external_path,omitempty"`
	Discarded    *bool   `json:"discarded,omitempty"`
	// failed
	FailureTimestamp *int64  `json:"failure_timestamp,omitempty"`
	FailureMessage   *string `json:"failure_message,omitempty"`
}

// RestoredCheckpoint is the checkpoint the job was last restored from (Flink's
// RestoredCheckpointStatistics).
type RestoredCheckpoint struct {
	ID               int64  `json:"id"`
	RestoreTimestamp int64  `json:"restore_timestamp"`
	IsSavepoint      bool   `json:"is_savepoint"`
	ExternalPath     string `json:"external_path"`
}

// notAddressable is Flink's external path of a checkpoint that has none: the
// checkpoint is reached through its ZooKeeper pointer.
const notAddressable = "<checkpoint-not-externally-addressable>"

func checkpointStatistics(r checkpointRecord) CheckpointStatistics {
	s := CheckpointStatistics{ID: r.ID, Status: r.Status, TriggerTimestamp: r.Triggered.UnixMilli(),
		LatestAckTimestamp: r.Acked.UnixMilli(), CheckpointedSize: r.Size, StateSize: r.Size,
		EndToEndDuration: r.Acked.Sub(r.Triggered).Milliseconds(), NumSubtasks: r.Subtasks,
		CheckpointType: "CHECKPOINT", Tasks: map[string]any{}}
	switch r.Status {
	case CheckpointCompleted:
		s.ClassName, s.NumAckSubtasks = "completed", r.Subtasks
		path, discarded := notAddressable, false
		s.ExternalPath, s.Discarded = &path, &discarded
	case CheckpointFailed:
		s.ClassName = "failed"
		ts, msg := r.Acked.UnixMilli(), r.Failure
		s.FailureTimestamp, s.FailureMessage = &ts, &msg
	default:
		s.ClassName = "in_progress"
	}
	return s
}

func checkpointInfo(st jobStats, deployed bool) CheckpointInfo {
	info := CheckpointInfo{Deployed: deployed, History: []CheckpointStatistics{},
		Counts: CheckpointCounts{Restored: st.restoredCount, Completed: st.completed, Failed: st.failed}}
	if st.inProgress {
		info.Counts.InProgress = 1
	}
	info.Counts.Total = info.Counts.Completed + info.Counts.Failed + int64(info.Counts.InProgress)
	durations := make([]int64, len(st.durations))
	for i, d := range st.durations {
		durations[i] = d.Milliseconds()
	}
	sizes := summarize(st.sizes)
	info.Summary = CheckpointSummary{CheckpointedSize: sizes, StateSize: sizes, EndToEndDuration: summarize(durations)}
	for i := len(st.history) - 1; i >= 0; i-- {
		info.History = append(info.History, checkpointStatistics(st.history[i]))
	}
	if r := st.lastCompleted; r != nil {
		s := checkpointStatistics(*r)
		info.Latest.Completed = &s
	}
	if r := st.lastFailed; r != nil {
		s := checkpointStatistics(*r)
		info.Latest.Failed = &s
	}
	info.Adopted = st.adopted
	info.Takeover = st.takeover
	if r := st.restored; r != nil {
		info.RestoredFrom = r.ID
		info.Latest.Restored = &RestoredCheckpoint{ID: r.ID, RestoreTimestamp: r.Acked.UnixMilli(), ExternalPath: notAddressable}
	}
	return info
}

// JobExceptions is GET /jobs/{id}/exceptions (Flink's
// JobExceptionsInfoWithHistory): the failures after which this AM redeployed
// the job, newest first; root-exception is the newest (null: none).
type JobExceptions struct {
	RootException    *string              `json:"root-exception"`
	Timestamp        *int64               `json:"timestamp"`
	AllExceptions    []ExecutionException `json:"all-exceptions"`
	Truncated        bool                 `json:"truncated"`
	ExceptionHistory ExceptionHistory     `json:"exceptionHistory"`
}

// ExecutionException is one entry of all-exceptions.
type ExecutionException struct {
	Exception string `json:"exception"`
	Task      string `json:"task"`
	Location  string `json:"location"`
	Timestamp int64  `json:"timestamp"`
}

// ExceptionHistory is the exception history (Flink's JobExceptionHistory).
type ExceptionHistory struct {
	Entries   []RootException `json:"entries"`
	Truncated bool            `json:"truncated"`
}

// RootException is one failure of the history (Flink's RootExceptionInfo).
type RootException struct {
	ExceptionName        string          `json:"exceptionName"`
	Stacktrace           string          `json:"stacktrace"`
	Timestamp            int64           `json:"timestamp"`
	TaskName             *string         `json:"taskName"`
	Location             *string         `json:"location"`
	ConcurrentExceptions []RootException `json:"concurrentExceptions"`
}

func jobExceptions(st jobStats, dropped bool) JobExceptions {
	out := JobExceptions{AllExceptions: []ExecutionException{}, Truncated: dropped,
		ExceptionHistory: ExceptionHistory{Entries: []RootException{}, Truncated: dropped}}
	for i := len(st.exceptions) - 1; i >= 0; i-- {
		e := st.exceptions[i]
		ts := e.At.UnixMilli()
		if out.RootException == nil {
			msg := e.Error
			out.RootException, out.Timestamp = &msg, &ts
		}
		out.AllExceptions = append(out.AllExceptions, ExecutionException{Exception: e.Error, Task: "(job failover)", Location: "(unassigned)", Timestamp: ts})
		out.ExceptionHistory.Entries = append(out.ExceptionHistory.Entries,
			RootException{ExceptionName: "JobFailover", Stacktrace: e.Error, Timestamp: ts, ConcurrentExceptions: []RootException{}})
	}
	return out
}

// TaskManagerDetail is one entry of GET /taskmanagers: Flink's TaskManagerInfo
// fields, then amkeeper's TaskManagerInfo (containerId, pid, slots, address,
// registered, lastHeartbeat).
type TaskManagerDetail struct {
	TaskManagerInfo
	ID                     string         `json:"id"`
	Path                   string         `json:"path"`
	DataPort               int            `json:"dataPort"`
	JMXPort                int            `json:"jmxPort"`
	TimeSinceLastHeartbeat int64          `json:"timeSinceLastHeartbeat"` // as Flink: the last heartbeat's time, Unix ms
	SlotsNumber            int            `json:"slotsNumber"`
	FreeSlots              int            `json:"freeSlots"`
	TotalResource          map[string]any `json:"totalResource"`
	FreeResource           map[string]any `json:"freeResource"`
	Hardware               Hardware       `json:"hardware"`
	MemoryConfiguration    map[string]any `json:"memoryConfiguration"`
}

// Hardware is what a TaskManager runs on (Flink's HardwareDescription); amkeeper
// reports the memory its container was given.
type Hardware struct {
	CPUCores       int   `json:"cpuCores"`
	PhysicalMemory int64 `json:"physicalMemory"`
	FreeMemory     int64 `json:"freeMemory"`
	ManagedMemory  int64 `json:"managedMemory"`
}

func taskManagerDetail(tm TaskManagerInfo, used int, memory int64, cpus int) TaskManagerDetail {
	return TaskManagerDetail{TaskManagerInfo: tm, ID: tm.ContainerID, Path: tm.Address, DataPort: -1, JMXPort: -1,
		TimeSinceLastHeartbeat: tm.LastHeartbeat.UnixMilli(), SlotsNumber: tm.Slots, FreeSlots: max(0, tm.Slots-used),
		TotalResource: map[string]any{}, FreeResource: map[string]any{}, MemoryConfiguration: map[string]any{},
		Hardware: Hardware{CPUCores: cpus, PhysicalMemory: memory, FreeMemory: memory}}
}
