package attempts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/attempts/rmapi"
	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/logging"
)

// SupervisorConfig configures the supervisor of one application.
type SupervisorConfig struct {
	App containers.AppID
	// Dir is the application directory: the local API socket, one log file per
	// AM attempt (attempts/<attempt-id>/am.log) and per container.
	Dir    string
	Budget Budget
	Clock  Clock // default SystemClock
	// Executable is the binary re-executed as `am` and `taskmanager` (default: this
	// process's own executable).
	Executable string
	// ProcessArgs are passed to every AM and TaskManager process (configuration
	// directory, -D properties, local HA directory).
	ProcessArgs []string
	// TaskManagers, TaskManagerMemory and Slots shape the session (-n, -tm, -s).
	TaskManagers      int
	TaskManagerMemory int64
	Slots             int
	// Containers says what happens to containers when an attempt fails (keep or
	// restart-all).
	Containers containers.Mode
	// History is where the attempt history is kept (the storage directory), under
	// HistoryName. It is read at start, so a restarted supervisor keeps its budget.
	History     hdfsstore.Store
	HistoryName string
	Logger      zerolog.Logger
}

// Outcome is how the application ended.
type Outcome struct {
	Decision Decision
	History  History
}

// Supervisor runs one application: it starts AM attempts within the restart
// budget, serves them the local API (rmapi), and launches the TaskManager
// containers they ask for. Containers are the supervisor's children, never an
// AM's, so an AM's death never takes a container with it.
type Supervisor struct {
	cfg    SupervisorConfig
	policy *Policy
	cm     *containers.Manager
	log    zerolog.Logger

	mu         sync.Mutex
	attempt    int
	attemptID  string
	amPID      int
	registered bool
	finished   *rmapi.FinishRequest
	session    *rmapi.SessionCredentials
	completed  []rmapi.CompletedContainer
	preempt    bool
}

// NewSupervisor prepares a supervisor; Run runs the application.
func NewSupervisor(cfg SupervisorConfig) (*Supervisor, error) {
	if cfg.Clock == nil {
		cfg.Clock = SystemClock
	}
	if cfg.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("attempts: supervisor: own executable: %w", err)
		}
		cfg.Executable = exe
	}
	if cfg.Slots < 1 {
		cfg.Slots = 1
	}
	log := cfg.Logger.With().Str(logging.App, cfg.App.String()).Str(logging.Role, "supervisor").Logger()
	hist, err := loadHistory(cfg.History, cfg.HistoryName)
	if err != nil {
		return nil, err
	}
	policy, err := New(cfg.Budget, cfg.Clock, hist)
	if err != nil {
		return nil, err
	}
	cm, err := containers.New(containers.Config{App: cfg.App, Dir: cfg.Dir, Logger: &log})
	if err != nil {
		return nil, err
	}
	return &Supervisor{cfg: cfg, policy: policy, cm: cm, log: log}, nil
}

func loadHistory(st hdfsstore.Store, name string) (History, error) {
	if st == nil {
		return History{}, nil
	}
	b, err := hdfsstore.GetBytes(context.Background(), st, name)
	if errors.Is(err, fs.ErrNotExist) {
		return History{}, nil
	}
	if err != nil {
		return History{}, fmt.Errorf("attempts: read attempt history %s: %w", name, err)
	}
	var h History
	if err := json.Unmarshal(b, &h); err != nil {
		return History{}, fmt.Errorf("attempts: attempt history %s: %w", name, err)
	}
	return h, h.Validate()
}

// Socket is the path of the local API socket.
func (s *Supervisor) Socket() string { return filepath.Join(s.cfg.Dir, "rm.sock") }

// Containers returns the container manager (for status and tests).
func (s *Supervisor) Containers() *containers.Manager { return s.cm }

// Policy returns the restart policy (for status).
func (s *Supervisor) Policy() *Policy { return s.policy }

// AMPID returns the PID of the running AM attempt, 0 when none.
func (s *Supervisor) AMPID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.amPID
}

// KillAM SIGKILLs the running AM, as a crash would (it counts against the budget):
// for tests and demos.
func (s *Supervisor) KillAM() (int, error) {
	pid := s.AMPID()
	if pid == 0 {
		return 0, errors.New("attempts: kill-am: no AM running")
	}
	return pid, syscall.Kill(pid, syscall.SIGKILL)
}

func (s *Supervisor) amLog(attemptID string) string {
	if attemptID == "" {
		return ""
	}
	return filepath.Join(s.cfg.Dir, "attempts", attemptID, "am.log")
}

// Preempt kills the running AM as preempted: the exit does not count against
// the budget (YARN's PREEMPTED).
func (s *Supervisor) Preempt() error {
	s.mu.Lock()
	pid := s.amPID
	s.preempt = true
	s.mu.Unlock()
	if pid == 0 {
		return errors.New("attempts: preempt: no AM running")
	}
	return syscall.Kill(pid, syscall.SIGKILL)
}

// Run runs attempts until the application ends (the AM finished it, or the budget
// ran out) or ctx ends (the application is stopped: the AM is asked to finish,
// containers are stopped, HA data is kept). It always stops every container.
func (s *Supervisor) Run(ctx context.Context) (Outcome, error) {
	defer s.cm.Close()
	l, err := rmapi.Listen(s.Socket())
	if err != nil {
		return Outcome{}, err
	}
	serveCtx, stopServe := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- rmapi.Serve(serveCtx, l, s, s.log) }()
	defer func() { stopServe(); <-served }()

	// The control socket (status, stop, kill-am) lives as long as Run; a stop
	// request cancels the attempts the way a signal does.
	ctx, requestStop := context.WithCancel(ctx)
	defer requestStop()
	controlCtx, stopControl := context.WithCancel(context.Background())
	controlled := make(chan error, 1)
	go func() { controlled <- s.serveControl(controlCtx, requestStop) }()
	defer func() { stopControl(); <-controlled }()

	events, cancelEvents := s.cm.Subscribe()
	defer cancelEvents()
	go s.collect(events)

	for {
		if d, ended := s.policy.Ended(); ended {
			return s.end(d)
		}
		attempt := s.policy.NextAttempt()
		exit, err := s.runAttempt(ctx, attempt)
		if err != nil {
			return Outcome{}, err
		}
		d, err := s.policy.Decide(exit)
		if err != nil {
			return Outcome{}, err
		}
		s.log.Info().EmbedObject(d).Str(logging.AttemptID, exit.AttemptID).Str("exit", string(exit.Kind)).
			Int("exit_code", exit.ExitCode).Str("signal", exit.Signal).Msg("attempt ended")
		if err := s.saveHistory(); err != nil {
			s.log.Error().Err(err).Msg("cannot save the attempt history")
		}
		if !d.Restart || ctx.Err() != nil {
			return s.end(d)
		}
		mode := s.cfg.Containers
		if err := s.cm.OnAttemptEnded(context.Background(), mode); err != nil {
			s.log.Warn().Err(err).Msg("containers after the attempt")
		}
	}
}

func (s *Supervisor) end(d Decision) (Outcome, error) {
	stop, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.cm.StopAll(stop); err != nil {
		s.log.Warn().Err(err).Msg("stopping containers")
	}
	s.log.Info().EmbedObject(d).Msg("application ended")
	return Outcome{Decision: d, History: s.policy.History()}, nil
}

func (s *Supervisor) saveHistory() error {
	if s.cfg.History == nil {
		return nil
	}
	b, err := json.MarshalIndent(s.policy.History(), "", "  ")
	if err != nil {
		return err
	}
	_, err = hdfsstore.PutBytes(context.Background(), s.cfg.History, s.cfg.HistoryName, b)
	return err
}

// attemptID is YARN's appattempt_<ts>_<seq>_<N %06d>.
func (s *Supervisor) attemptIDOf(n int) string {
	return fmt.Sprintf("appattempt_%d_%04d_%06d", s.cfg.App.ClusterTimestamp, s.cfg.App.Seq, n)
}

// runAttempt starts one AM process and waits for it to exit (or stops it when
// ctx ends).
func (s *Supervisor) runAttempt(ctx context.Context, n int) (Exit, error) {
	id := s.attemptIDOf(n)
	dir := filepath.Join(s.cfg.Dir, "attempts", id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Exit{}, fmt.Errorf("attempts: attempt directory: %w", err)
	}
	logf, err := os.OpenFile(s.amLog(id), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return Exit{}, fmt.Errorf("attempts: AM log: %w", err)
	}
	defer logf.Close()
	args := append([]string{"am",
		"--attempt", strconv.Itoa(n), "--attempt-id", id, "--rm-socket", s.Socket(),
		"--application-id", s.cfg.App.String(),
		"--taskmanagers", strconv.Itoa(s.cfg.TaskManagers),
		"--tm-memory", strconv.FormatInt(s.cfg.TaskManagerMemory, 10),
		"--slots", strconv.Itoa(s.cfg.Slots)}, s.cfg.ProcessArgs...)
	cmd := exec.Command(s.cfg.Executable, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = dir
	// Its own process group; it dies with the supervisor.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	start := s.cfg.Clock.Now()

	s.mu.Lock()
	s.attempt, s.attemptID, s.registered, s.finished, s.session, s.preempt = n, id, false, nil, nil, false
	s.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return Exit{}, fmt.Errorf("attempts: start attempt %s: %w", id, err)
	}
	s.mu.Lock()
	s.amPID = cmd.Process.Pid
	s.mu.Unlock()
	s.log.Info().Str(logging.AttemptID, id).Int(logging.Attempt, n).Int(logging.PID, cmd.Process.Pid).
		Int("max_attempts", s.cfg.Budget.MaxAttempts).Msg("attempt started")

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var werr error
	stopped := false
	select {
	case werr = <-waited:
	case <-ctx.Done():
		// Stop the application: ask the AM to finish (SIGTERM), then insist.
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(10 * time.Second)
		select {
		case werr = <-waited:
		case <-t.C:
			_ = cmd.Process.Kill()
			werr = <-waited
		}
		t.Stop()
	}
	s.mu.Lock()
	s.amPID = 0
	finished, preempted := s.finished, s.preempt
	s.mu.Unlock()

	exit := Exit{Kind: ExitFailed, AttemptID: id, Start: start}
	if ps := cmd.ProcessState; ps != nil {
		exit.ExitCode = ps.ExitCode()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			exit.Signal = ws.Signal().String()
		}
	}
	switch {
	case finished != nil:
		exit.Kind, exit.FinalStatus, exit.Diagnostics = ExitFinished, FinalStatus(finished.Status), finished.Diagnostics
	case preempted:
		exit.Kind, exit.Diagnostics = ExitPreempted, "preempted by the supervisor"
	case stopped:
		exit.Kind, exit.Diagnostics = ExitKilledBySupervisor, "the application was stopped"
	default:
		exit.Diagnostics = fmt.Sprintf("the AM exited without FinishApplicationMaster: %v", werr)
	}
	return exit, nil
}

// collect queues completed containers for the next Allocate.
func (s *Supervisor) collect(events <-chan containers.CompletedEvent) {
	for e := range events {
		s.mu.Lock()
		s.completed = append(s.completed, rmapi.CompletedContainer{ID: e.ID.String(), ExitCode: e.ExitCode, Signal: e.Signal, Diagnostics: e.Diagnostics})
		s.mu.Unlock()
	}
}

func (s *Supervisor) current(attemptID string) error {
	if attemptID != s.attemptID || s.amPID == 0 {
		return fmt.Errorf("%w: %s is not the running attempt (%s)", rmapi.ErrStaleAttempt, attemptID, s.attemptID)
	}
	return nil
}

// Register is RegisterApplicationMaster.
func (s *Supervisor) Register(ctx context.Context, req rmapi.RegisterRequest) (rmapi.RegisterResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.current(req.AttemptID); err != nil {
		return rmapi.RegisterResponse{}, err
	}
	s.registered = true
	s.session = req.Session
	var prev []rmapi.Container
	for _, c := range s.cm.Previous(s.attempt) {
		prev = append(prev, toAPI(c))
	}
	return rmapi.RegisterResponse{ApplicationID: s.cfg.App.String(), Attempt: s.attempt,
		MaxAttempts: s.cfg.Budget.MaxAttempts, PreviousContainers: prev}, nil
}

func toAPI(c containers.Container) rmapi.Container {
	return rmapi.Container{ID: c.ID.String(), PID: c.PID, MemoryBytes: c.Memory, Slots: c.Slots, Attempt: c.ID.Attempt, Started: c.Start}
}

// Allocate releases and launches containers and reports completed ones.
func (s *Supervisor) Allocate(ctx context.Context, req rmapi.AllocateRequest) (rmapi.AllocateResponse, error) {
	s.mu.Lock()
	if err := s.current(req.AttemptID); err != nil {
		s.mu.Unlock()
		return rmapi.AllocateResponse{}, err
	}
	if !s.registered {
		s.mu.Unlock()
		return rmapi.AllocateResponse{}, rmapi.ErrNotRegistered
	}
	attempt := s.attempt
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
				Memory: max(ask.MemoryBytes, 128<<20), Slots: ask.Slots,
			})
			if err != nil {
				return res, fmt.Errorf("attempts: launch container: %w", err)
			}
			res.Allocated = append(res.Allocated, toAPI(*c))
		}
	}
	s.mu.Lock()
	res.Completed, s.completed = s.completed, nil
	s.mu.Unlock()
	return res, nil
}

// Finish is FinishApplicationMaster: the attempt's exit will end the application.
func (s *Supervisor) Finish(ctx context.Context, req rmapi.FinishRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.current(req.AttemptID); err != nil {
		return err
	}
	s.finished = &req
	return nil
}

var _ rmapi.ResourceManager = (*Supervisor)(nil)
