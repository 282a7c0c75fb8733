// Package supervisor plays YARN's ResourceManager and NodeManager for one
// application: it runs the AM attempts and the TaskManager containers as
// processes, serves the AM–supervisor protocol (supervisor/rmapi) and the control
// socket (status, stop, kill-am, and its Prometheus metrics at /metrics), fences the ZooKeeper session of an AM it has
// reaped, and keeps the attempt history in the storage directory. Whether an
// attempt is restarted is not decided here: the pure policy in attempts does
// that; the supervisor does the waiting and the process handling around it.
//
// # What it guarantees
//
//   - Attempts: at most Config.Budget allows, as attempts.Policy decides; every
//     decision is logged and the history is written to Config.History after each
//     one and read back by New, so a restarted supervisor keeps its budget. The
//     history file is plain JSON carrying the crc32c of its attempts (ReadHistory
//     verifies it, and still reads the earlier trailered form).
//   - Logging: the process sets role and app on Config.Logger once; the supervisor
//     and its container manager add neither, so no line repeats a key.
//   - An AM attempt is a child process in its own process group, logging to
//     <Dir>/attempts/<attempt-id>/am.log. Containers are the supervisor's
//     children, never an AM's (containers.Manager), so an AM's death takes no
//     container with it; with Config.Containers = RestartAll they are stopped
//     between attempts.
//   - Crash loops are backed off: after attempts that failed soon after their
//     start (Config.Backoff, attempts.Backoff), the next one waits, and Status
//     (Backoff: the crashes in a row, the delay, the next start) and the metrics
//     show it meanwhile. A failed attempt's diagnostics carry the last error line
//     of its am.log (LastError).
//   - Config.RESTPort, when set, is the session's REST port: every attempt binds
//     it (--rest-port), so its address stays the same across failovers.
//   - The exit is certain (the process is reaped) before the next attempt is
//     started; when Config.ZooKeeper is set, the dead attempt's ZooKeeper session
//     is closed with the credentials it registered, so the next leader need not
//     wait out the session timeout (fast fencing).
//   - With hot standby (Config.StandbyPorts) a dead leader's slot starts its
//     next attempt once another AM reported the takeover, StandbySettle after
//     that report (waiting at most StandbyWaitMax; at once when no other
//     AM runs), so the replacement does not compete with the new leader's first
//     checkpoint. A dead standby's slot does not wait. The budget is the same.
//   - Only running attempts are served: a call from any other attempt ID gets
//     rmapi.ErrStaleAttempt.
//   - Each session has its own application secret: New writes a fresh one to
//     SecretPath(Dir) (0600, atomically) and every AM and container gets its
//     path in the environment (appsecret.EnvFile); rmapi calls not signed with
//     it are refused. Secrets never go on a child's command line: ConfigFrom moves
//     -D items of secret keys into Config.ProcessEnv.
//   - Leadership (which AM leads, for Status, KillAM and Preempt) is what the
//     AMs report over rmapi's Leadership call; the supervisor never polls an
//     AM. The newest "leading" report among running AMs wins; a reaped AM leads
//     no more. With a single AM, KillAM and Preempt hit it whether it leads yet
//     or not.
//   - It is not a single point of failure (YARN's work-preserving restart): AMs
//     and containers outlive it (no parent-death signal). It records what runs
//     in RecordFile (boot ID; PID, start time and session credentials of each
//     AM; PID and start time of each container), rewritten on every change.
//     New, finding a record, keeps the application secret and adopts every
//     process whose PID still has the recorded start time (internal/procid),
//     watching it through a pidfd; an adopted AM that calls Allocate is told
//     rmapi.ErrNotRegistered and registers again (resync). A recorded AM that
//     is gone is dead: Run closes its ZooKeeper session and has the policy
//     count its exit before any attempt starts. A process that cannot be
//     checked (procid.ErrUnverifiable) fails New with the cause; nothing is
//     signalled. Under another boot ID every recorded process is dead and its
//     exit is aborted (not counted). A restart consumes no attempt; attempt
//     numbers continue.
//   - No AM falls between two supervisors: an attempt is recorded before its
//     process is forked (PID 0: found by its arguments on adoption, aborted if
//     none runs), and an ended one stays recorded, with its exit, until it is
//     fenced and counted in the saved history — counted once, by attempt ID.
//   - A Run that fails before the application runs under it releases the
//     adopted AMs and containers unsignalled (containers.Manager.Release);
//     only a supervisor that ends the application stops them, adopted AMs
//     included (fenced, as reaped ones are).
//   - Stopping (ctx ends, or a stop on the control socket): each AM gets SIGTERM,
//     SIGKILL after 10 s; every container is stopped; HA data is kept.
//   - ConfigFrom builds a Config from configuration (budget, backoff, container mode,
//     hot standbys from conf/masters — or, for one master daemon of a cluster on
//     several hosts (Session.OneMaster), one AM and the operator's shared secret
//     file —, the quorum for fast fencing, the history store) for the CLI, the
//     mini cluster and the tests alike.
//
// # What it does not guarantee
//
//   - A reported leader can lag the election by one local call; leadership
//     itself is fenced by the leader session ID, not by this report.
//   - An adopted process's exit status is unknown (it is not our child).
//   - A container launched in the instant before the record is written is not
//     adopted; nothing else finds it.
//   - Outside Linux nothing verifies a recorded process, so a restarted
//     supervisor treats every one as dead.
//   - No resource limits are enforced on AMs or containers (see containers).
package supervisor
