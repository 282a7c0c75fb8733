// Package jobmanager is the application master's work: the resource manager's
// TaskManager registry, the dispatcher and job masters (jobs issue), the REST
// endpoint, all acting only under a leadership grant from package recovery.
package jobmanager
