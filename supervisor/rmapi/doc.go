// Package rmapi is the local protocol between an AM attempt and the supervisor,
// modelled on YARN's ApplicationMasterProtocol: RegisterApplicationMaster (which
// returns the containers that survived earlier attempts), Allocate (ask for and
// release containers, hear about completed ones) and FinishApplicationMaster (the
// final status), plus one call YARN does not have: Leadership, with which an AM
// that runs beside hot standbys tells the supervisor when its leadership grant
// starts and ends, so the supervisor knows which AM leads (for status, kill-am and
// preemption) without asking the AMs.
//
// Leadership is what the AM reports, not a fencing token: the election's leader
// session ID fences every write, and a report can lag the grant by one local call.
// The supervisor uses it only to choose which process a kill-am or a preemption
// hits, and to show it.
//
// It is HTTP/1.1 with JSON bodies over a unix socket created with mode 0600 in a
// directory privdir accepts (the user's own, closed to others; Listen refuses
// any other), and every client dial checks the socket and its directory the same
// way first: only the supervisor's user can reach it, and nothing is sent to a
// socket another user planted. It needs no code
// generation, and it can be driven by hand with `curl --unix-socket`. See
// docs/architecture.md for why not gRPC. Every call carries the application
// secret (package appsecret: NewClient sends it, Handler demands it); a call
// without it gets 401 Unauthorized with no detail and reaches no method.
//
// Every call carries the caller's attempt ID. The supervisor accepts calls only
// from the attempt it is currently running (ErrStaleAttempt otherwise), so an AM
// that outlived its attempt — it cannot, the supervisor reaps it, but a bug or a
// stray process could try — can neither allocate nor finish the application.
//
// A restarted supervisor that adopted a running AM answers its Allocate with
// ErrNotRegistered; the AM then registers again (YARN's resync), with its
// session credentials, and reports its leadership again.
//
// Session credentials (a ZooKeeper session ID and password, for fast fencing)
// travel in Register; they are never logged. The supervisor keeps them in its
// record (supervisor.json, 0600, in the private session directory) so that a
// restarted supervisor can fence an AM that died while none watched.
package rmapi
