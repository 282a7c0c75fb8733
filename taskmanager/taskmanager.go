package taskmanager

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/flinkssl"
	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/netaddr"
	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/taskmanager/tmapi"
)

// Retriever follows a component's leader; recovery.Services implements it.
type Retriever interface {
	Retrieve(ctx context.Context, component string, notify func(recovery.LeaderInfo)) error
}

var _ Retriever = (*recovery.Services)(nil)

// Config configures a TaskManager.
type Config struct {
	ContainerID string
	Slots       int
	// Leaders finds the resource manager's leader.
	Leaders Retriever
	// BindHost is the address the TaskManager serves commands on, at a free
	// port (taskmanager.bind-host; default 127.0.0.1).
	BindHost string
	// Host is the address published to the leader with the bound port
	// (taskmanager.host). Empty: BindHost, or for a wildcard BindHost the
	// local address of the route to the leader, found at each registration.
	Host string
	// Tasks is where deployed tasks keep state and write output.
	Tasks TaskEnv
	// Secret is the application secret: every call the TaskManager makes
	// carries it, and it serves only callers that carry it.
	Secret appsecret.Secret
	// TLS, when set, is internal TLS (security.ssl.internal.*): the TaskManager
	// serves https only to callers presenting a certificate of the trust store,
	// and reaches the leader's registry with its own certificate.
	TLS *flinkssl.Side
	// CommandTimeout is the longest a command may run before its reply: a
	// checkpoint's snapshot is answered when it is taken, so this is
	// execution.checkpointing.timeout. The server's write timeout leaves it that
	// long (and a margin); zero: httpjson's default.
	CommandTimeout time.Duration
	// LeaderlessGrace is how long tasks keep running while no leader is
	// registered with (amkeeper.taskmanager.leaderless-grace): the next leader
	// may adopt them. After it they are canceled. Zero: canceled when the
	// leader goes.
	LeaderlessGrace time.Duration
	// RetryInterval paces registration attempts (default 100 ms).
	RetryInterval time.Duration
	// Logger is the TaskManager's logger; the process sets the container (and pid)
	// fields on it once, and the TaskManager adds neither.
	Logger zerolog.Logger
}

// TaskManager is one container process's runtime. It serves the leader's
// commands through tmapi.TaskManagerHandler.
type TaskManager struct {
	cfg      Config
	log      zerolog.Logger
	registry *tmapi.RegistryClient // the leader's registry

	mu     sync.Mutex
	leader recovery.LeaderInfo // the leader registered with ("" when none)
	known  recovery.LeaderInfo // the latest leader retrieval named
	// registering is the leader a registration is in flight with: its commands
	// are accepted before the registration's reply arrives.
	registering recovery.LeaderInfo
	regs        int
	addr        string        // the address published (with the last registration, for a wildcard bind host)
	port        string        // the port bound
	change      chan struct{} // signalled when retrieval names a new leader
	// knownCtx ends when retrieval names another leader than known: a call to
	// a leader that is paused or gone does not hold up registering with the next.
	knownCtx    context.Context
	knownCancel context.CancelFunc
	runCtx      context.Context
	// grace cancels the tasks when no leader is registered with for
	// LeaderlessGrace after the last one went (nil: not leaderless).
	grace *time.Timer
	tasks tasks
}

var _ tmapi.TaskManager = (*TaskManager)(nil)

// New prepares a TaskManager; Run starts it.
func New(cfg Config) *TaskManager {
	if cfg.BindHost == "" {
		cfg.BindHost = "127.0.0.1"
	}
	if cfg.Host == "" && !conf.IsWildcardHost(cfg.BindHost) {
		cfg.Host = cfg.BindHost
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = 100 * time.Millisecond
	}
	if cfg.Slots < 1 {
		cfg.Slots = 1
	}
	return &TaskManager{
		cfg:      cfg,
		log:      cfg.Logger, // the process set container (and pid) on it
		registry: tmapi.NewRegistryClient(cfg.TLS.HTTPClient(5*time.Second), cfg.Secret),
		change:   make(chan struct{}, 1),
		tasks:    tasks{m: map[tmapi.TaskID]*running{}, stats: map[tmapi.TaskID]*job.RecordStats{}},
	}
}

// Address returns the address the TaskManager serves on, once Run has started.
func (tm *TaskManager) Address() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.addr
}

// Status reports the TaskManager's view.
func (tm *TaskManager) Status() tmapi.Status {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tmapi.Status{ContainerID: tm.cfg.ContainerID, PID: os.Getpid(), Slots: tm.cfg.Slots,
		LeaderSession: sessionString(tm.leader), LeaderAddress: tm.leader.Address, Registrations: tm.regs,
		Tasks: tm.taskStatus()}
}

func sessionString(i recovery.LeaderInfo) string {
	if !i.Known() {
		return ""
	}
	return i.SessionID.String()
}

// Run serves commands, follows the leader and keeps registered until ctx ends.
func (tm *TaskManager) Run(ctx context.Context) error {
	l, err := netaddr.Listen(tm.cfg.BindHost, conf.PortSpec{},
		netaddr.Keys{Host: conf.TaskManagerBindHost.Key(), Port: "a free port"})
	if err != nil {
		return fmt.Errorf("taskmanager: %w", err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	if tm.cfg.TLS != nil {
		l = tls.NewListener(l, tm.cfg.TLS.Server)
	}
	tm.mu.Lock()
	tm.port = port
	if tm.cfg.Host != "" {
		tm.addr = tm.cfg.TLS.Scheme() + "://" + net.JoinHostPort(tm.cfg.Host, port)
	}
	tm.mu.Unlock()
	var limits httpjson.Limits
	if tm.cfg.CommandTimeout > 0 {
		limits.WriteTimeout = max(httpjson.DefaultWriteTimeout, tm.cfg.CommandTimeout+10*time.Second)
	}
	srv := httpjson.NewServer(tmapi.TaskManagerHandler(tm, tm.cfg.Secret), limits)
	go func() { _ = srv.Serve(l) }()
	defer func() {
		shutdown, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if srv.Shutdown(shutdown) != nil {
			// A connection still busy, or dialed and never used (Shutdown
			// waits 5 s for those): close them all, so none outlives Run.
			_ = srv.Close()
		}
	}()

	tm.mu.Lock()
	tm.runCtx = ctx
	tm.knownCtx, tm.knownCancel = context.WithCancel(ctx)
	tm.mu.Unlock()
	retrieval := make(chan error, 1)
	go func() {
		retrieval <- tm.cfg.Leaders.Retrieve(ctx, recovery.ResourceManager, tm.onLeader)
	}()
	tm.log.Info().Str(logging.Addr, tm.Address()).Str("bind_addr", l.Addr().String()).Int("slots", tm.cfg.Slots).Msg("taskmanager started")
	tm.follow(ctx)
	<-retrieval
	tm.cancelAll()
	return ctx.Err()
}

// publish returns the address to register with leader: the configured host, or
// for a wildcard bind host the local address of the route to the leader.
func (tm *TaskManager) publish(leader recovery.LeaderInfo) (string, error) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if tm.cfg.Host != "" {
		return tm.addr, nil
	}
	host, err := netaddr.RouteTo(leader.Address)
	if err != nil {
		return "", fmt.Errorf("taskmanager: the address to publish (%s is a wildcard and %s unset): %w",
			conf.TaskManagerBindHost.Key(), conf.TaskManagerHost.Key(), err)
	}
	tm.addr = tm.cfg.TLS.Scheme() + "://" + net.JoinHostPort(host, tm.port)
	return tm.addr, nil
}

// onLeader is called by leader retrieval on every change.
func (tm *TaskManager) onLeader(info recovery.LeaderInfo) {
	tm.mu.Lock()
	if info != tm.known && tm.knownCancel != nil {
		tm.knownCancel()
		tm.knownCtx, tm.knownCancel = context.WithCancel(tm.runCtx)
	}
	tm.known = info
	if tm.registering.Known() && tm.registering != info && !tm.leader.Known() {
		// Tasks may have come under the session we were registering with.
		tm.leader = tm.registering
	}
	if tm.leader.Known() && tm.leader != info {
		tm.leaderLostLocked("leader lost")
	}
	tm.mu.Unlock()
	select {
	case tm.change <- struct{}{}:
	default:
	}
}

// leaderLostLocked drops the leader the TaskManager served (gone, replaced or
// unreachable): its commands are refused from now on. Its tasks keep running for
// the grace period, for the next leader to adopt; with no grace they are canceled
// now. The process and slots stay. Called with tm.mu held; it may release it
// meanwhile.
func (tm *TaskManager) leaderLostLocked(why string) {
	old := tm.leader
	tm.leader = recovery.LeaderInfo{}
	switch {
	case tm.cfg.LeaderlessGrace <= 0:
		tm.log.Info().Str(logging.LeaderSession, old.SessionID.String()).Msg(why + ": cancelling its work, keeping slots")
		tm.mu.Unlock()
		tm.cancelAll()
		tm.mu.Lock()
	case tm.grace == nil:
		tm.log.Info().Str(logging.LeaderSession, old.SessionID.String()).Dur("grace", tm.cfg.LeaderlessGrace).
			Msg(why + ": tasks keep running for the next leader to adopt")
		tm.grace = time.AfterFunc(tm.cfg.LeaderlessGrace, tm.graceOver)
	}
}

// graceOver cancels the tasks when the grace period ended with no leader
// registered with.
func (tm *TaskManager) graceOver() {
	tm.mu.Lock()
	if tm.grace == nil || tm.leader.Known() {
		tm.mu.Unlock()
		return
	}
	tm.grace = nil
	tm.mu.Unlock()
	n := tm.stop(func(tmapi.TaskID) bool { return true })
	tm.log.Warn().Dur("grace", tm.cfg.LeaderlessGrace).Int("tasks", n).
		Msg("no leader within the grace period: tasks canceled; the next leader restores them")
}

// follow registers with the known leader and heartbeats it; on any change or
// refusal it registers again.
func (tm *TaskManager) follow(ctx context.Context) {
	var tick <-chan time.Time
	var interval time.Duration
	var tlsFailure string // the last TLS failure warned about: each is warned once, retries at debug
	for {
		tm.mu.Lock()
		known, registered, kctx := tm.known, tm.leader, tm.knownCtx
		tm.mu.Unlock()
		switch {
		case !known.Known():
			tick = nil
		case registered != known:
			hb, err := tm.register(kctx, known)
			if err != nil {
				var te *flinkssl.TLSError
				switch {
				case ctx.Err() != nil:
				case errors.As(err, &te) && te.Error() != tlsFailure:
					tlsFailure = te.Error()
					tm.log.Warn().Err(err).Str(logging.Addr, known.Address).Msg("cannot register with the leader over TLS; retrying")
				default:
					tm.log.Debug().Err(err).Str(logging.Addr, known.Address).Msg("registration refused or failed; retrying")
				}
				tick = time.After(tm.cfg.RetryInterval)
				break
			}
			interval = hb
			tick = time.After(interval)
		default:
			if err := tm.heartbeat(kctx, known); err != nil {
				tm.log.Info().Err(err).Msg("heartbeat refused: registering again")
				dropped := errors.Is(err, tmapi.ErrNotRegistered)
				if dropped {
					tm.dropReplaced(known)
				}
				tm.mu.Lock()
				switch {
				case tm.leader != known:
				case dropped:
					tm.leader = recovery.LeaderInfo{} // nothing left to keep for a next leader
				default:
					tm.leaderLostLocked("heartbeat refused")
				}
				tm.mu.Unlock()
				tick = time.After(tm.cfg.RetryInterval)
				break
			}
			tick = time.After(interval)
		}
		select {
		case <-ctx.Done():
			return
		case <-tm.change:
		case <-tick:
		}
	}
}

// msgTimedOut is logged when a leader's answer shows it timed this
// TaskManager out, with the number of tasks canceled.
const msgTimedOut = "the leader timed this taskmanager out and replaced its tasks: canceled them, their slots free"

// dropReplaced cancels every task: leader, still leading, timed this
// TaskManager out (a partition, a pause) and has replaced its tasks elsewhere.
// Nobody will adopt them — the next registration lists none and offers every
// slot — and nothing they hold is committed: their output since the last
// commit is dropped with them, and the pending parts they sealed stay
// invisible until the next restore of their subtask discards them.
func (tm *TaskManager) dropReplaced(leader recovery.LeaderInfo) {
	n := tm.stop(func(tmapi.TaskID) bool { return true })
	tm.log.Warn().Str(logging.LeaderSession, leader.SessionID.String()).Int("tasks", n).
		Str(logging.Reason, "heartbeat answered: not registered").Msg(msgTimedOut)
}

// dropReported cancels the tasks a registration reported that still run in
// the execution reported, once leader answered that it had timed this
// TaskManager out (and replaced them); a task deployed since stays.
func (tm *TaskManager) dropReported(leader recovery.LeaderInfo, reported []tmapi.RunningTask) {
	n := tm.stop(func(id tmapi.TaskID) bool {
		r, ok := tm.tasks.m[id] // called with tm.tasks.mu held
		return ok && slices.ContainsFunc(reported, func(t tmapi.RunningTask) bool { return t.Task() == id && t.Execution == r.task.Execution() })
	})
	if n > 0 {
		tm.log.Warn().Str(logging.LeaderSession, leader.SessionID.String()).Int("tasks", n).
			Str(logging.Reason, "registration answered: timed out").Msg(msgTimedOut)
	}
}

func (tm *TaskManager) register(ctx context.Context, leader recovery.LeaderInfo) (time.Duration, error) {
	addr, err := tm.publish(leader)
	if err != nil {
		return 0, err
	}
	// The tasks are listed before the registering session accepts commands: a
	// deployment from the new leader can only add to what it is told.
	reg := tmapi.Registration{ContainerID: tm.cfg.ContainerID, PID: os.Getpid(), Slots: tm.cfg.Slots,
		Address: addr, LeaderSession: leader.SessionID.String(), Tasks: tm.runningTasks()}
	// The leader may deploy tasks as soon as it has our registration, before its
	// reply reaches us: commands under the session we are registering with are
	// accepted from now on (while it is still the leader retrieval reports).
	tm.mu.Lock()
	tm.registering = leader
	tm.mu.Unlock()
	defer func() {
		tm.mu.Lock()
		tm.registering = recovery.LeaderInfo{}
		tm.mu.Unlock()
	}()
	res, err := tm.registry.Register(ctx, leader.Address, reg)
	if err != nil {
		return 0, err
	}
	tm.mu.Lock()
	if tm.known != leader {
		tm.mu.Unlock()
		return 0, errors.New("leader changed during registration")
	}
	tm.leader = leader
	tm.regs++
	if tm.grace != nil {
		tm.grace.Stop()
		tm.grace = nil
	}
	tm.mu.Unlock()
	if res.TimedOut {
		tm.dropReported(leader, reg.Tasks)
	}
	interval := time.Duration(res.HeartbeatIntervalMs) * time.Millisecond
	if interval <= 0 {
		interval = time.Second
	}
	tm.log.Info().Str(logging.LeaderSession, leader.SessionID.String()).Str(logging.Addr, leader.Address).Msg("registered with the leader")
	return interval, nil
}

func (tm *TaskManager) heartbeat(ctx context.Context, leader recovery.LeaderInfo) error {
	return tm.registry.Heartbeat(ctx, leader.Address, tmapi.Heartbeat{ContainerID: tm.cfg.ContainerID, LeaderSession: leader.SessionID.String()})
}

// CheckLeader accepts a command sent under session only when it is the leader
// session the TaskManager is registered (or registering) under.
func (tm *TaskManager) CheckLeader(session string) error {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if tm.registering.Known() && tm.registering == tm.known && session == tm.registering.SessionID.String() {
		return nil
	}
	if !tm.leader.Known() || session != tm.leader.SessionID.String() {
		return fmt.Errorf("%w: command from leader session %q, registered under %q", tmapi.ErrStaleLeader, session, sessionString(tm.leader))
	}
	return nil
}
