// Package containers launches, tracks, stops and hands over the TaskManager
// containers of one application: the NodeManager half of the supervisor's role.
//
// A Manager belongs to the supervisor process, never to an AM attempt. An AM asks
// for containers and releases them through the supervisor; the containers are
// children of the supervisor, so an AM that dies (or whose whole process group is
// killed) takes no container with it, and the next attempt adopts the survivors
// (Previous: YARN's containersFromPreviousAttempts).
//
// # What it guarantees
//
//   - Container IDs follow YARN: container_<clusterTimestamp>_<appSeq %04d>_<attempt
//     %02d>_<seq %06d>, where attempt is the allocating attempt and seq counts per
//     application across attempts from 2 (1 is the AM container's, as in YARN).
//     ParseContainerID and ParseAppID reject anything else with an error wrapping
//     ErrBadID that names the field and the expected form.
//   - Each container process leads its own process group (Setpgid): a signal sent to
//     the supervisor's or an AM's group does not reach it, and Stop signals the whole
//     group, so processes the container started are stopped with it.
//   - A container is its process group: when the leading process exits, whatever it
//     left in its group is SIGKILLed before the leader is reaped. Group signals are
//     sent only while the leader is unreaped (exit is observed with waitid WNOWAIT),
//     so they can never reach a recycled process group ID.
//   - Stop sends SIGTERM and SIGCONT to the group, SIGKILL after Config.StopGrace
//     (default 250 ms, YARN's yarn.nodemanager.sleep-delay-before-sigkill.ms), and
//     returns once the process is reaped; a context ending early kills at once.
//     Close stops every container within StopGrace plus 5 s and is idempotent.
//     Release instead lets every container go without a signal (a supervisor
//     whose start failed leaves them to the next one); whichever of the two
//     comes first decides.
//   - stdin is /dev/null; stdout and stderr are appended, unbuffered, to
//     <Config.Dir>/containers/<id>/taskmanager.log, which is kept after the container
//     completes. <id>/container.pid holds the PID while the process runs.
//   - The environment carries CONTAINER_ID, LOG_DIRS (the container directory) and
//     GOMEMLIMIT = MemLimit(LaunchSpec.Memory): memory minus 10% headroom, at least
//     64 MiB and at most 1 GiB of headroom, never more than half the memory. These
//     override the same names in LaunchSpec.Env.
//   - Containers outlive the supervisor (no parent-death signal): a supervisor
//     that dies without stopping them (SIGKILL, a crash) leaves them running, and
//     the next one takes them back with Adopt, which accepts a process only if its
//     PID and start time (Container.StartTicks, see internal/procid) are the ones
//     recorded. An adopted container's exit is seen through a pidfd; its exit
//     status is unknown (-1). Each launched container is reaped from an OS thread
//     of its own, locked and blocked in wait for the container's life.
//   - Every exit is observed by the reaper and recorded (exit code, or the signal
//     with exit code -1; whether the supervisor asked for it; diagnostics) and
//     published as a CompletedEvent to every subscription through an unbounded
//     queue, so a slow subscriber never delays reaping.
//   - Across attempts (OnAttemptEnded): Keep (default, YARN ≥ 2.4) leaves containers
//     running; RestartAll (YARN 2.3) stops all of them before it returns.
//
// # What it does not do
//
//   - It keeps no record of its own: the supervisor records what Adopt needs.
//     Between an adopted container's exit and the pidfd waking, a stop could
//     signal a process group whose ID was just reused (a window of microseconds).
//   - Grandchildren that leave the container's process group (setsid, setpgid) escape
//     Stop and the leftover kill, and they get no parent-death signal from us.
//   - Memory is not enforced (no cgroups): GOMEMLIMIT is a soft target for Go
//     programs only. Slots are recorded, not enforced. There is no CPU limit.
//   - Logs are not rotated or size-limited.
//   - Outside Linux there is no parent-death signal, and the exit is observed by the
//     reaping wait itself, leaving a short window in which a group signal could reach
//     a recycled process group ID.
//   - Completions that happened before Subscribe are not replayed; List has them.
package containers
