// Package taskmanager is the container process: it finds the resource manager's
// leader through leader retrieval, registers with it (container ID, PID, slots, its
// own address), heartbeats, and accepts commands only when they are signed with
// the application secret (Config.Secret) and carry the leader session ID it
// registered under; its own calls are signed too. With internal TLS (Config.TLS)
// it serves https only to callers presenting a certificate of the trust store,
// and presents its own to the leader. When the leader goes away (retrieval names
// another, or a heartbeat is refused) it refuses that leader's commands from then
// on but keeps its tasks running for the grace period (Config.LeaderlessGrace,
// amkeeper.taskmanager.leaderless-grace) and registers with the next leader as
// soon as retrieval names one, listing the tasks it runs (job, execution,
// subtask, last checkpoint) for that leader to adopt. With no leader registered
// with for the whole grace period, it cancels the tasks; it keeps its process and
// slots. A leader that timed it out (its heartbeats stopped arriving) has replaced
// its tasks: told so (a heartbeat answered tmapi.ErrNotRegistered, or a
// registration answered TimedOut), it cancels them at once and registers with
// every slot free. Parts its sinks commit are stamped with the leader session of
// the command that committed them. Status reports each task's records, the records replayed after restores
// and the newest gaps between records reaching its sink.
//
// The TaskManager–AM protocol (paths, types, the leader-session header, both
// clients and both handlers) is package tmapi; the AM's registry is in package
// jobmanager.
package taskmanager
