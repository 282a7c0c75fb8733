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
// anything that may change state needs the secret (or, with REST TLS and client
// authentication, a verified client certificate) and a JSON body type, and a
// request whose browser Origin is not the AM's own address is refused. At / it
// serves the web dashboard (package jobmanager/dashboard), which only reads. With a
// supervisor, the registry admits only the containers it launched, with their
// slots (AM.admit); without one, or with amkeeper.taskmanagers.standalone (the
// TaskManagers are daemons per host), any caller with the secret. The AM needs the
// supervisor only to allocate, release and finish: while none answers, jobs run
// on, the leader's Allocate heartbeat is retried every interval (logged once) and
// its releases are kept for the next one; a restarted supervisor's
// rmapi.ErrNotRegistered makes it register again.
//
// Endpoints: REST binds rest.bind-address at the first free port of
// rest.bind-port (else rest.port) and publishes rest.address; the registry is
// always the AM's RPC endpoint, a listener of its own on jobmanager.bind-host at
// the first free port of high-availability.jobmanager.port (AM.InternalAddress,
// published as the resource manager's address: jobmanager.rpc.address with the
// bound port). A bind host that is not this machine's fails Run naming the key.
// TLS (AMConfig.Internal, AMConfig.RESTTLS, from package flinkssl): the RPC
// endpoint is mutual TLS when Internal is set, and the commands to TaskManagers
// use Internal's client side.
//
// Through a failover the jobs keep running (Coordinator): the coordinator records
// each execution it deploys with the job's graph (a guarded write), and a new
// leader adopts a job — no cancel, no restore — when the TaskManagers register
// every subtask running in that execution; otherwise that job alone is restored
// from its latest checkpoint, after its tasks were stopped everywhere. How each job
// was taken over (Takeover: adopted, restored and why, or started) is served in
// GET /jobs/{id}, /jobs/{id}/checkpoints, /attempts and /failover and counted in
// amkeeper_job_takeovers_total. Once a leader has recovered its stored jobs (never
// before), a TaskManager that registers with tasks of a job it does not run is told
// to cancel them at once (cancelUnknown), rather than run them out its grace period.
//
// The REST responses are Flink's shapes (flinkrest.go builds them, pure, from
// what the dispatcher and the coordinator know), errors Flink's
// {"errors":[…]}; docs/rest.md lists them. Each AM has its own Prometheus
// registry, served at /metrics (metrics.go; docs/metrics.md). Checkpoint,
// failure and restart statistics live in the AM process only: a new attempt
// starts them afresh.
package jobmanager
