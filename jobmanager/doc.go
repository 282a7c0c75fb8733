// Package jobmanager is the application master's work: the resource manager's
// TaskManager registry, the dispatcher and job masters (jobs issue), the REST
// endpoint, all acting only under a leadership grant from package recovery.
//
// The AM reports each step of taking over as leader (granted, published, jobs
// recovered, TaskManagers registered, tasks deployed) to an Observer as it
// happens; Timeline is the one that times a failover for GET /failover and the
// "failover complete" log line. Observing never changes what the AM does.
//
// The REST endpoint serves reads to anyone, as Flink does, but the leader
// session ID only to callers carrying the application secret (AMConfig.Secret);
// anything that may change state needs the secret and a JSON body type, and a
// request whose browser Origin is not the AM's own address is refused. With a
// supervisor, the registry admits only the containers it launched, with their
// slots (AM.admit).
//
// The REST responses are Flink's shapes (flinkrest.go builds them, pure, from
// what the dispatcher and the coordinator know), errors Flink's
// {"errors":[…]}; docs/rest.md lists them. Each AM has its own Prometheus
// registry, served at /metrics (metrics.go; docs/metrics.md). Checkpoint,
// failure and restart statistics live in the AM process only: a new attempt
// starts them afresh.
package jobmanager
