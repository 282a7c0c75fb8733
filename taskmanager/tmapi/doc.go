// Package tmapi is the protocol between the AM and its TaskManagers, as package
// rmapi is the one between the AM and the supervisor: its paths, request and
// reply types, sentinel errors and their wire form, the leader-session header,
// and one client and one handler for each direction.
//
//   - A TaskManager calls the leader's registry (package jobmanager serves it on
//     the AM's RPC endpoint, the resource manager's published address): Register
//     under the leader session that leader retrieval named, listing the subtasks
//     it runs (RunningTask: job, execution, subtask, last checkpoint) for the new
//     leader to adopt, then Heartbeat on the interval the reply asks for.
//     RegistryClient makes these calls; RegistryHandler serves a Registry.
//   - The leader commands a TaskManager: deploy a subtask, cancel a job's
//     subtasks, trigger, complete or abort a checkpoint, and read its status.
//     TaskManagerClient sends them; TaskManagerHandler serves a TaskManager.
//
// It is HTTP/1.1 with JSON bodies (internal/httpjson), so it can be driven by hand
// with curl; the addresses carry the scheme (https:// under internal TLS, whose
// transport the caller's *http.Client brings). Every command carries the sender's leader session ID in
// HeaderLeaderSession; a TaskManager obeys only the session it registers under,
// and the registry only registrations and heartbeats under its current session,
// refusing others with ErrStaleLeader. The session is a fencing token, not a
// credential: callers are authenticated by the application secret (package
// appsecret), which both clients send and both handlers demand before anything
// else (401 Unauthorized, no detail). A registry may also refuse a container the
// application did not launch (ErrUnknownContainer, 403 Forbidden).
//
// Not guaranteed: delivery. A call is made once; whether to retry, re-register or
// fail a job over is the caller's decision.
package tmapi
