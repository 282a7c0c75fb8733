package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/childproc"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/metrics"
	"github.com/amkeeper/amkeeper/internal/privdir"
	"github.com/amkeeper/amkeeper/internal/procid"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
	"github.com/amkeeper/amkeeper/supervisor/rmapi"
)

// Config configures the supervisor of one application.
type Config struct {
	App containers.AppID
	// Dir is the application directory: the local API socket, one log file per
	// AM attempt (attempts/<attempt-id>/am.log) and per container.
	Dir    string
	Budget attempts.Budget
	// Backoff delays the next attempt after attempts that crashed soon after
	// their start (the zero Backoff: never).
	Backoff attempts.Backoff
	Clock   attempts.Clock // default attempts.SystemClock
	// Executable is the binary re-executed as `am` and `taskmanager` (default: this
	// process's own executable).
	Executable string
	// ProcessArgs are passed to every AM and TaskManager process (configuration
	// directory, -D properties, local HA directory). They are world-readable
	// (/proc/<pid>/cmdline): never a secret.
	ProcessArgs []string
	// ProcessEnv is added to the environment of every AM and TaskManager
	// process: where secrets reach them (see ConfigFrom). The application
	// secret's path (appsecret.EnvFile) is always added.
	ProcessEnv []string
	// SecretFile, when set, is the application secret the operator distributed
	// to every host of a cluster (amkeeper.secret.file): it is read (appsecret.Load
	// refuses a file open to group or others or owned by another user) and copied
	// into the application directory, from where every process of this
	// application reads it, instead of a new secret being created.
	SecretFile string
	// StandbyPorts, when it has more than one entry, runs one AM per entry at the
	// same time (the seeds' standalone cluster from conf/masters): all contend
	// through the same election, only the leader acts, and each is restarted
	// within the budget. Each entry is that AM's REST port ("0": any).
	StandbyPorts []string
	// RESTPort is the REST port the session keeps: every attempt binds it (an
	// attempt that finds it taken fails, with the backoff). 0: each attempt
	// binds what rest.bind-port or rest.port says. Hot standby (StandbyPorts)
	// ignores it.
	RESTPort int
	// TaskManagers, TaskManagerMemory and Slots shape the session (-n, -tm, -s).
	TaskManagers      int
	TaskManagerMemory int64
	Slots             int
	// AMMemory is the application master's memory in bytes (-jm): its process gets
	// GOMEMLIMIT = containers.MemLimit(AMMemory), as a TaskManager container gets
	// its own. 0 sets no limit.
	AMMemory int64
	// Containers says what happens to containers when an attempt fails (keep or
	// restart-all).
	Containers containers.Mode
	// ZooKeeper lists the quorum when high availability uses ZooKeeper: once an AM
	// is reaped (its death certain), the supervisor closes its session with the
	// credentials it registered with, so the next leader need not wait out the
	// session timeout. Empty: rely on session expiry.
	ZooKeeper []string
	// ZooKeeperDialer connects to ZooKeeper as the AMs do (TLS when configured);
	// nil means plain TCP.
	ZooKeeperDialer zkclient.Dialer
	// ZooKeeperSASL, when set, authenticates the connections that close a dead
	// AM's session, as the AM's own are (a server may refuse requests from
	// connections that have not), over ZooKeeperDialer's.
	ZooKeeperSASL *zkclient.SASLConfig
	// History is where the attempt history is kept (the storage directory), under
	// HistoryName(App). It is read at start, so a restarted supervisor keeps its
	// budget.
	History hdfsstore.Store
	// MetricsPort, when set (metrics.reporter.prom.port), serves the
	// supervisor's metrics on the first free port of the range on MetricsHost
	// besides the control socket's GET /metrics.
	MetricsPort *conf.PortSpec
	MetricsHost string
	Logger      zerolog.Logger
}

// Outcome is how the application ended.
type Outcome struct {
	Decision attempts.Decision
	History  attempts.History
	// StopErr is why stopping the application's processes at the end failed
	// (nil: every one was stopped and reaped). Then some may still be alive, and
	// nothing may remove the HA data they use.
	StopErr error
	// TrackingURL is the REST address of the AM that led last ("" if none led):
	// what `yarn-session status` shows as the ended application's tracking URL.
	TrackingURL string
}

// Supervisor runs one application: it starts AM attempts within the restart
// budget, serves them the local API (rmapi), and launches the TaskManager
// containers they ask for. Containers are the supervisor's children, never an
// AM's, so an AM's death never takes a container with it.
type Supervisor struct {
	cfg    Config
	policy *attempts.Policy
	cm     *containers.Manager
	log    zerolog.Logger
	secret appsecret.Secret // the application secret, at SecretPath
	env    []string         // the environment of every AM and container
	lock   *os.File         // the application's supervisor lock, held until Run ends

	mu        sync.Mutex
	ams       map[string]*amProc // AM attempts being started or running, by attempt ID
	exited    map[string]*amProc // ended AM attempts not yet settled (see settle), by attempt ID
	last      *amProc            // the attempt started last
	next      int                // the next attempt number to hand out
	completed []rmapi.CompletedContainer
	lastExit  time.Time // when the last AM attempt was reaped
	leadSeq   uint64    // counts the leadership reports that said "leading"
	// leadChanged is closed (and replaced) by every leadership report and every
	// reaped AM: what a dead leader's slot waits on (awaitTakeover).
	leadChanged chan struct{}
	lastREST    string         // the REST address of the AM that last reported leading
	waiting     *attempts.Wait // the crash-loop backoff being waited out, if any

	bootID   string               // this boot's ID, recorded with the processes
	self     procid.Identity      // this supervisor process, recorded
	recMu    sync.Mutex           // serializes saveRecord
	recEnded bool                 // the record was removed at the end; guarded by recMu
	adoption adopted              // what New took back from an earlier supervisor, for Run
	metrics  *prometheus.Registry // this supervisor's own (GET /metrics)
}

// amProc is one running AM attempt.
type amProc struct {
	n          int
	id         string
	pid        int
	ident      procid.Identity // pid and start time, recorded for a later supervisor
	proc       *procid.Process // an adopted AM (not our child), else nil
	port       string          // its slot's REST port
	started    time.Time
	restAddr   string
	registered bool
	finished   *rmapi.FinishRequest
	session    *rmapi.SessionCredentials
	preempt    bool
	exit       *attempts.Exit // how it ended, once reaped, until settled
	// leading is the leadSeq of this AM's latest "leading" report, 0 when it
	// does not lead (it never reported, or reported that its grant ended);
	// leadingSince is when that report came.
	leading      uint64
	leadingSince time.Time
}

// New prepares a supervisor; Run runs the application.
func New(cfg Config) (*Supervisor, error) {
	if cfg.Clock == nil {
		cfg.Clock = attempts.SystemClock
	}
	if cfg.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("supervisor: supervisor: own executable: %w", err)
		}
		cfg.Executable = exe
	}
	if cfg.Slots < 1 {
		cfg.Slots = 1
	}
	// Nothing is created in the application directory before it is known to be ours.
	if err := privdir.Ensure(cfg.Dir); err != nil {
		return nil, fmt.Errorf("supervisor: application directory: %w", err)
	}
	log := cfg.Logger // carries role and app, set once by the process (see Session.Logger)
	hist, err := loadHistory(cfg.History, attempts.HistoryName(cfg.App.String()))
	if err != nil {
		return nil, err
	}
	policy, err := attempts.New(cfg.Budget, cfg.Clock, hist)
	if err != nil {
		return nil, err
	}
	cm, err := containers.New(containers.Config{App: cfg.App, Dir: cfg.Dir, Logger: &log})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		cm.Close()
		return nil, fmt.Errorf("supervisor: application directory: %w", err)
	}
	lock, err := lockApp(cfg.Dir)
	if err != nil {
		cm.Close()
		return nil, err
	}
	s := &Supervisor{cfg: cfg, policy: policy, cm: cm, log: log, ams: map[string]*amProc{}, exited: map[string]*amProc{}, leadChanged: make(chan struct{}),
		next: policy.NextAttempt(), lock: lock}
	if s.bootID, err = procid.BootID(); err != nil {
		log.Warn().Err(err).Msg("no boot ID: a restarted supervisor will treat every recorded process as dead")
	}
	s.self, _ = procid.Of(os.Getpid())
	rec, found, err := readRecordIfAny(cfg.Dir)
	if err != nil {
		cm.Close()
		s.unlock()
		return nil, err
	}
	if found {
		// An earlier supervisor of this application died without ending it.
		if err := procid.Verify(rec.Supervisor); err == nil && rec.Supervisor.PID != os.Getpid() && rec.BootID == s.bootID {
			cm.Close()
			s.unlock()
			return nil, fmt.Errorf("supervisor: the supervisor of %s still runs (pid %d): stop it first", cfg.App, rec.Supervisor.PID)
		}
		// Its processes hold its application secret: keep it.
		if s.secret, err = appsecret.Load(SecretPath(cfg.Dir)); err != nil {
			cm.Close()
			s.unlock()
			return nil, fmt.Errorf("supervisor: the application secret of the running session: %w", err)
		}
		if s.adoption, err = s.adopt(rec); err != nil {
			// What could not be checked may run: nothing is signalled, the
			// record stays for the next try.
			cm.Release()
			s.unlock()
			return nil, err
		}
		for _, a := range s.adoption.ams {
			s.next = max(s.next, a.n+1)
		}
		for _, d := range s.adoption.dead {
			s.next = max(s.next, d.n+1)
			s.exited[d.id] = d
		}
	} else {
		// A new application secret for this session, replacing any older one:
		// every process of the session reads it at start through appsecret.EnvFile.
		// A cluster spread over hosts shares the operator's instead.
		if cfg.SecretFile != "" {
			s.secret, err = appsecret.Copy(cfg.SecretFile, SecretPath(cfg.Dir))
		} else {
			s.secret, err = appsecret.Create(SecretPath(cfg.Dir))
		}
		if err != nil {
			cm.Close()
			s.unlock()
			return nil, fmt.Errorf("supervisor: application secret: %w", err)
		}
	}
	env := append(os.Environ(), cfg.ProcessEnv...)
	s.env = append(env, appsecret.EnvFile+"="+SecretPath(cfg.Dir))
	s.metrics = metrics.NewRegistry()
	s.metrics.MustRegister(collector{s})
	return s, nil
}

// SecretPath is the application secret's file in the application directory
// appDir (mode 0600; see package appsecret).
func SecretPath(appDir string) string { return filepath.Join(appDir, appsecret.FileName) }

// Secret returns the application secret, for callers in this process (the
// mini cluster) that command the session as its CLI would.
func (s *Supervisor) Secret() appsecret.Secret { return s.secret }

// Socket is the path of the local API socket.
func (s *Supervisor) Socket() string { return filepath.Join(SocketDir(s.cfg.Dir), "rm.sock") }

// Containers returns the container manager (for status and tests).
func (s *Supervisor) Containers() *containers.Manager { return s.cm }

// Policy returns the restart policy (for status).
func (s *Supervisor) Policy() *attempts.Policy { return s.policy }

// AMPID returns the PID of the AM started last (the only one without hot
// standby), 0 when it is not running.
func (s *Supervisor) AMPID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		return 0
	}
	return s.last.pid
}

// AMPIDs returns the PIDs of every running AM.
func (s *Supervisor) AMPIDs() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, a := range s.ams {
		if a.pid != 0 {
			out = append(out, a.pid)
		}
	}
	return out
}

// leader returns the AM that a kill-am or a preemption hits, and its PID: the
// only running AM without hot standby (whether it leads yet or not), otherwise
// the one that reported leading (reportedLeader).
func (s *Supervisor) leader() (*amProc, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var only *amProc
	running := 0
	for _, a := range s.ams {
		if a.pid != 0 {
			only = a
			running++
		}
	}
	if running == 1 {
		return only, only.pid
	}
	if a := s.reportedLeader(); a != nil {
		return a, a.pid
	}
	return nil, 0
}

// reportedLeader returns the running AM whose "leading" report is the newest
// among those whose grant has not ended, or nil; callers hold s.mu. Grants follow
// each other in the election, so when an old leader's "not leading" report is
// still on its way, the newer grant's report wins.
func (s *Supervisor) reportedLeader() *amProc {
	var lead *amProc
	for _, a := range s.ams {
		if a.pid != 0 && a.leading > 0 && (lead == nil || a.leading > lead.leading) {
			lead = a
		}
	}
	return lead
}

// KillAM SIGKILLs the leading AM, as a crash would (it counts against the
// budget): for tests and demos. It returns the PID killed.
func (s *Supervisor) KillAM() (int, error) {
	a, pid := s.leader()
	if pid == 0 {
		return 0, errors.New("supervisor: kill-am: no leading AM running")
	}
	return pid, kill(a, pid)
}

// kill SIGKILLs the AM a (PID pid): an adopted one through its pidfd, as it is
// not our child — it is reaped at once, and its PID may name another process
// before we forget it; our own child keeps its PID until we wait for it.
func kill(a *amProc, pid int) error {
	if a != nil && a.proc != nil {
		return a.proc.Signal(syscall.SIGKILL)
	}
	return syscall.Kill(pid, syscall.SIGKILL)
}

func (s *Supervisor) amLog(attemptID string) string {
	if attemptID == "" {
		return ""
	}
	return AMLogPath(s.cfg.Dir, attemptID)
}

// AMLogPath is the log file of an AM attempt in the application directory appDir.
func AMLogPath(appDir, attemptID string) string {
	return filepath.Join(appDir, "attempts", attemptID, "am.log")
}

// Preempt kills the leading AM as preempted: the exit does not count against
// the budget (YARN's PREEMPTED).
func (s *Supervisor) Preempt() error {
	a, pid := s.leader()
	if a == nil {
		return errors.New("supervisor: preempt: no AM running")
	}
	s.mu.Lock()
	a.preempt = true
	s.mu.Unlock()
	return kill(a, pid)
}

// unlock lets the application's supervisor lock go (after Run, or when New
// fails): the next supervisor may start.
func (s *Supervisor) unlock() {
	if s.lock != nil {
		s.lock.Close()
		s.lock = nil
	}
}

// Run runs attempts until the application ends (the AM finished it, or the budget
// ran out) or ctx ends (the application is stopped: the AM is asked to finish,
// containers are stopped, HA data is kept). Once the application runs under it,
// it stops every container when it returns. A Run that fails before (its
// sockets or metrics port cannot be served) signals nothing: the AMs and
// containers it adopted keep running, released, and the record stays for the
// next supervisor.
func (s *Supervisor) Run(ctx context.Context) (Outcome, error) {
	defer s.unlock()
	running := false // the application runs under this Run: its end stops the containers
	defer func() {
		if running {
			s.cm.Close()
		} else {
			s.release()
		}
	}()
	l, err := rmapi.Listen(s.Socket())
	if err != nil {
		return Outcome{}, err
	}
	if dir := SocketDir(s.cfg.Dir); dir != s.cfg.Dir {
		defer os.Remove(dir) // the short socket directory, once its sockets are gone
	}
	serveCtx, stopServe := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- rmapi.Serve(serveCtx, l, s, s.secret, s.log) }()
	defer func() { stopServe(); <-served }()

	// The control socket (status, stop, kill-am) lives as long as Run; a stop
	// request cancels the attempts the way a signal does.
	ctx, requestStop := context.WithCancel(ctx)
	defer requestStop()
	cl, err := rmapi.Listen(ControlSocket(s.cfg.Dir))
	if err != nil {
		return Outcome{}, fmt.Errorf("supervisor: control socket: %w", err)
	}
	controlCtx, stopControl := context.WithCancel(context.Background())
	if err := s.serveMetrics(controlCtx); err != nil {
		stopControl()
		cl.Close() // not served yet: nothing else closes it
		return Outcome{}, err
	}
	controlled := make(chan error, 1)
	go func() { controlled <- s.serveControl(controlCtx, cl, requestStop) }()
	defer func() { stopControl(); <-controlled }()

	events, cancelEvents := s.cm.Subscribe()
	defer cancelEvents()
	go s.collect(events)

	// What an earlier supervisor left: the dead AMs are fenced and counted
	// before anything starts; the live ones are watched by their slots.
	s.mu.Lock()
	for _, a := range s.adoption.ams {
		s.ams[a.id], s.last = a, a
	}
	s.mu.Unlock()
	s.saveRecord()
	for _, dead := range s.adoption.dead {
		s.fence(dead.id, dead.session)
		d, err := s.settle(*dead.exit)
		if err != nil && !errors.Is(err, attempts.ErrEnded) {
			return Outcome{}, err
		}
		s.log.Info().EmbedObject(d).Str(logging.AttemptID, dead.id).Str("exit", string(dead.exit.Kind)).
			Msg("attempt ended while no supervisor watched")
	}
	if len(s.adoption.dead) > 0 && len(s.cfg.StandbyPorts) <= 1 {
		if err := s.cm.OnAttemptEnded(context.Background(), s.cfg.Containers); err != nil {
			s.log.Warn().Err(err).Msg("containers after the attempt")
		}
	}
	s.adoption.dead = nil
	// From here on the application runs under this supervisor: however Run
	// ends, it stops the containers.
	running = true
	// An adopted AM no slot runs, or any adopted AM once the application has
	// ended, is stopped (SIGTERM, then SIGKILL) as a started one is: fenced, and
	// settled (not counted).
	stopNow, cancelStop := context.WithCancel(context.Background())
	cancelStop()
	stopAdopted := func(a *amProc, why string) error {
		s.log.Warn().Str(logging.AttemptID, a.id).Str("port", a.port).Msg(why)
		exit := s.watchAdopted(stopNow, a)
		exit.Kind = attempts.ExitKilledBySupervisor
		if _, err := s.settle(exit); err != nil && !errors.Is(err, attempts.ErrEnded) {
			return err
		}
		return nil
	}
	if d, ended := s.policy.Ended(); ended {
		for _, a := range s.adoption.ams {
			if err := stopAdopted(a, "the application has ended: stopping the adopted AM"); err != nil {
				return Outcome{}, err
			}
		}
		s.adoption.ams = nil
		return s.end(d)
	}
	ports := s.cfg.StandbyPorts
	if len(ports) == 0 {
		ports = []string{""}
	}
	slots, stopSlots := context.WithCancel(ctx)
	defer stopSlots()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		final    attempts.Decision
		firstErr error
	)
	finish := func(d attempts.Decision, err error) {
		once.Do(func() { final, firstErr = d, err })
		stopSlots()
	}
	firsts := make([]*amProc, len(ports))
	for i, port := range ports {
		firsts[i] = s.adoptedFor(port)
	}
	// An adopted AM no slot has (the standby ports changed) is not ours to run.
	for _, a := range s.adoption.ams {
		if err := stopAdopted(a, "adopted AM has no slot: stopping it"); err != nil {
			return Outcome{}, err
		}
	}
	s.adoption.ams = nil
	for i, port := range ports {
		wg.Add(1)
		first := firsts[i]
		go func() {
			defer wg.Done()
			d, err := s.runSlot(slots, ctx, port, len(ports) > 1, first)
			finish(d, err)
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return Outcome{}, firstErr
	}
	return s.end(final)
}

// runSlot runs one AM slot's attempts until the application ends, the slot
// context ends (another slot ended the application) or ctx ends (stop).
// Its first attempt is adopted when not nil (an AM an earlier supervisor
// started); else it starts after the crash-loop backoff, as every next one.
func (s *Supervisor) runSlot(slot, ctx context.Context, port string, standby bool, adopted *amProc) (attempts.Decision, error) {
	// A restarted supervisor with nothing to adopt waits out the backoff the
	// history calls for, as the one before it would have.
	if h := s.policy.History(); adopted == nil && len(h.Attempts) > 0 && !s.backoff(slot) {
		if ctx.Err() != nil {
			d, _, _ := s.decided(h.Attempts[len(h.Attempts)-1].AttemptID)
			return d, nil
		}
		return attempts.Decision{}, nil // another slot ended the application
	}
	for {
		var (
			exit attempts.Exit
			err  error
		)
		if adopted != nil {
			exit, adopted = s.watchAdopted(slot, adopted), nil
		} else {
			exit, err = s.runAttempt(slot, s.takeAttempt(), port)
		}
		if err != nil {
			return attempts.Decision{}, err
		}
		led := s.ledUntilExit(exit.AttemptID)
		if slot.Err() != nil && ctx.Err() == nil && exit.Kind == attempts.ExitKilledBySupervisor {
			// Another slot ended the application; this AM was stopped for it.
			s.settled(exit.AttemptID)
			return attempts.Decision{}, nil
		}
		d, err := s.settle(exit)
		if errors.Is(err, attempts.ErrEnded) {
			return d, nil
		}
		if err != nil {
			return attempts.Decision{}, err
		}
		s.log.Info().EmbedObject(d).Str(logging.AttemptID, exit.AttemptID).Str("exit", string(exit.Kind)).
			Int("exit_code", exit.ExitCode).Str("signal", exit.Signal).Msg("attempt ended")
		if !d.Restart || ctx.Err() != nil {
			return d, nil
		}
		// With hot standby the other AMs keep leading or standing by: containers
		// always stay. Otherwise the configured mode applies.
		if !standby {
			if err := s.cm.OnAttemptEnded(context.Background(), s.cfg.Containers); err != nil {
				s.log.Warn().Err(err).Msg("containers after the attempt")
			}
		}
		if !s.backoff(slot) {
			if ctx.Err() != nil {
				return d, nil
			}
			return attempts.Decision{}, nil // another slot ended the application
		}
		if standby && led > 0 {
			s.awaitTakeover(slot, led)
		}
	}
}

// Waiting before a dead leader's slot starts its replacement standby (see
// awaitTakeover).
const (
	// StandbySettle is how long after the new leader's report the replacement
	// starts: the new leader's first checkpoint after an adoption comes within it
	// (tens of milliseconds; a replacement needs about 100 ms to stand by).
	StandbySettle = 200 * time.Millisecond
	// StandbyWaitMax bounds the whole wait.
	StandbyWaitMax = time.Second
)

// ledUntilExit returns the leadSeq of the ended attempt's last "leading"
// report (0: it did not lead when it ended, or is not known).
func (s *Supervisor) ledUntilExit(attemptID string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.exited[attemptID]; ok {
		return a.leading
	}
	return 0
}

// awaitTakeover delays the replacement of a dead leader's AM with hot standby:
// a standby takes over at once, and the replacement — a process start, a
// ZooKeeper connection and the attempt's records, on the same cores and disk —
// would compete with the new leader's first steps (its re-registrations and the
// first checkpoint after an adoption). It waits until another AM reports
// leading with a report newer than the dead one's (after), then StandbySettle;
// at most StandbyWaitMax in all, and not at all once no other AM runs (this
// slot's AM is then the one to lead). The budget is not touched: the dead
// attempt was counted before, and the replacement is the next attempt as it
// would be without the wait.
func (s *Supervisor) awaitTakeover(slot context.Context, after uint64) {
	start := time.Now()
	limit := time.NewTimer(StandbyWaitMax)
	defer limit.Stop()
	var settle <-chan time.Time
	for {
		s.mu.Lock()
		changed := s.leadChanged
		others := 0
		for _, a := range s.ams {
			if a.pid != 0 {
				others++
			}
		}
		var since time.Time
		if lead := s.reportedLeader(); lead != nil && lead.leading > after {
			since = lead.leadingSince
		}
		s.mu.Unlock()
		if others == 0 {
			return
		}
		if !since.IsZero() && settle == nil {
			t := time.NewTimer(time.Until(since.Add(StandbySettle)))
			defer t.Stop()
			settle = t.C
		}
		select {
		case <-slot.Done():
			return
		case <-limit.C:
			s.log.Debug().Dur("waited", time.Since(start)).Msg("starting the replacement standby: no other AM took over in time")
			return
		case <-settle:
			s.log.Debug().Dur("waited", time.Since(start)).Msg("starting the replacement standby: another AM took over")
			return
		case <-changed:
		}
	}
}

// backoff waits out the crash-loop backoff the history calls for before the
// next attempt (shown in Status meanwhile); false when slot ended first.
func (s *Supervisor) backoff(slot context.Context) bool {
	w := s.cfg.Backoff.Next(s.policy.History())
	if w.Delay <= 0 {
		return true
	}
	left := w.Until.Sub(s.cfg.Clock.Now())
	s.log.Warn().Int("crashes", w.Streak).Dur("backoff", w.Delay).Time("next_start", w.Until).
		Msg("attempts crash soon after their start: backing off before the next one")
	if left <= 0 {
		return true
	}
	s.mu.Lock()
	s.waiting = &w
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.waiting = nil
		s.mu.Unlock()
	}()
	t := time.NewTimer(left)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-slot.Done():
		return false
	}
}

// adoptedFor returns the adopted AM of the slot with this REST port, if any.
func (s *Supervisor) adoptedFor(port string) *amProc {
	for i, a := range s.adoption.ams {
		if a.port == port {
			s.adoption.ams = append(s.adoption.ams[:i], s.adoption.ams[i+1:]...)
			return a
		}
	}
	return nil
}

// takeAttempt hands out the next attempt number.
func (s *Supervisor) takeAttempt() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.next
	s.next++
	return n
}

func (s *Supervisor) end(d attempts.Decision) (Outcome, error) {
	stop, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stopErr := s.cm.StopAll(stop)
	if stopErr != nil {
		s.log.Warn().Err(stopErr).Msg("stopping containers: some may still be alive")
	} else {
		s.recMu.Lock()
		s.recEnded = true
		if err := os.Remove(RecordPath(s.cfg.Dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn().Err(err).Msg("cannot remove the record of the running processes")
		}
		s.recMu.Unlock()
	}
	s.log.Info().EmbedObject(d).Msg("application ended")
	s.mu.Lock()
	tracking := s.lastREST
	s.mu.Unlock()
	return Outcome{Decision: d, History: s.policy.History(), StopErr: stopErr, TrackingURL: tracking}, nil
}

// attemptID is YARN's appattempt_<ts>_<seq>_<N %06d>.
func (s *Supervisor) attemptIDOf(n int) string {
	return fmt.Sprintf("appattempt_%d_%04d_%06d", s.cfg.App.ClusterTimestamp, s.cfg.App.Seq, n)
}

// runAttempt starts one AM process and waits for it to exit (or stops it when
// ctx ends).
func (s *Supervisor) runAttempt(ctx context.Context, n int, restPort string) (attempts.Exit, error) {
	id := s.attemptIDOf(n)
	dir := filepath.Join(s.cfg.Dir, "attempts", id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return attempts.Exit{}, fmt.Errorf("supervisor: attempt directory: %w", err)
	}
	logf, err := os.OpenFile(s.amLog(id), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return attempts.Exit{}, fmt.Errorf("supervisor: AM log: %w", err)
	}
	defer logf.Close()
	args := append([]string{"am",
		"--attempt", strconv.Itoa(n), "--attempt-id", id, "--rm-socket", s.Socket(),
		"--application-id", s.cfg.App.String(),
		"--taskmanagers", strconv.Itoa(s.cfg.TaskManagers),
		"--tm-memory", strconv.FormatInt(s.cfg.TaskManagerMemory, 10),
		"--slots", strconv.Itoa(s.cfg.Slots)}, s.cfg.ProcessArgs...)
	if restPort == "" && s.cfg.RESTPort > 0 {
		restPort = strconv.Itoa(s.cfg.RESTPort) // the session's, kept by every attempt
	}
	if restPort != "" {
		args = append(args, "--rest-port", restPort)
	}
	s.mu.Lock()
	if !s.lastExit.IsZero() {
		args = append(args, "--previous-exit", strconv.FormatInt(s.lastExit.UnixNano(), 10))
	}
	s.mu.Unlock()
	cmd := exec.Command(s.cfg.Executable, args...)
	cmd.Env = s.env
	if s.cfg.AMMemory > 0 {
		cmd.Env = append(slices.Clone(s.env), containers.EnvGoMemLimit+"="+strconv.FormatInt(containers.MemLimit(s.cfg.AMMemory), 10))
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = dir
	// Its own process group; it outlives the supervisor, so a restarted one
	// adopts it (no parent-death signal).
	cmd.SysProcAttr = childproc.Outliving(childproc.OwnGroup)
	start := s.cfg.Clock.Now()

	// "Starting attempt n" is recorded before the fork: a supervisor that dies
	// before it records the PID leaves the next one a record by which it finds
	// the process (by its arguments), not an unknown orphan. Without that
	// record (a full disk, a read-only directory) there is no fork.
	am := &amProc{n: n, id: id, port: restPort, started: start}
	s.mu.Lock()
	s.ams[id], s.last = am, am
	s.mu.Unlock()
	if err := s.writeRecord(); err != nil {
		s.mu.Lock()
		delete(s.ams, id)
		s.mu.Unlock()
		return attempts.Exit{}, fmt.Errorf("supervisor: attempt %s not started: a restarted supervisor could not find it: %w", id, err)
	}
	if err := cmd.Start(); err != nil {
		s.mu.Lock()
		delete(s.ams, id)
		s.mu.Unlock()
		s.saveRecord()
		return attempts.Exit{}, fmt.Errorf("supervisor: start attempt %s: %w", id, err)
	}
	ident, err := procid.Of(cmd.Process.Pid)
	if err != nil {
		s.log.Warn().Err(err).Str(logging.AttemptID, id).Msg("no start time for the AM: a restarted supervisor will find it by its arguments")
	}
	s.mu.Lock()
	am.pid, am.ident = cmd.Process.Pid, ident
	s.mu.Unlock()
	s.saveRecord()
	s.log.Info().Str(logging.AttemptID, id).Int(logging.Attempt, n).Int(logging.PID, cmd.Process.Pid).
		Int("max_attempts", s.cfg.Budget.MaxAttempts).Msg("attempt started")

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	werr, stopped := awaitAM(ctx, waited, func(sig syscall.Signal) { _ = cmd.Process.Signal(sig) })
	exit := attempts.Exit{Attempt: n, Kind: attempts.ExitFailed, AttemptID: id, Start: start}
	if ps := cmd.ProcessState; ps != nil {
		exit.ExitCode = ps.ExitCode()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			exit.Signal = ws.Signal().String()
		}
	}
	return s.reaped(am, exit, stopped, werr), nil
}

// watchAdopted waits for an adopted AM (not our child: through its pidfd) to
// exit, or stops it when ctx ends, as runAttempt does for a started one. Its
// exit status is unknown. procid's Wait returns only at the exit (its context
// never ends here): a failing poll is not taken for the AM's exit.
func (s *Supervisor) watchAdopted(ctx context.Context, am *amProc) attempts.Exit {
	waited := make(chan error, 1)
	go func() { waited <- am.proc.Wait(context.Background()) }()
	werr, stopped := awaitAM(ctx, waited, func(sig syscall.Signal) { _ = am.proc.Signal(sig) })
	_ = am.proc.Close()
	if werr == nil {
		werr = errors.New("exit status unknown: the AM was adopted, not our child")
	}
	exit := attempts.Exit{Attempt: am.n, Kind: attempts.ExitFailed, AttemptID: am.id, Start: am.started, ExitCode: -1}
	return s.reaped(am, exit, stopped, werr)
}

// awaitAM waits for an AM to exit (waited) or, when ctx ends, stops it: SIGTERM
// to ask it to finish, SIGKILL after 10 s. stopped says ctx ended it.
func awaitAM(ctx context.Context, waited <-chan error, signal func(syscall.Signal)) (werr error, stopped bool) {
	select {
	case werr = <-waited:
		return werr, false
	case <-ctx.Done():
	}
	signal(syscall.SIGTERM)
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case werr = <-waited:
	case <-t.C:
		signal(syscall.SIGKILL)
		werr = <-waited
	}
	return werr, true
}

// reaped completes exit for an AM whose process is gone: it records how the
// attempt ended (the attempt stays in the record until settle), then fences
// its ZooKeeper session.
func (s *Supervisor) reaped(am *amProc, exit attempts.Exit, stopped bool, werr error) attempts.Exit {
	s.mu.Lock()
	finished, preempted, session := am.finished, am.preempt, am.session
	s.mu.Unlock()
	switch {
	case finished != nil:
		exit.Kind, exit.FinalStatus, exit.Diagnostics = attempts.ExitFinished, attempts.FinalStatus(finished.Status), finished.Diagnostics
	case preempted:
		exit.Kind, exit.Diagnostics = attempts.ExitPreempted, "preempted by the supervisor"
	case stopped:
		exit.Kind, exit.Diagnostics = attempts.ExitKilledBySupervisor, "the application was stopped"
	default:
		exit.Diagnostics = fmt.Sprintf("the AM exited without FinishApplicationMaster: %v", werr)
		if exitedWithCode(exit) {
			if cause := logging.LastErrorOf(s.amLog(am.id)); cause != "" {
				exit.Diagnostics += "; last error in am.log: " + cause
			}
		}
	}
	s.mu.Lock()
	am.pid, am.exit = 0, &exit
	s.lastExit = time.Now()
	delete(s.ams, am.id)
	s.exited[am.id] = am
	s.leadChangedLocked()
	s.mu.Unlock()
	s.saveRecord()
	s.fence(am.id, session)
	return exit
}

// exitedWithCode reports whether an AM ended by exiting with a code, so that
// the last error in its log may be why: an AM killed by a signal (or adopted,
// its status unknown) may have logged its last error long before.
func exitedWithCode(exit attempts.Exit) bool {
	return exit.Signal == "" && exit.ExitCode >= 0
}

// settle has the policy decide on an ended attempt, once: an attempt the
// history holds already (a supervisor counted it, then died before it could
// drop the attempt from the record) is not counted again; its decision is
// given back. Only once the history is saved does the attempt leave the
// record, so a supervisor that dies before leaves it for the next one. It
// returns what Policy.Decide returns.
func (s *Supervisor) settle(exit attempts.Exit) (attempts.Decision, error) {
	d, known, err := s.decided(exit.AttemptID)
	if !known {
		d, err = s.policy.Decide(exit)
		if err != nil && !errors.Is(err, attempts.ErrEnded) {
			return d, err
		}
	}
	if herr := s.saveHistory(); herr != nil {
		s.log.Error().Err(herr).Str(logging.AttemptID, exit.AttemptID).
			Msg("cannot save the attempt history: the attempt stays in the record for a restarted supervisor to count")
		return d, err
	}
	s.settled(exit.AttemptID)
	return d, err
}

// decided returns the decision the history holds for attemptID, if any.
func (s *Supervisor) decided(attemptID string) (d attempts.Decision, known bool, err error) {
	if attemptID == "" {
		return d, false, nil
	}
	for _, r := range s.policy.History().Attempts {
		if r.AttemptID != attemptID {
			continue
		}
		if ended, ok := s.policy.Ended(); ok {
			return ended, true, attempts.ErrEnded
		}
		return attempts.Decision{Restart: true, Reason: r.Reason, Attempt: r.Attempt, CountedFailures: r.CountedFailures,
			MaxAttempts: s.cfg.Budget.MaxAttempts, Window: s.cfg.Budget.Window}, true, nil
	}
	return d, false, nil
}

// settled drops an ended attempt from the record.
func (s *Supervisor) settled(attemptID string) {
	s.mu.Lock()
	delete(s.exited, attemptID)
	s.mu.Unlock()
	s.saveRecord()
}

// release lets the adopted AMs and the containers go without a signal (a Run
// that failed before the application ran under it).
func (s *Supervisor) release() {
	s.cm.Release()
	for _, a := range s.adoption.ams {
		_ = a.proc.Close()
	}
	s.adoption.ams = nil
}

// fence closes a reaped AM's ZooKeeper session: the process is gone, so nothing
// can use the session again, and closing it removes its latch and connection_info
// nodes at once.
func (s *Supervisor) fence(attemptID string, session *rmapi.SessionCredentials) {
	if session == nil || len(s.cfg.ZooKeeper) == 0 {
		return
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dial, err := s.cfg.ZooKeeperSASL.Dialer(s.cfg.ZooKeeperDialer)
	if err == nil {
		err = zkclient.CloseSession(ctx, s.cfg.ZooKeeper, dial, session.SessionID, session.Password, 0)
	}
	ev := s.log.Info()
	if errors.Is(err, zkclient.ErrSessionGone) {
		ev = s.log.Debug() // it had expired or been closed already
	} else if err != nil {
		ev = s.log.Warn().Err(err)
	}
	logging.Since(ev.Str(logging.AttemptID, attemptID).Str("session", session.String()), start).
		Msg("closed the dead attempt's zookeeper session")
}

// collect queues completed containers for the next Allocate.
func (s *Supervisor) collect(events <-chan containers.CompletedEvent) {
	for e := range events {
		s.mu.Lock()
		s.completed = append(s.completed, rmapi.CompletedContainer{ID: e.ID.String(), ExitCode: e.ExitCode, Signal: e.Signal, Diagnostics: e.Diagnostics})
		s.mu.Unlock()
		s.saveRecord()
	}
}

// runningAM returns the running attempt with this ID; callers hold s.mu.
func (s *Supervisor) runningAM(attemptID string) (*amProc, error) {
	a, ok := s.ams[attemptID]
	if !ok || a.pid == 0 {
		return nil, fmt.Errorf("%w: %s is not a running attempt", rmapi.ErrStaleAttempt, attemptID)
	}
	return a, nil
}

// Register is RegisterApplicationMaster. It may be called again by the same
// attempt (a standby that became leader does, to learn the containers to adopt).
func (s *Supervisor) Register(ctx context.Context, req rmapi.RegisterRequest) (rmapi.RegisterResponse, error) {
	defer s.saveRecord() // the session credentials, for a later supervisor to fence with
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.runningAM(req.AttemptID)
	if err != nil {
		return rmapi.RegisterResponse{}, err
	}
	a.registered, a.restAddr = true, req.RESTAddress
	if req.Session != nil {
		a.session = req.Session
	}
	// Every live container this attempt did not allocate itself: those of earlier
	// attempts and, with hot standby, those the previous leader allocated.
	prev := []rmapi.Container{}
	for _, c := range s.cm.Previous(a.n) {
		prev = append(prev, toAPI(c))
	}
	return rmapi.RegisterResponse{ApplicationID: s.cfg.App.String(), Attempt: a.n,
		MaxAttempts: s.cfg.Budget.MaxAttempts, PreviousContainers: prev}, nil
}

func toAPI(c containers.Container) rmapi.Container {
	return rmapi.Container{ID: c.ID.String(), PID: c.PID, MemoryBytes: c.Memory, Slots: c.Slots, Attempt: c.ID.Attempt, Started: c.Start}
}

// Allocate releases and launches containers and reports completed ones.
func (s *Supervisor) Allocate(ctx context.Context, req rmapi.AllocateRequest) (rmapi.AllocateResponse, error) {
	s.mu.Lock()
	a, err := s.runningAM(req.AttemptID)
	if err != nil {
		s.mu.Unlock()
		return rmapi.AllocateResponse{}, err
	}
	if !a.registered {
		s.mu.Unlock()
		return rmapi.AllocateResponse{}, rmapi.ErrNotRegistered
	}
	attempt := a.n
	s.mu.Unlock()

	for _, raw := range req.Release {
		id, err := containers.ParseContainerID(raw)
		if err != nil {
			return rmapi.AllocateResponse{}, fmt.Errorf("%w: release: %v", rmapi.ErrInvalid, err)
		}
		go func() {
			stop, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = s.cm.Stop(stop, id)
		}()
	}
	var res rmapi.AllocateResponse
	for _, ask := range req.Ask {
		for i := 0; i < ask.Count; i++ {
			c, err := s.cm.Launch(ctx, containers.LaunchSpec{
				Attempt: attempt, Path: s.cfg.Executable,
				Args:   append([]string{"taskmanager", "--slots", strconv.Itoa(max(ask.Slots, 1)), "--application-id", s.cfg.App.String()}, s.cfg.ProcessArgs...),
				Env:    s.env,
				Memory: max(ask.MemoryBytes, 128<<20), Slots: max(ask.Slots, 1),
			})
			if err != nil {
				return res, fmt.Errorf("supervisor: launch container: %w", err)
			}
			res.Allocated = append(res.Allocated, toAPI(*c))
		}
	}
	if len(req.Ask) > 0 || len(req.Release) > 0 {
		s.saveRecord()
	}
	s.mu.Lock()
	res.Completed, s.completed = s.completed, nil
	s.mu.Unlock()
	return res, nil
}

// Finish is FinishApplicationMaster: the attempt's exit will end the application.
func (s *Supervisor) Finish(ctx context.Context, req rmapi.FinishRequest) error {
	defer s.saveRecord()
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.runningAM(req.AttemptID)
	if err != nil {
		return err
	}
	a.finished = &req
	return nil
}

// Leadership records an AM's report that its leadership grant started or ended
// (see reportedLeader).
func (s *Supervisor) Leadership(ctx context.Context, req rmapi.LeadershipRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.runningAM(req.AttemptID)
	if err != nil {
		return err
	}
	if !a.registered {
		return rmapi.ErrNotRegistered
	}
	if req.Leading {
		s.leadSeq++
		a.leading, a.leadingSince = s.leadSeq, time.Now()
		s.lastREST = a.restAddr
	} else {
		a.leading = 0
	}
	s.leadChangedLocked()
	return nil
}

// leadChangedLocked wakes whoever waits on leadChanged; callers hold s.mu.
func (s *Supervisor) leadChangedLocked() {
	close(s.leadChanged)
	s.leadChanged = make(chan struct{})
}

var _ rmapi.ResourceManager = (*Supervisor)(nil)
