package jobmanager

import (
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/recovery"
)

// Observer is told when the AM reaches each step of taking over as leader, at the
// moment it happens; the failover Timeline is one. The AM calls it from several of
// its goroutines, so an implementation must be safe for concurrent use and return
// quickly. Each step is reported at most once per grant, after Granted; a
// standalone AM (no supervisor) reports neither TaskManagersRegistered nor
// TasksDeployed, and an AM without jobs never reports TasksDeployed.
type Observer interface {
	// Granted: the AM won the election. log is its logger for the grant (attempt
	// and leader session), for an observer that logs.
	Granted(log zerolog.Logger)
	// Published: the connection info of every component is published.
	Published()
	// JobsRecovered: the grant's stored job graphs are read and their deploys
	// started.
	JobsRecovered()
	// TaskManagersRegistered: every TaskManager the AM keeps has registered with
	// it (those adopted from the previous attempt re-registered or were released).
	TaskManagersRegistered()
	// TasksDeployed: every job's tasks are deployed under the grant.
	TasksDeployed()
}

// nopObserver is the AM's observer when none is configured.
type nopObserver struct{}

var _ Observer = nopObserver{}

func (nopObserver) Granted(zerolog.Logger)  {}
func (nopObserver) Published()              {}
func (nopObserver) JobsRecovered()          {}
func (nopObserver) TaskManagersRegistered() {}
func (nopObserver) TasksDeployed()          {}

// reportProgress tells the observer when every TaskManager is back and when every
// job's tasks are deployed under grant g, once each. It judges from the allocate
// heartbeat that closes first on (before it the AM does not know which containers
// to expect), then again whenever a TaskManager registers or goes, a job's tasks
// are deployed, or another heartbeat ran; it returns when both are reported or the
// grant ends.
func (a *AM) reportProgress(g recovery.Grant, first <-chan struct{}) {
	select {
	case <-g.Done():
		return
	case <-first:
	}
	var tmsBack, tasksDeployed bool
	for !tmsBack || !tasksDeployed {
		registered, deployed, beat := a.tms.Changed(), a.deployed(), a.heartbeat()
		if !tmsBack && a.taskManagersBack() {
			tmsBack = true
			a.cfg.Observer.TaskManagersRegistered()
		}
		if !tasksDeployed && a.dispatcher != nil && a.dispatcher.Recovered() && a.coordinator.AllDeployed(a.dispatcher.Jobs(), g) {
			tasksDeployed = true
			a.cfg.Observer.TasksDeployed()
		}
		select {
		case <-g.Done():
			return
		case <-registered:
		case <-deployed:
		case <-beat:
		}
	}
}

// taskManagersBack reports whether no adopted container is still expected to
// re-register and as many TaskManagers are registered as the AM keeps.
func (a *AM) taskManagersBack() bool {
	registered := len(a.tms.List())
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.adopted) == 0 && registered >= min(a.cfg.TaskManagers, len(a.owned))
}

// heartbeat returns a channel closed when the next allocate heartbeat has run.
func (a *AM) heartbeat() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.beat
}

// heartbeatDone closes the current heartbeat channel and starts the next.
func (a *AM) heartbeatDone() {
	a.mu.Lock()
	defer a.mu.Unlock()
	close(a.beat)
	a.beat = make(chan struct{})
}
