// Package attempts is the restart budget of the attempt supervisor: the pure policy
// that decides, when an application master (AM) attempt ends, whether another
// attempt is started or the application ends, with YARN's semantics
// (RMAppImpl / RMAppAttemptImpl).
//
// # What it guarantees
//
//   - Max attempts is yarn.application-attempts (default 2 with ZooKeeper high
//     availability, 1 without), capped by yarn.resourcemanager.am.max-attempts
//     (default 2); BudgetFromConf returns a warning naming both keys when the cap
//     applies. 1 means the AM is never restarted after a counted failure.
//   - Sliding window: a failed attempt counts only while it finished strictly after
//     now − yarn.application-attempt-failures-validity-interval; an attempt that
//     finished exactly on the boundary is forgiven. An interval ≤ 0 counts every
//     failure. The application fails when the counted failures, the one just
//     reported included, reach max attempts.
//   - Exits: ExitFailed (the AM exited without FinishApplicationMaster: a crash, a
//     non-zero exit, SIGKILL) counts. ExitFinished (FinishApplicationMaster with
//     SUCCEEDED, FAILED or KILLED) ends the application with that status and is never
//     restarted. ExitPreempted, ExitAborted, ExitDisksFailed and
//     ExitKilledBySupervisor never count and are always restarted, as YARN's
//     PREEMPTED, ABORTED, DISKS_FAILED and KILLED_BY_RESOURCEMANAGER.
//   - Every decision is recorded as an AttemptRecord in a JSON-serialisable History;
//     a Policy rebuilt with New from a recovered History takes the same decisions
//     as the one that wrote it, and refuses (ErrEnded) to restart an application
//     whose history already ended it.
//   - Backoff (amkeeper.attempts.backoff.*) is the crash-loop backoff, a pure
//     function of the History: the crashes in a row at its end (failures sooner
//     than MinUptime after their start) give the wait before the next attempt:
//     none after the first, then Initial, doubling, capped at Max. The
//     supervisor waits; a restarted one reads the same history and waits alike.
//   - Policy is pure: time comes only from the injected Clock, there are no
//     goroutines, timers or sleeps, and it does no I/O or logging. Its methods are
//     safe for concurrent use (one mutex).
//
// # What it does not do
//
//   - It does not wait, start or kill processes, or read or write the history
//     file (HistoryName names it, EncodeHistory and DecodeHistoryFile give its
//     plain-JSON form with the crc32c of its attempts): package supervisor does, logging each
//     Decision (Decision implements zerolog.LogObjectMarshaler) and persisting
//     Policy.History after each one. It imports no process, storage or
//     ZooKeeper code.
//   - It assumes the clock does not go backwards: counted failures that left the
//     window are pruned and are not counted again if the clock is set back.
//   - An application killed by its user ends without consulting the policy.
package attempts
