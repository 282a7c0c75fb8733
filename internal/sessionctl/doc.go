// Package sessionctl drives a yarn-session session from outside, the way a user
// or a script does, for the programs that do so: `yarn-session` itself (run,
// list, cancel, stop, the demo) and the benchmarks in cmd/amkeeper-bench. It
// starts a detached session by running the yarn-session binary, finds the
// session's leading AM, submits jobs to it, polls until something holds, and
// reads the memory of the session's processes from /proc.
//
// # What it guarantees
//
//   - A detached session is started exactly as a user would start it
//     (`yarn-session ARGS -d`), with its application directories, its
//     .yarn-properties file and its temporary files under the home directory the
//     caller gives, never the user's own; Stop returns once the supervisor's
//     control socket is gone, or after a minute.
//   - Every wait is bounded: Poll returns when its condition holds, its context
//     ends or its deadline passes, and the error then says what did not happen.
//
// # What it does not guarantee
//
//   - That the binary given to StartDetached is built from the same source as the
//     caller.
//   - Memory figures on anything but Linux: they come from /proc/<pid>/status
//     and read as unknown elsewhere.
package sessionctl
