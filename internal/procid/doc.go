// Package procid identifies a process across the life of its parent: by its
// PID and its start time (field 22 of /proc/<pid>/stat, clock ticks since
// boot), together with the machine's boot ID. A PID alone is not an identity —
// the kernel reuses it — but a PID with the same start time in the same boot
// is the same process. A restarted supervisor uses it to adopt the AM and
// containers its predecessor started (see package supervisor).
//
// # What it guarantees
//
//   - Of reads a live process's Identity; Verify tells whether the process a
//     recorded Identity names still runs (same PID, same start time, not a
//     zombie). A reused PID never verifies.
//   - Open holds a verified process that is not our child by a pidfd, and
//     Process.Wait waits for its exit (poll on the pidfd): the kernel wakes it
//     at the exit, no polling interval, and a pidfd always refers to the
//     process it was opened for, so a PID reused after the exit cannot be
//     mistaken for it. The identity is checked again after the pidfd is open,
//     closing the window between reading /proc and opening it. Wait returns
//     only at the exit or when its context ends: a failing poll is not taken
//     for the exit.
//   - A process that cannot be checked (pidfd_open or /proc failing with
//     EMFILE, ENOMEM…; an Identity without a start time whose PID runs) is
//     reported as ErrUnverifiable, never as ErrNotRunning: an error of ours
//     must not make a live process look dead.
//   - Find looks a process up by its arguments among this user's own
//     processes, for one whose PID was never recorded. A process whose /proc
//     entry cannot be read for another reason than its exit makes Find fail
//     with ErrUnverifiable rather than leave it out.
//   - BootID is /proc/sys/kernel/random/boot_id: a different one means the
//     machine rebooted and every process of the recorded boot is gone.
//
// # What it does not guarantee
//
//   - The exit status of a process that is not our child is not known: only
//     its parent (or the subreaper that inherited it) can wait for it.
//   - Linux only (pidfd_open needs Linux 5.3); elsewhere nothing verifies, so
//     every recorded process is treated as dead.
package procid
