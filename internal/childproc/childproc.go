// Package childproc holds the process attributes of the children amkeeper starts
// (AM attempts, TaskManager containers, ZooKeeper JVMs in tests, test and
// benchmark contenders): the one place that knows what each platform offers.
//
// # What it guarantees
//
//   - SysProcAttr(OwnGroup) puts the child in a process group of its own, so a
//     signal sent to the parent's group (a terminal's Ctrl-C) does not reach it.
//   - On Linux, every child started with SysProcAttr gets a parent-death signal
//     (Pdeathsig SIGKILL). Outliving children (AMs and containers, which keep
//     running while no supervisor watches them) get none.
//
// # What it does not guarantee
//
//   - Linux sends the parent-death signal when the OS *thread* that forked the
//     child ends, not when the process does, and the Go runtime ends a thread
//     whenever a goroutine locked to it returns. A child that must die exactly
//     when the parent process dies is started from a goroutine locked to its
//     thread until the child is reaped (as containers and integration/zktest do).
//   - Outside Linux there is no parent-death signal: a child outlives a parent
//     that is SIGKILLed or crashes; only the parent's own cleanup stops it.
package childproc

// Group says whether the child leads a process group of its own.
type Group bool

// Process group choices for SysProcAttr.
const (
	SameGroup Group = false // the child stays in the parent's process group
	OwnGroup  Group = true  // the child leads a new process group (setpgid)
)
