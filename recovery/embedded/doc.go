// Package embedded is the backend of package recovery for high-availability.type
// NONE: no ZooKeeper, one machine. Backend implements recovery.Backend in one local
// directory (<local-dir>/<cluster-id>):
//
//   - leader election is an exclusive flock on leader.lock, granted at once when
//     free and released by the kernel when the process dies, so a restarted AM
//     leads as soon as the old one is gone;
//   - each leader publishes connection_info files (with its PID), which retrieval
//     polls, treating a file whose process is gone as no leader;
//   - pointers and checkpoint ID counters are small files, published atomically and
//     checksummed through a file:// hdfsstore; locks live in the Backend;
//   - inspection walks those files and sees the locks of the stores of the same
//     Backend.
//
// # What it guarantees
//
//   - Two AMs on one machine never lead the same cluster together, and a write
//     made under a grant that has ended (its Err is set) changes nothing: stores
//     check the grant under their lock before every write.
//   - An AM restarted on the same machine recovers its jobs and checkpoints.
//
// # What it does not guarantee
//
//   - It does not span machines, and there are no locks between processes: every
//     store of one cluster in one process must come from one Backend, and the
//     election's flock keeps a second AM out.
//   - No write is fenced on a medium (there is none): a grant is checked through
//     its Err only, so a leader that is paused right after the check may still
//     write once. The flock makes that leader the only one anyway.
package embedded
