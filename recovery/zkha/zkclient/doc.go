// Package zkclient is amkeeper's one wrapper around github.com/go-zookeeper/zk,
// behind the ZooKeeper backend (recovery/zkha). Everything that talks to ZooKeeper
// does so through a *Client (or CloseSession), never through *zk.Conn directly.
//
// What it adds to go-zookeeper:
//
//   - a context on every call: go-zookeeper queues requests while disconnected and
//     never times them out; a Client call returns when its context is done;
//   - connection states in Curator's vocabulary (CONNECTED, SUSPENDED, RECONNECTED,
//     LOST), delivered to any number of listeners without loss. LOST is reported when
//     the server says the session expired and also, as Curator does, when the client
//     has been disconnected for a whole negotiated session timeout, because by then
//     the session must be presumed gone. A session presumed lost never serves a
//     request again: the next connection asks for a new session, a connection the
//     server answers with the old one anyway is dropped before anything is sent on
//     it, and once a new session is held the old one is closed;
//   - a bound on each connection's handshake, ConnectionTimeout or SessionTimeout
//     divided by the number of servers, whichever is shorter: a server that accepts
//     the connection and never answers it (ZooKeeper 3.8.0 does that to a connection
//     that arrives while it starts) is left for another attempt, where go-zookeeper
//     would wait 6.7 session timeouts;
//   - retries of reads after a connection loss, RetryWait apart, at most MaxRetries;
//   - a chroot: every path given to a Client is relative to Config.Root;
//   - SASL (sasl.go): DIGEST-MD5 from a JAAS file, or Kerberos (GSSAPI), run by a
//     dialer wrapper on every connection — each reconnect, the multiRead reader,
//     the session closer — after the ConnectRequest and before anything else is
//     sent; a connection whose exchange fails is never used, and credentials the
//     server refuses fail Connect at once (ErrSASLFailed);
//   - ACLs: "open" (world:anyone) or "creator" (the SASL identity, else digest
//     credentials; secrets are never logged). Every node is created with the ACL (never created, then
//     re-ACLed). Under "creator", Connect first checks, reading only, every existing
//     node from Config.ACLCheckFrom (path.root) down to the chroot and every node
//     below it: one that grants anyone else more than read is refused with an
//     *ACLError (ErrOpenACL) naming the nodes, their ACLs and the zkCli commands that
//     fix them, and nothing is created. A node on the way that another client
//     creates between that check and Connect's own create is checked the same way.
//     Once Connect succeeds, nobody else can create, delete or re-ACL a node under
//     the chroot (only the ZooKeeper super user can), so later creates need no
//     check. Nodes above ACLCheckFrom ("/" in particular, world-writable by
//     default) are the operator's and are not checked: nobody can delete a node
//     that has children, and one squatted below them is caught where it is;
//   - the session's ID and password, read from the server's connect response, for the
//     supervisor to close a dead attempt's session (see Session);
//   - one Dialer for every connection — the client's, the multiRead reader's and
//     CloseSession's — so a TLS dialer (recovery/zkha builds it from
//     zookeeper.client.secure) reaches a TLS-only ensemble everywhere, and a
//     connection that fails during its dial or handshake is named in Connect's
//     error (a plain client on a TLS port is told so).
//
// Its wire-level parts reach behind go-zookeeper: the session tap (sniff.go) reads
// and rewrites the connect handshake on go-zookeeper's connections, the SASL
// dialer (sasl.go) authenticates them between the handshake and the first request, the session
// closer (close.go) and the multiRead reader (multiread.go) speak jute on
// connections of their own, and coalescing (coalesce.go) relies on how
// go-zookeeper reports a failed multi. They were verified against go-zookeeper
// v1.0.4; TestWireLevelPartsPinnedToGoZooKeeper fails on any other version and
// lists what to re-verify.
//
// What it does not do:
//
//   - Writes are not retried. After a connection loss (ErrConnectionLoss) the outcome
//     of a write is unknown; callers that need to know read back. A call abandoned
//     because its context ended may still be applied by the server later; leader-
//     guarded multi-ops (see recovery/zkha) stay safe because they carry a version check.
//   - It does not hide the abandoned session's ephemeral nodes: until the close
//     reaches the server (or, should it fail, until the server expires the session)
//     the new session still sees them. A node's ephemeral owner tells them apart.
//   - It does not decide anything about leadership; it reports states.
//
// A Client is safe for concurrent use.
package zkclient
