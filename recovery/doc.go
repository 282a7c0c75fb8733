// Package recovery holds amkeeper's high-availability services: leader election and
// retrieval per component, the job graph store, the completed-checkpoint store and
// checkpoint ID counter, the job result store and the blob store. There is a
// ZooKeeper implementation and an embedded one (high-availability.type NONE) behind
// the same interfaces.
//
// ZooKeeper (and, in embedded mode, small local files) holds pointers only; the state
// lives in the storage directory (hdfsstore). A pointer carries the storage name, the
// payload's size and CRC32C: a pointer whose payload is missing or does not match is
// reported (ErrDanglingPointer, ErrCorruptState), never silently used.
//
// # Fencing
//
// Every write made on behalf of a leader takes a Guard. In ZooKeeper mode the write is
// one multi-op that also checks the leader's latch node, so a deposed leader — paused
// past its session, partitioned, or simply slow — cannot change anything: its write
// fails with ErrNotLeader and applies nothing. Flink guards only the leader's own
// connection_info node (FLINK-10333 proposed more and never merged).
//
// # What it does not guarantee
//
//   - Storage writes are not fenced: a deposed leader may still write payload files.
//     They are harmless, because only a guarded pointer makes a payload visible, and
//     unreferenced payloads are orphans that HA inspection lists and cleans.
//   - Leadership is a lease on a ZooKeeper session: between the moment a session
//     expires on the server and the moment the old leader notices (SUSPENDED), both
//     may believe they lead. Guarded writes make that window harmless for HA state;
//     commands to TaskManagers carry the leader session ID for the same reason.
package recovery
