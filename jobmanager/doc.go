// Package jobmanager is the application master's work: the resource manager's
// TaskManager registry, the dispatcher and job masters (jobs issue), the REST
// endpoint, all acting only under a leadership grant from package recovery.
//
// The AM reports each step of taking over as leader (granted, published, jobs
// recovered, TaskManagers registered, tasks deployed) to an Observer as it
// happens; Timeline is the one that times a failover for GET /failover and the
// "failover complete" log line. Observing never changes what the AM does.
package jobmanager
