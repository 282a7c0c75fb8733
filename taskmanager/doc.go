// Package taskmanager is the container process: it finds the resource manager's
// leader through leader retrieval, registers with it (container ID, PID, slots, its
// own address), heartbeats, and accepts commands only when they are signed with
// the application secret (Config.Secret) and carry the leader session ID it
// registered under; its own calls are signed too. With internal TLS (Config.TLS)
// it serves https only to callers presenting a certificate of the trust store,
// and presents its own to the leader. When the leader goes away it drops whatever it
// ran for that leader but keeps its process and slots, and registers with the next
// leader as soon as retrieval names one.
//
// The TaskManager–AM protocol (paths, types, the leader-session header, both
// clients and both handlers) is package tmapi; the AM's registry is in package
// jobmanager.
package taskmanager
