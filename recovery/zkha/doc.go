// Package zkha is the ZooKeeper backend of package recovery: leader election (one
// latch of ephemeral sequential nodes per cluster, as in Flink since 1.15), leader
// retrieval (a watch on each component's connection_info), the pointer store (Flink's
// ZooKeeperStateHandleStore: a pointer node with lock children per instance), the
// checkpoint ID counter (compare-and-set on a node version), cleanup of a cluster's
// znodes, and its half of inspection (walking its znodes, removing a broken pointer).
// Backend implements recovery.Backend; Open connects it from the configuration.
//
// It talks to ZooKeeper only through its zkclient, and ZooKeeper's errors stay
// inside: what leaves this package matches recovery's sentinels (ErrNotLeader,
// ErrNotFound, ErrLocked, ErrNotConnected, …) or is a plain wrapped error.
//
// # What it guarantees
//
//   - Every store write made under one of its grants is one multi-op that also
//     checks the grant's latch node at version 0: once the latch node is gone (the
//     leader resigned, its session expired or was closed by the supervisor's fast
//     fencing) the write fails with recovery.ErrNotLeader and applies nothing, even
//     if the old leader has not noticed yet.
//   - A grant ends when the connection is SUSPENDED (unless
//     high-availability.zookeeper.client.tolerate-suspended-connections), LOST, or
//     replaced by a new session, and when its latch node disappears; each grant has
//     a fresh leader session ID.
//   - connection_info is ephemeral, owned by the leader's session, and written
//     back while the grant lasts if someone else changes or deletes it.
//   - Under high-availability.zookeeper.client.acl creator, Open refuses a cluster
//     whose path (from high-availability.zookeeper.path.root down, and everything
//     below the cluster's node) others may write to, before it creates anything
//     (zkclient.ACLError names the nodes and the fix); every node it creates
//     carries the creator ACL from its creation.
//   - The checkpoint ID counter refuses to work without a live connection
//     (recovery.ErrNotConnected) rather than risk handing out an ID twice.
//
// # What it does not guarantee
//
//   - A Guard that is not one of its grants (another backend's, a test's) adds no
//     check to the multi-op: only its Err is consulted.
//   - A killed leader's latch node goes when its session expires, not at once,
//     unless the supervisor closes that session (zkclient.CloseSession); until
//     then no other contender leads.
//   - Leader retrieval reports what connection_info says; between a leader's death
//     and its node's removal it may name a dead leader (the leader session ID on
//     every command makes that harmless).
//   - Backend.RemoveAll deletes the latch too: it is for a cluster no AM runs for.
package zkha
