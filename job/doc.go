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
// # Sink parts
//
// The file sink (FileSinkConfig) of job J's subtask i writes under <root>/<path>:
//
//	_pending/part-<J>-<i %05d>-<n %019d>   sealed at the barrier of checkpoint n, not visible
//	part-<J>-<i %05d>-<n %019d>            committed, visible: a plain file, the records only
//	_checksums/part-<J>-<i %05d>-<n %019d> the committed part's size and CRC32C, and its stamp
//
// The stamp (PartStamp, ReadPartStamp) records who committed the part: the
// leader session the commit's context carries (WithLeaderSession; the
// TaskManager sets the session of the command it accepted), the execution of
// the committing task and the commit's checkpoint. A part committed before
// stamps existed reads with the zero stamp.
//
// A committed part is a plain file (one record a line, nothing else: cat, wc and
// any tool read it); its integrity is kept in the sidecar under _checksums/, written
// before the part, and ReadPart (so ReadCommitted) verifies every part against it. A
// committed part of the earlier format (hdfsstore's binary trailer, no sidecar) is
// still read and verified by its trailer. Pending parts keep the trailer. A commit
// streams the pending part to its committed name through a bounded buffer, never
// holding it whole: the sidecar records the pending part's trailer, the payload is
// checked against it as it is copied, and a part that does not match (a flipped byte,
// a truncation) is refused with hdfsstore.ErrCorrupt and nothing is published.
//
// Job IDs may contain '-': ParsePart reads a name from the right. A subtask lists,
// publishes and discards only the parts of its own job and subtask; other jobs'
// parts in the same directory, parts of the old format part-<i>-<n> (which name no
// job) and anything else there are never touched. ReadCommitted reads a whole
// directory (every job, old format first), ReadCommittedJob one job's parts,
// CommittedParts lists them; all in a stable order (job, subtask, checkpoint).
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
// At the barrier of checkpoint n the task takes the sink's in-progress output as
// the part of n and encodes the state of the whole chain (source offset, window
// contents, list of pending parts) in memory; then, on a goroutine of its own while
// records keep flowing, it stores the part as a pending part of n (stored, not
// visible) and the state as <StateRoot>/<job>/chk-<n>/subtask-<i> — the two
// writes side by side, each durable on its own — and, once both are stored, acknowledges
// with a handle (name, size, CRC32C) that Restore takes back. One snapshot is
// written at a time: the next barrier waits for the last one's writes. A completion notice for n publishes every
// pending part of a checkpoint ≤ n under its visible name (an atomic Put of the
// same bytes, then the pending copy is removed); parts of aborted checkpoints stay
// pending and go out with the next completed one.
//
// # Exactly-once
//
// Committed (visible) output — the part files ReadCommittedJob reads — contains
// each record the sink received exactly once, across any number of restores from
// the latest completed checkpoint; output that no completed checkpoint covers is
// never visible. It holds because the source is deterministic and replayable, the
// whole chain is snapshotted at one record boundary, and part names are
// deterministic (job, subtask, checkpoint ID), so re-publishing after a failover is
// idempotent. Restoring from checkpoint n first publishes the parts n covers (the
// AM may have died between storing n's pointer and notifying the tasks), then
// discards the pending parts of the job's subtask that n does not cover: sealed,
// never visible, and produced again by the replay. Output between the last
// barrier and a crash lives only in memory and is produced again by the replay.
//
// # What is never deleted
//
// Recovery never deletes committed output. A restore from a checkpoint older than
// the newest completed one (an operator's explicit fall-back) or from none leaves
// the committed parts of the newer checkpoints where they are and logs a warning
// naming them: the replay writes their records again into new parts, so those
// records are then visible twice. A publish never replaces a committed part: the
// same bytes already there are a re-publish (the pending copy goes), other bytes
// are ErrPartConflict and both parts stay — it means another execution of the same
// job and subtask published a different part of that checkpoint ID (a job ID reused
// after its checkpoint counter started over, or two live instances of a subtask).
// The commit stops there, later parts stay pending, and the error says which files
// to compare.
//
// # What the coordinator must do
//
//   - Checkpoint IDs increase (the checkpoint ID counter) for the whole life of a
//     job, across restores and fall-backs: a new checkpoint must not reuse the ID of
//     a committed part. At most one checkpoint in flight: trigger n+1 only after n
//     completed or was aborted.
//   - Notify completion only after every subtask acknowledged and the checkpoint's
//     pointer is stored in the completed-checkpoint store. Notifying earlier breaks
//     exactly-once: a restore from an older checkpoint duplicates that output.
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
//   - Exactly-once across a fall-back: restoring from an older checkpoint than the
//     newest completed one, or starting afresh, duplicates the records of the
//     committed parts newer than it (it warns; it removes nothing). Say so before
//     choosing one: CommittedParts lists them.
//   - No fencing: a task of a deposed leader that still runs can publish parts. The
//     check before a publish is not atomic with it (the store has no
//     create-if-absent), so two live instances of a subtask can still race.
//   - Two jobs writing the same sink path do not damage each other's parts, but a
//     reader of the directory sees both outputs; refusing the second job is the
//     submitter's job.
//   - Nothing in this package removes a committed part: cleaning up a terminated
//     job's output is decided outside it.
//   - Parallelism is fixed for a job's life: a state is tied to its subtask and
//     parallelism, and restoring with another parallelism is an error.
package job
