// Package recovery is the neutral core of amkeeper's high-availability services:
// what a new AM attempt needs to take over — leader election and retrieval per
// component, the job graph store, the completed-checkpoint store and checkpoint ID
// counter, and the job result store — written against interfaces that a backend
// implements. It does not know which backend runs: package zkha is the ZooKeeper
// one, package embedded the one of high-availability.type NONE, and package
// haservices picks one from the configuration. This package imports neither.
//
// # What it holds
//
//   - The interfaces: LeaderElection, Grant, LeaderRetriever, PointerStore,
//     CheckpointIDCounter, and Backend (what Services consume of a backend), with
//     the optional capability DirRemover.
//   - The sentinel errors (ErrNotLeader, ErrDanglingPointer, ErrCorruptState,
//     ErrLocked, ErrNotConnected, ErrNotFound, …). Backends convert their own
//     errors to these at their boundary; callers test only these.
//   - Guard, the leadership a write is made under. It is opaque: a SessionID (the
//     fencing token) and Err. Each backend recognises its own grants and fences
//     with what only it knows (the ZooKeeper latch node's version).
//   - The backend-neutral logic: pointers with checksums (WriteState,
//     PointerStoreConfig.ReadPointed and DeletePointed),
//     the job graph and checkpoint stores built on a backend's PointerStore, job
//     results kept in storage, the Inspector and its report, and Services.
//
// A backend holds pointers only; the state lives in the storage directory
// (hdfsstore). A pointer carries the storage name, the payload's size and CRC32C:
// a pointer whose payload is missing or does not match is reported
// (ErrDanglingPointer, ErrCorruptState), never silently used; a checkpoint store's
// Latest never skips an unreadable newest checkpoint (UnreadableCheckpointError):
// going back to an older one (Get) is the caller's explicit act. Every pointer
// and checkpoint payload is stamped with the leader session of the guarded write
// that stored it (Pointer.Leader, CompletedCheckpoint.LeaderSession; inspection
// reports both); state stored before stamps reads as uuid.Nil. A stamp records
// the writer; it does not fence (the guard does).
//
// # What it guarantees
//
//   - Every write made on behalf of a leader takes a Guard, and a backend applies
//     it only while that leadership is held: a deposed leader's write fails with
//     ErrNotLeader and changes nothing. With ZooKeeper this holds even for a leader
//     that has not noticed it was deposed (paused past its session, partitioned):
//     the write is one multi-op that also checks the leader's latch node. Flink
//     guards only the leader's own connection_info node (FLINK-10333 proposed more
//     and never merged).
//   - Payloads are written before their pointer and deleted only after no pointer
//     names them: a crash leaves an orphan payload, never a pointer to nothing.
//   - Deletes stay inside the cluster's own files: a store reads and deletes only
//     payloads of its own shape (<prefix><key>-<uuid>, PointerStoreConfig.OwnPayload).
//     A pointer naming anything else (ErrForeignPointer) is refused on read,
//     reported by the Inspector, and never followed by a delete.
//
// # What it does not guarantee
//
//   - Storage writes are not fenced: a deposed leader may still write payload
//     files. They are harmless, because only a guarded pointer makes a payload
//     visible, and unreferenced payloads are orphans that the Inspector lists and
//     cleans.
//   - Leadership is a lease: between the moment a ZooKeeper session expires on the
//     server and the moment the old leader notices, both may believe they lead.
//     Guarded writes make that window harmless for HA state; commands to
//     TaskManagers carry the leader session ID for the same reason.
//   - A Guard a backend does not recognise as its own grant (another backend's, a
//     test's) is checked only through Err, with no server-side fence: pair a
//     backend's stores with that backend's election, as Services do.
//   - High availability across machines needs the ZooKeeper backend: the embedded
//     one serves a single machine.
package recovery
