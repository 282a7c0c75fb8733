// Package job is the work the HA machinery protects: the job model (spec file, job
// graph), the built-in operators and the task runtime with exactly-once output.
//
// # Model
//
// A job spec (YAML, see Spec and ParseSpec) names a pipeline: one source, any
// transforms, one sink. Records are int64. A Graph (job ID + spec) is encoded as
// JSON for the job graph store. Operators are looked up by name in a Registry,
// an immutable value; Builtins has sequence, countWindowAll and file. Adding an
// operator is a config struct (yaml/json tags, Validate) implementing SourceConfig,
// TransformConfig or SinkConfig, and a Kind in the registry.
//
// The pipeline is chained into one Task per parallel instance (subtask), with no
// shuffle between subtasks: subtask i of p runs its own source (sequence emits
// i, i+p, i+2p, …), its own window (countWindowAll sums its own records, so it is
// Flink's windowAll only with parallelism 1) and its own sink parts.
//
// # Task protocol
//
//	t, _ := NewTask(graph, subtask, env)
//	t.Restore(ctx, handle)                 // nil: fresh start; before Run
//	go t.Run(ctx)                          // until ctx ends or a bounded job finishes
//	res := <-t.TriggerCheckpoint(id)       // snapshot at a record boundary → res.Handle
//	t.NotifyCheckpointComplete(ctx, id)    // after the checkpoint's pointer is stored
//	t.AbortCheckpoint(ctx, id)             // a checkpoint that failed or timed out
//
// At the barrier of checkpoint n the task seals the sink's in-progress output into a
// pending part of n (stored, not visible), then writes the state of the whole chain
// (source offset, window contents, list of pending parts) to
// <StateRoot>/<job>/chk-<n>/subtask-<i> and acknowledges with a handle (name, size,
// CRC32C) that Restore takes back. A completion notice for n publishes every
// pending part of a checkpoint ≤ n under its visible name (an atomic Put of the
// same bytes, then the pending copy is removed); parts of aborted checkpoints stay
// pending and go out with the next completed one.
//
// # Exactly-once
//
// Committed (visible) output — the part-* files ReadCommitted reads — contains
// each record the sink received exactly once, across any number of restores from
// any completed checkpoint; output that no completed checkpoint covers is never
// visible. It holds because the source is deterministic and replayable, the whole
// chain is snapshotted at one record boundary, and part names are deterministic
// (subtask, checkpoint ID), so re-publishing after a failover is idempotent.
// Restoring from checkpoint n first publishes the parts n covers (the AM may have
// died between storing n's pointer and notifying the tasks), then removes every
// other part of the subtask: pending parts n does not cover, and visible parts of
// checkpoints newer than n — these exist only if recovery fell back to an older
// checkpoint because the newest was unreadable, and the replay produces their
// records again. Output between the last barrier and a crash lives only in
// memory and is produced again by the replay.
//
// # What the coordinator must do
//
//   - Checkpoint IDs increase (the checkpoint ID counter); at most one checkpoint in
//     flight: trigger n+1 only after n completed or was aborted.
//   - Notify completion only after every subtask acknowledged and the checkpoint's
//     pointer is stored in the completed-checkpoint store. Notifying earlier breaks
//     exactly-once: a restore from an older checkpoint retracts the output again.
//   - Before restoring a job, stop every task of the previous execution (the
//     TaskManagers drop what they ran for the old leader): two live instances of a
//     subtask write the same part names. The store does no fencing.
//   - Restore every subtask from the same checkpoint, and after a bounded source
//     reaches EndOfInput, trigger one more checkpoint: Run returns nil once it
//     completes.
//   - Remove the state files of checkpoints it no longer retains; the task removes
//     only those of aborted checkpoints.
//
// # What it does not guarantee
//
//   - Visible output may shrink during a restore that falls back to an older
//     checkpoint (parts newer than it are retracted, then produced again).
//   - No fencing: a task of a deposed leader that still runs can publish parts.
//   - A fresh start (Restore with a nil handle) removes the parts an earlier
//     execution of the subtask left under the sink's path, committed ones too: two
//     jobs must not share a sink path.
//   - Parallelism is fixed for a job's life: a state is tied to its subtask and
//     parallelism, and restoring with another parallelism is an error.
package job
