package containers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/internal/childproc"
	"github.com/amkeeper/amkeeper/internal/fsutil"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/procid"
)

// Errors returned by Manager, wrapped with the operation and the container ID.
var (
	ErrClosed  = errors.New("containers: manager closed")
	ErrUnknown = errors.New("containers: unknown container")
)

// Environment variables a container process receives on top of LaunchSpec.Env.
// They are appended last, so they win over values of the same name in the spec.
const (
	EnvContainerID = "CONTAINER_ID" // the container ID, YARN's variable name
	EnvLogDirs     = "LOG_DIRS"     // the container's log directory, YARN's variable name
	EnvGoMemLimit  = "GOMEMLIMIT"   // the Go runtime's soft memory limit, in bytes
)

// Files inside a container's directory, <Config.Dir>/containers/<id>/.
const (
	LogFile = "taskmanager.log" // stdout and stderr of the process, appended
	PIDFile = "container.pid"   // the process ID while the process runs
)

const (
	// DefaultStopGrace is Config.StopGrace's default, YARN's
	// yarn.nodemanager.sleep-delay-before-sigkill.ms.
	DefaultStopGrace = 250 * time.Millisecond
	// closeReapWait bounds how long Close waits for processes to be reaped after
	// SIGKILL (a process in uninterruptible sleep may take longer).
	closeReapWait = 5 * time.Second
	// firstSeq is the first TaskManager container's sequence number; 1 is the AM's.
	firstSeq = 2
)

// State is a container's life-cycle state, named as in YARN.
type State string

const (
	Running   State = "RUNNING"
	Completed State = "COMPLETED"
)

// Mode says what happens to running containers when an AM attempt ends.
type Mode int

const (
	// Keep leaves containers running for the next attempt to adopt (YARN ≥ 2.4,
	// keep-containers-across-application-attempts). The zero value.
	Keep Mode = iota
	// RestartAll stops every container so the next attempt starts fresh (YARN 2.3).
	RestartAll
)

func (m Mode) String() string {
	switch m {
	case Keep:
		return "keep"
	case RestartAll:
		return "restart-all"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// Config configures a Manager.
type Config struct {
	// App is the application the containers belong to; it prefixes every ID. Required.
	App AppID
	// Dir is the application directory; container logs and pid files go under
	// Dir/containers/<id>/. Required.
	Dir string
	// StopGrace is how long Stop waits after SIGTERM before SIGKILL.
	// Default DefaultStopGrace.
	StopGrace time.Duration
	// Logger receives one line per launch, exit and stop. Default: no logging. It
	// should carry the app field already (the manager adds container and attempt only).
	Logger *zerolog.Logger
}

// LaunchSpec describes one container to start.
type LaunchSpec struct {
	Attempt int      // the AM attempt allocating the container, ≥ 1; goes into the ID
	Path    string   // executable; resolved through PATH if it has no slash
	Args    []string // arguments after the program name
	// Env is the process environment; nil means the supervisor's environment.
	// EnvContainerID, EnvLogDirs and EnvGoMemLimit are always added.
	Env []string
	// WorkDir is the working directory; default the container's directory.
	WorkDir string
	// Memory is the container's memory in bytes, > 0. GOMEMLIMIT is derived from
	// it (see MemLimit); nothing enforces it as a hard limit.
	Memory int64
	Slots  int // task slots the container offers; informational, ≥ 0
}

// MemLimit returns the GOMEMLIMIT a container of memory bytes gets: the memory minus
// a headroom for what the Go runtime's limit does not count (stacks of threads in
// syscalls, cgo, the binary, page-cache pressure). The headroom is 10% of memory,
// at least 64 MiB and at most 1 GiB (Flink's JVM-overhead rule), but never more than
// half the memory.
func MemLimit(memory int64) int64 {
	const mib = 1 << 20
	h := min(max(memory/10, 64*mib), 1024*mib)
	h = min(h, memory/2)
	return memory - h
}

// Container is a snapshot of one container.
type Container struct {
	ID  ContainerID // ID.Attempt is the allocating attempt
	PID int         // the process ID, also its process group ID
	// StartTicks is the process's start time (procid), which with PID
	// identifies it for a later supervisor. Launch fails (and stops the
	// process) when it cannot read it, so a running container never has 0;
	// an adopted one recorded with 0 is refused (procid.ErrUnverifiable).
	StartTicks uint64
	Start      time.Time
	Memory     int64 // bytes
	Slots      int
	State      State
	Dir        string // <Config.Dir>/containers/<id>
	LogPath    string // Dir/taskmanager.log

	// Set once State is Completed.
	End         time.Time
	ExitCode    int    // the exit code; -1 when a signal ended the process
	Signal      string // the signal that ended the process ("killed", "terminated"), or ""
	Stopped     bool   // ended by Stop, StopAll, RestartAll or Close, not on its own
	Diagnostics string
}

// CompletedEvent reports that a container's process has exited and been reaped;
// it is what the AM's Allocate response carries as a completed container.
type CompletedEvent struct {
	ID          ContainerID
	ExitCode    int    // -1 when a signal ended the process
	Signal      string // "" or the signal's name, e.g. "killed"
	Stopped     bool   // the supervisor stopped it on request (release, restart-all, close)
	Diagnostics string
}

// Manager launches and tracks the TaskManager containers of one application. The
// supervisor process owns it, so containers are children of the supervisor and never
// of an AM. All methods are safe for concurrent use.
type Manager struct {
	app   AppID
	dir   string
	grace time.Duration
	log   zerolog.Logger

	mu      sync.Mutex
	closed  bool
	nextSeq int64
	entries map[ContainerID]*entry
	subs    map[*subscriber]struct{}

	closeOnce sync.Once
	closeErr  error
	// release ends the watch of every adopted container (Release); watching
	// counts the watches still running.
	release  context.Context
	released context.CancelFunc
	watching sync.WaitGroup
}

type entry struct {
	cmd  *exec.Cmd       // nil for an adopted container
	proc *procid.Process // the adopted container's process, else nil
	done chan struct{}   // closed once the process has been reaped and c is final

	// Guarded by Manager.mu.
	c       Container
	exited  bool   // the process has exited: never signal its group again
	stopWhy string // set when a stop was requested
	logFile *os.File
	pidPath string
}

// New returns a Manager for cfg.App. It starts no goroutines.
func New(cfg Config) (*Manager, error) {
	if cfg.Dir == "" {
		return nil, errors.New("containers: Config.Dir is required")
	}
	if cfg.App.ClusterTimestamp <= 0 || cfg.App.Seq <= 0 {
		return nil, fmt.Errorf("containers: Config.App %v is not a valid application ID", cfg.App)
	}
	m := &Manager{
		app:     cfg.App,
		dir:     cfg.Dir,
		grace:   cfg.StopGrace,
		log:     zerolog.Nop(),
		nextSeq: firstSeq,
		entries: map[ContainerID]*entry{},
		subs:    map[*subscriber]struct{}{},
	}
	m.release, m.released = context.WithCancel(context.Background())
	if m.grace <= 0 {
		m.grace = DefaultStopGrace
	}
	if cfg.Logger != nil {
		m.log = *cfg.Logger
	}
	return m, nil
}

// Launch starts a container process and returns its snapshot in state Running.
// The process runs in its own process group with stdin from /dev/null and stdout
// and stderr appended to <Dir>/containers/<id>/taskmanager.log.
func (m *Manager) Launch(ctx context.Context, spec LaunchSpec) (*Container, error) {
	switch {
	case spec.Attempt < 1:
		return nil, fmt.Errorf("containers: launch: attempt %d, must be at least 1", spec.Attempt)
	case spec.Path == "":
		return nil, errors.New("containers: launch: empty Path")
	case spec.Memory <= 0:
		return nil, fmt.Errorf("containers: launch: memory %d bytes, must be positive", spec.Memory)
	case spec.Slots < 0:
		return nil, fmt.Errorf("containers: launch: %d slots, must not be negative", spec.Slots)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("containers: launch: %w", err)
	}

	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, fmt.Errorf("containers: launch: %w", ErrClosed)
	}
	id := ContainerID{App: m.app, Attempt: spec.Attempt, Seq: m.nextSeq}
	m.nextSeq++
	m.mu.Unlock()

	log := m.log.With().Str(logging.Container, id.String()).Int(logging.Attempt, spec.Attempt).Logger()
	dir := filepath.Join(m.dir, "containers", id.String())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("containers: launch %s: %w", id, err)
	}
	logPath := filepath.Join(dir, LogFile)
	lf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("containers: launch %s: open log: %w", id, err)
	}

	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Dir = spec.WorkDir
	if cmd.Dir == "" {
		cmd.Dir = dir
	}
	env := spec.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(slices.Clip(env),
		EnvContainerID+"="+id.String(),
		EnvLogDirs+"="+dir,
		EnvGoMemLimit+"="+strconv.FormatInt(MemLimit(spec.Memory), 10),
	)
	cmd.Stdout = lf // an *os.File goes to the child as is: no copying goroutine
	cmd.Stderr = lf
	// Its own process group, so no signal sent to the supervisor's or an AM's
	// group reaches it; on Linux the kernel kills it when the thread that forks
	// it dies (see startLocked for why that thread lives as long as the container).
	cmd.SysProcAttr = childproc.Outliving(childproc.OwnGroup)

	e := &entry{
		cmd:     cmd,
		done:    make(chan struct{}),
		logFile: lf,
		pidPath: filepath.Join(dir, PIDFile),
		c: Container{
			ID: id, Memory: spec.Memory, Slots: spec.Slots, State: Running,
			Dir: dir, LogPath: logPath,
		},
	}

	// Hold mu across the start so Close cannot miss a container that is starting.
	// The reaper needs mu before it reaps, so it waits for the entry to be registered.
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		lf.Close()
		return nil, fmt.Errorf("containers: launch %s: %w", id, ErrClosed)
	}
	if err := m.startLocked(e, log); err != nil {
		m.mu.Unlock()
		lf.Close()
		return nil, fmt.Errorf("containers: launch %s: %w", id, err)
	}
	m.entries[id] = e
	// Without its start time a later supervisor could not tell this container
	// from a process that reused its PID: one that cannot be read now is
	// stopped, not run unrecorded. (Gone already, it ended: reap reports it.)
	ident, identErr := procid.Of(e.c.PID)
	e.c.StartTicks = ident.StartTicks
	if errors.Is(identErr, procid.ErrNotRunning) {
		identErr = nil
	}
	pidErr := fsutil.WriteFileAtomic(e.pidPath, []byte(strconv.Itoa(e.c.PID)+"\n"), 0o644)
	snap := e.c
	m.mu.Unlock()

	if identErr != nil {
		stopErr := m.stop(context.Background(), e, "no start time")
		return nil, errors.Join(fmt.Errorf("containers: launch %s: no start time, a restarted supervisor could not adopt it: %w", id, identErr), stopErr)
	}
	if pidErr != nil {
		stopErr := m.stop(context.Background(), e, "pid file not written")
		return nil, errors.Join(fmt.Errorf("containers: launch %s: pid file: %w", id, pidErr), stopErr)
	}
	log.Info().Int(logging.PID, snap.PID).Int64("memory", spec.Memory).Int("slots", spec.Slots).
		Str(logging.File, logPath).Msg("container launched")
	return &snap, nil
}

// startLocked starts e's process from a goroutine locked to its OS thread, which then
// reaps it. Called with m.mu held.
//
// Why the locked thread: on Linux the parent-death signal fires when the *thread*
// that forked the child exits, not the process, and the Go runtime ends a thread
// when a goroutine locked to it returns. Forking from a thread that stays blocked in
// wait for the child's whole life means the signal fires only when the supervisor
// process itself dies. The cost is one parked OS thread per container.
func (m *Manager) startLocked(e *entry, log zerolog.Logger) error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread ends with this goroutine, after the child.
		if err := e.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		m.reap(e, log)
	}()
	if err := <-started; err != nil {
		return err
	}
	e.c.PID = e.cmd.Process.Pid
	e.c.Start = time.Now()
	return nil
}

// Adopt takes over a running container that an earlier supervisor launched:
// c.ID, PID, StartTicks, Memory, Slots and Start as that supervisor recorded
// them. The process must still be the one recorded (procid.Verify: same PID and
// start time), else Adopt fails with an error wrapping procid.ErrNotRunning and
// the container is not tracked; with one wrapping procid.ErrUnverifiable when
// that cannot be checked (no descriptor left; no start time recorded, c.StartTicks
// 0, while a process has the PID), as the container may run. An adopted container is not a child: its exit
// is seen through a pidfd and its status is unknown (exit code -1, no signal).
// Later launches get sequence numbers above every adopted one.
func (m *Manager) Adopt(c Container) (*Container, error) {
	if c.ID.App != m.app {
		return nil, fmt.Errorf("containers: adopt %s: not a container of %s", c.ID, m.app)
	}
	p, err := procid.Open(procid.Identity{PID: c.PID, StartTicks: c.StartTicks})
	if err != nil {
		return nil, fmt.Errorf("containers: adopt %s: %w", c.ID, err)
	}
	dir := filepath.Join(m.dir, "containers", c.ID.String())
	e := &entry{proc: p, done: make(chan struct{}), pidPath: filepath.Join(dir, PIDFile),
		c: Container{ID: c.ID, PID: c.PID, StartTicks: c.StartTicks, Start: c.Start, Memory: c.Memory,
			Slots: c.Slots, State: Running, Dir: dir, LogPath: filepath.Join(dir, LogFile)}}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		p.Close()
		return nil, fmt.Errorf("containers: adopt %s: %w", c.ID, ErrClosed)
	}
	if _, dup := m.entries[c.ID]; dup {
		m.mu.Unlock()
		p.Close()
		return nil, fmt.Errorf("containers: adopt %s: already tracked", c.ID)
	}
	m.entries[c.ID] = e
	m.nextSeq = max(m.nextSeq, c.ID.Seq+1)
	snap := e.c
	m.mu.Unlock()
	log := m.log.With().Str(logging.Container, c.ID.String()).Int(logging.Attempt, c.ID.Attempt).Logger()
	m.watching.Add(1)
	go m.reapAdopted(e, log)
	log.Info().Int(logging.PID, c.PID).Msg("container adopted")
	return &snap, nil
}

// reapAdopted waits for an adopted container's process to exit and records it
// as reap does, without an exit status (only its parent could wait for it).
func (m *Manager) reapAdopted(e *entry, log zerolog.Logger) {
	defer m.watching.Done()
	// Wait returns nil at the exit and an error only when m.release ends (a
	// failing poll is not either: it waits on), so an error is the release.
	err := e.proc.Wait(m.release)
	_ = e.proc.Close()
	if err != nil {
		return // released: it keeps running, watched by nobody here
	}
	_ = os.Remove(e.pidPath)
	m.mu.Lock()
	e.exited = true
	c := &e.c
	c.State, c.End, c.ExitCode = Completed, time.Now(), -1
	c.Stopped = e.stopWhy != ""
	c.Diagnostics = fmt.Sprintf("container %s (adopted, not a child: exit status unknown) ended after %v", c.ID, c.End.Sub(c.Start).Round(time.Millisecond))
	if e.stopWhy != "" {
		c.Diagnostics += "; stopped on request: " + e.stopWhy
	}
	ev := CompletedEvent{ID: c.ID, ExitCode: c.ExitCode, Stopped: c.Stopped, Diagnostics: c.Diagnostics}
	for s := range m.subs {
		s.push(ev)
	}
	close(e.done)
	m.mu.Unlock()
	log.Info().Int(logging.PID, c.PID).Bool("stopped", ev.Stopped).Msg(ev.Diagnostics)
}

// reap waits for e's process to exit, kills what is left of its process group, reaps
// it, records the outcome and publishes a CompletedEvent.
func (m *Manager) reap(e *entry, log zerolog.Logger) {
	pid := e.cmd.Process.Pid
	if waitExited(pid) {
		// The leader is a zombie, so its group ID cannot have been reused: kill any
		// process it left behind in its group. A container is its process group.
		m.mu.Lock()
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		e.exited = true
		m.mu.Unlock()
	}
	werr := e.cmd.Wait()
	_ = e.logFile.Close()
	_ = os.Remove(e.pidPath)

	m.mu.Lock()
	e.exited = true
	c := &e.c
	c.State = Completed
	c.End = time.Now()
	c.ExitCode, c.Signal = exitStatus(e.cmd.ProcessState)
	c.Stopped = e.stopWhy != ""
	c.Diagnostics = diagnostics(*c, e.stopWhy, werr)
	ev := CompletedEvent{ID: c.ID, ExitCode: c.ExitCode, Signal: c.Signal, Stopped: c.Stopped, Diagnostics: c.Diagnostics}
	for s := range m.subs {
		s.push(ev)
	}
	close(e.done)
	m.mu.Unlock()

	lv := log.Info()
	if !ev.Stopped && (ev.ExitCode != 0 || ev.Signal != "") {
		lv = log.Warn()
	}
	lv.Int(logging.PID, pid).Int("exit_code", ev.ExitCode).Str("signal", ev.Signal).
		Bool("stopped", ev.Stopped).Dur(logging.Duration, c.End.Sub(c.Start)).Msg(ev.Diagnostics)
}

func exitStatus(ps *os.ProcessState) (code int, signal string) {
	if ps == nil {
		return -1, ""
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -1, ws.Signal().String()
	}
	return ps.ExitCode(), ""
}

func diagnostics(c Container, stopWhy string, werr error) string {
	var s string
	switch {
	case c.Signal != "":
		s = "killed by signal " + c.Signal
	case c.ExitCode >= 0:
		s = "exited with code " + strconv.Itoa(c.ExitCode)
	default:
		s = fmt.Sprintf("ended with unknown status: %v", werr)
	}
	s = fmt.Sprintf("container %s %s after %v", c.ID, s, c.End.Sub(c.Start).Round(time.Millisecond))
	if stopWhy != "" {
		s += "; stopped on request: " + stopWhy
	}
	return s
}

// signalLocked sends sig to e's process group unless the process has exited.
// Called with m.mu held.
func (m *Manager) signalLocked(e *entry, sig syscall.Signal) {
	if e.exited {
		return
	}
	_ = syscall.Kill(-e.c.PID, sig) // ESRCH only if the group is gone
}

// Stop ends a container: SIGTERM (and SIGCONT, in case it is paused) to its process
// group, SIGKILL to the group after Config.StopGrace, and returns once the process has
// been reaped. If ctx ends first, the group is killed at once and Stop returns ctx's
// error without waiting. Stopping a completed container is a no-op. Releasing a
// container is stopping it.
func (m *Manager) Stop(ctx context.Context, id ContainerID) error {
	m.mu.Lock()
	e, ok := m.entries[id]
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("containers: stop %s: %w", id, ErrUnknown)
	}
	return m.stop(ctx, e, "released")
}

func (m *Manager) stop(ctx context.Context, e *entry, why string) error {
	m.mu.Lock()
	if e.exited {
		m.mu.Unlock()
		<-e.done // reaping is under way and does not block
		return nil
	}
	if e.stopWhy == "" {
		e.stopWhy = why
	}
	m.signalLocked(e, syscall.SIGTERM)
	m.signalLocked(e, syscall.SIGCONT)
	id := e.c.ID
	m.mu.Unlock()

	timer := time.NewTimer(m.grace)
	defer timer.Stop()
	select {
	case <-e.done:
		return nil
	case <-timer.C:
		m.log.Info().Str(logging.Container, id.String()).Dur("grace", m.grace).Msg("container ignored SIGTERM; killing")
	case <-ctx.Done():
	}
	m.mu.Lock()
	m.signalLocked(e, syscall.SIGKILL)
	m.mu.Unlock()
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("containers: stop %s: %w", id, ctx.Err())
	}
}

// StopAll stops every running container concurrently, as Stop does.
func (m *Manager) StopAll(ctx context.Context) error {
	return m.stopAll(ctx, "stop all")
}

func (m *Manager) stopAll(ctx context.Context, why string) error {
	m.mu.Lock()
	var run []*entry
	for _, e := range m.entries {
		if e.c.State == Running {
			run = append(run, e)
		}
	}
	m.mu.Unlock()
	errs := make([]error, len(run))
	var wg sync.WaitGroup
	for i, e := range run {
		wg.Go(func() { errs[i] = m.stop(ctx, e, why) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// OnAttemptEnded applies mode once the supervisor has seen an AM attempt end: Keep
// leaves every container running for the next attempt, RestartAll stops them all
// and returns when they are reaped (or ctx ends).
func (m *Manager) OnAttemptEnded(ctx context.Context, mode Mode) error {
	switch mode {
	case Keep:
		running := m.snapshot(func(c *Container) bool { return c.State == Running })
		m.log.Info().Int("running", len(running)).Str("mode", mode.String()).
			Msg("attempt ended; containers kept for the next attempt")
		return nil
	case RestartAll:
		m.log.Info().Str("mode", mode.String()).Msg("attempt ended; stopping every container")
		if err := m.stopAll(ctx, "attempt ended, restart-all mode"); err != nil {
			return fmt.Errorf("containers: restart all: %w", err)
		}
		return nil
	}
	return fmt.Errorf("containers: unknown mode %v", mode)
}

// Previous lists the running containers that attempt did not allocate itself, in
// ID order: what RegisterApplicationMaster returns to that attempt as
// containersFromPreviousAttempts (those of earlier attempts and, with hot standby,
// those of the attempt that led before it).
func (m *Manager) Previous(attempt int) []Container {
	return m.snapshot(func(c *Container) bool { return c.State == Running && c.ID.Attempt != attempt })
}

// List returns every container the Manager launched, running or completed, in ID order.
func (m *Manager) List() []Container {
	return m.snapshot(func(*Container) bool { return true })
}

// Get returns the container with the given ID.
func (m *Manager) Get(id ContainerID) (Container, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[id]
	if !ok {
		return Container{}, false
	}
	return e.c, true
}

func (m *Manager) snapshot(keep func(*Container) bool) []Container {
	m.mu.Lock()
	out := make([]Container, 0, len(m.entries))
	for _, e := range m.entries {
		if keep(&e.c) {
			out = append(out, e.c)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Container) int { return cmp.Compare(a.ID.Seq, b.ID.Seq) })
	return out
}

// Release lets every container go without a signal, for a supervisor that
// ends without ending the application (its start failed): they keep running
// for a later supervisor to adopt. The watch of every adopted container ends
// (its pidfd is closed) before Release returns; a launched container, a child
// of this process, is still reaped if it exits while this process lives, but
// no completion is published any more. Subscriptions are closed, later
// Launches and Adopts fail with ErrClosed, and a later Close stops nothing.
// Release and Close are idempotent; whichever comes first decides.
func (m *Manager) Release() {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closed = true
		n := 0
		for _, e := range m.entries {
			if e.c.State == Running {
				n++
			}
		}
		for s := range m.subs {
			s.finish()
		}
		m.mu.Unlock()
		m.released()
		m.watching.Wait()
		m.log.Info().Int("running", n).Msg("containers released: left running, unwatched")
	})
}

// Close stops every container as StopAll does, bounded by Config.StopGrace plus a few
// seconds for reaping, then closes every subscription once its queued events have been
// delivered. Later Launches fail with ErrClosed. Close is idempotent; every call
// returns the first call's result.
func (m *Manager) Close() error {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closed = true
		m.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), m.grace+closeReapWait)
		defer cancel()
		if err := m.stopAll(ctx, "manager closed"); err != nil {
			m.closeErr = fmt.Errorf("containers: close: %w", err)
		}
		m.released() // an adopted container that outlived the stop is no longer watched
		m.watching.Wait()
		m.mu.Lock()
		for s := range m.subs {
			s.finish()
		}
		m.mu.Unlock()
	})
	return m.closeErr
}
