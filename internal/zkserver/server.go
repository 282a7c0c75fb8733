package zkserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/fsutil"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/privdir"
)

// Defaults for Options and StopOptions.
const (
	DefaultStartTimeout = 60 * time.Second
	DefaultStopGrace    = 10 * time.Second
	// killWait bounds the wait for a process to vanish after SIGKILL.
	killWait = 5 * time.Second
	// startAttempts is how often Start picks new free ports after losing a port race.
	startAttempts = 3
	// tailLines is how many log lines a start failure reports.
	tailLines = 30
	// fieldServer is the log field for a server's name.
	fieldServer = "zk_server"
)

// EnvHome names the variable whose zookeeper/ subdirectory is the default run directory.
const EnvHome = privdir.EnvHome

var (
	// ErrRunning is returned by Start when a server of the run directory already runs.
	ErrRunning = errors.New("zkserver: already running")
	// ErrNotOurs is returned by Stop for a pid file whose pid is alive but is not the
	// ZooKeeper server started from that directory (the pid was reused); the process
	// is not signalled.
	ErrNotOurs = errors.New("zkserver: pid is not our ZooKeeper server")
)

// DefaultRunDir returns the zookeeper/ subdirectory of the per-user directory
// privdir.Home names ($AMKEEPER_HOME, $XDG_RUNTIME_DIR/amkeeper or
// <temp dir>/amkeeper-<user>).
func DefaultRunDir() string { return filepath.Join(privdir.Home(), "zookeeper") }

// Options configure Start.
type Options struct {
	// RunDir holds one directory per server (required; see DefaultRunDir).
	RunDir string
	// FreePort gives every started server a free client port on its
	// clientPortAddress instead of zoo.cfg's clientPort. clientPort=0 in zoo.cfg
	// means the same. Default: zoo.cfg's clientPort, else DefaultClientPort.
	FreePort bool
	// Timeout bounds the whole start, until every server serves (default
	// DefaultStartTimeout).
	Timeout time.Duration
	// Installation to run; nil means Locate's.
	Installation *Installation
	// JVMFlags are added to every server's java command line, before the
	// classpath: -D properties zoo.cfg cannot carry, such as
	// -Djava.security.auth.login.config for SASL (ZooKeeper's SERVER_JVMFLAGS).
	JVMFlags []string
	// Logger receives start and stop events (default: none).
	Logger zerolog.Logger
	// Local picks the server.X lines this machine runs (nil: those on localhost
	// or a loopback address); the others are skipped.
	Local func(conf.ZooServer) bool
}

// Server is one server in a run directory.
type Server struct {
	Name string // "standalone" or "server.<myid>"
	Dir  string // its directory: zoo.cfg, zookeeper.log, zookeeper.pid
	Addr string // client address, host:port
	PID  int    // 0 when unknown

	pidErr error       // the pid file exists but holds no pid
	tls    *tls.Config // a TLS-only server: how to probe it
}

// Secure reports whether the server is TLS-only: Addr is its secureClientPort.
func (s Server) Secure() bool { return s.tls != nil }

// LogPath returns the server's log file: the JVM's output and its log4j log.
func (s Server) LogPath() string { return filepath.Join(s.Dir, logFile) }

// Started is the result of Start.
type Started struct {
	Servers []Server // started, in zoo.cfg order
	Skipped []string // server.X lines on other hosts, as "server.X (host)"
}

// ConnectString returns the started servers' client addresses joined by commas, as
// high-availability.zookeeper.quorum expects.
func (s *Started) ConnectString() string { return connectString(s.Servers) }

func connectString(servers []Server) string {
	addrs := make([]string, len(servers))
	for i, s := range servers {
		addrs[i] = s.Addr
	}
	return strings.Join(addrs, ",")
}

// Start starts the servers of cfg that run on this machine (every server.X
// Options.Local picks, by default those on localhost or a loopback address; one
// standalone server when there are no server.X lines) and returns once all of
// them serve. The servers keep running after the caller exits; stop them with
// Stop. cfg is not modified.
func Start(ctx context.Context, cfg *conf.ZooCfg, o Options) (*Started, error) {
	if o.RunDir == "" {
		return nil, errors.New("zkserver: start: no run directory")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultStartTimeout
	}
	runDir, err := filepath.Abs(o.RunDir)
	if err != nil {
		return nil, fmt.Errorf("zkserver: start: %w", err)
	}
	inst := o.Installation
	if inst == nil {
		found, err := Locate()
		if err != nil {
			return nil, err
		}
		inst = &found
	}
	members, skipped, err := plan(cfg, runDir, o.FreePort, o.Local)
	if err != nil {
		return nil, err
	}
	if members[0].tls != nil && !inst.TLS {
		return nil, fmt.Errorf("%w: %s asks for a TLS server (%s), which needs %s in %s (%s), or set %s",
			ErrNotInstalled, cfg.Path, KeySecureClientPort, strings.Join(nettyJars, " and "), debianJavaDir, nettyHint, ClasspathEnv)
	}
	for _, m := range members {
		if pid, err := readPID(m.dir); err == nil && inspect(pid, m.dir) == procOurs {
			return nil, fmt.Errorf("%w: %s (pid %d, %s); stop it first", ErrRunning, m.name, pid, m.dir)
		}
	}

	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	begin := time.Now()
	for attempt := 1; ; attempt++ {
		err = startAll(ctx, cfg, *inst, members, o.JVMFlags, o.Logger)
		if err == nil {
			break
		}
		if errors.Is(err, ErrPortTaken) && attempt < startAttempts && anyFree(members) {
			o.Logger.Warn().Err(err).Int("start_try", attempt).Msg("zookeeper port taken; retrying with new ports")
			continue
		}
		return nil, err
	}
	res := &Started{Skipped: skipped}
	for _, m := range members {
		res.Servers = append(res.Servers, Server{Name: m.name, Dir: m.dir, Addr: m.addr(), PID: m.pid, tls: m.tls})
	}
	logging.Since(o.Logger.Info(), begin).Str("connect", res.ConnectString()).
		Str(logging.File, runDir).Msg("zookeeper serving")
	return res, nil
}

// ErrPortTaken marks a start that failed because a port was already bound.
var ErrPortTaken = errors.New("zkserver: port already in use")

func anyFree(members []*member) bool {
	for _, m := range members {
		if m.free {
			return true
		}
	}
	return false
}

// startAll picks free ports, writes every server's files, launches the JVMs and waits
// until all serve. On failure it kills what it launched.
func startAll(ctx context.Context, cfg *conf.ZooCfg, inst Installation, members []*member, jvmFlags []string, log zerolog.Logger) (err error) {
	if err := pickPorts(members); err != nil {
		return err
	}
	for _, m := range members {
		if err := prepare(cfg, inst, m, log); err != nil {
			return err
		}
	}
	var launched []*child
	defer func() {
		if err != nil {
			for i, c := range launched {
				killChild(c)
				_ = os.Remove(filepath.Join(members[i].dir, pidFile))
			}
		}
	}()
	logStart := make([]int64, len(members))
	for i, m := range members {
		if fi, err := os.Stat(filepath.Join(m.dir, logFile)); err == nil {
			logStart[i] = fi.Size()
		}
		c, err := launch(inst, m, jvmFlags)
		if err != nil {
			return err
		}
		launched = append(launched, c)
		m.pid = c.pid
		log.Debug().Str(fieldServer, m.name).Int(logging.PID, c.pid).Str(logging.Addr, m.addr()).Msg("zookeeper starting")
	}
	for i, m := range members {
		c := launched[i]
		if err := WaitServing(ctx, Starting{Name: m.name, Addr: m.addr(), TLS: m.tls, LogPath: filepath.Join(m.dir, logFile), LogStart: logStart[i],
			Exited: c.exited, ExitStatus: func() string { return fmt.Sprint(c.state) }, Serving: serving}); err != nil {
			return err
		}
	}
	return nil
}

// pickPorts gives every member that wants a free port one; all listeners stay open
// until the last port is picked, so the ports are distinct.
func pickPorts(members []*member) error {
	var open []net.Listener
	defer func() {
		for _, l := range open {
			_ = l.Close()
		}
	}()
	for _, m := range members {
		if !m.free {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(m.address, "0"))
		if err != nil {
			return fmt.Errorf("zkserver: pick a free port on %s: %w", m.address, err)
		}
		open = append(open, l)
		m.clientPort = l.Addr().(*net.TCPAddr).Port
	}
	return nil
}

// prepare writes a server's directory: data directory (with myid in an ensemble),
// zoo.cfg and log4j.properties. The server's directory (its log), its data
// directory and its transaction log directory are private (0700): the snapshots and
// the transaction log hold every znode — leader sessions, checkpoint paths, digest
// ACLs — and the log names sessions and clients.
func prepare(cfg *conf.ZooCfg, inst Installation, m *member, log zerolog.Logger) error {
	dirs := []struct{ what, path string }{{"server directory", m.dir}, {"data directory", m.dataDir}}
	if m.dataLogDir != "" {
		dirs = append(dirs, struct{ what, path string }{"transaction log directory (dataLogDir)", m.dataLogDir})
	}
	for _, d := range dirs {
		made, err := privdir.EnsureTightened(d.path)
		if err != nil {
			return fmt.Errorf("zkserver: %s of %s: %w", d.what, m.name, err)
		}
		if made {
			log.Warn().Str(fieldServer, m.name).Str(logging.File, d.path).
				Msg("the ZooKeeper " + d.what + " was open to other users: made it private (mode 700)")
		}
	}
	files := map[string]string{filepath.Join(m.dir, cfgFile): render(cfg, m)}
	if m.ensemble {
		files[filepath.Join(m.dataDir, "myid")] = strconv.FormatInt(m.id, 10) + "\n"
	}
	if inst.Log4j {
		files[filepath.Join(m.dir, log4jFile)] = Log4jProperties(filepath.Join(m.dir, logFile))
	}
	for p, content := range files {
		if err := fsutil.WriteFileAtomic(p, []byte(content), 0o644); err != nil {
			return fmt.Errorf("zkserver: %w", err)
		}
	}
	return nil
}

// Starting is a server process being started, as WaitServing watches it.
type Starting struct {
	Name, Addr string            // for errors: "server.1", "127.0.0.1:2181"
	LogPath    string            // the server's log file
	LogStart   int64             // its size when this process started
	Exited     <-chan struct{}   // closed when the process has ended
	ExitStatus func() string     // how it ended, once Exited is closed
	Serving    func(string) bool // whether a srvr mode means serving
	TLS        *tls.Config       // set: srvr goes over TLS (a TLS-only server)
}

// WaitServing polls srvr at s.Addr until the server serves, its process exits, or
// ctx ends. A failure carries the tail of the log and wraps ErrPortTaken when this
// run's part of the log says a port was taken.
func WaitServing(ctx context.Context, s Starting) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	begin := time.Now()
	last := "no answer yet"
	for {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		mode, err := ModeTLS(actx, s.Addr, s.TLS)
		cancel()
		switch {
		case err == nil && s.Serving(mode):
			return nil
		case err == nil:
			last = "mode " + mode
		default:
			last = err.Error()
		}
		select {
		case <-s.Exited:
			return s.failure(fmt.Sprintf("exited while starting (%s)", s.ExitStatus()))
		case <-ctx.Done():
			return s.failure(fmt.Sprintf("not serving after %v (%v; last srvr: %s)",
				time.Since(begin).Round(time.Millisecond), ctx.Err(), last))
		case <-tick.C:
		}
	}
}

func (s Starting) failure(what string) error {
	err := fmt.Errorf("zkserver: %s (%s) %s; last lines of %s:\n%s", s.Name, s.Addr, what, s.LogPath, LogTail(s.LogPath, tailLines))
	if f, ferr := os.Open(s.LogPath); ferr == nil {
		defer f.Close()
		if _, serr := f.Seek(s.LogStart, io.SeekStart); serr == nil {
			if b, _ := io.ReadAll(f); strings.Contains(string(b), "Address already in use") {
				return fmt.Errorf("%w: %w", ErrPortTaken, err)
			}
		}
	}
	return err
}

// killChild kills a JVM this process launched and waits, bounded, until it is reaped.
func killChild(c *child) {
	if p, err := os.FindProcess(c.pid); err == nil {
		_ = p.Kill()
		p.Release()
	}
	timer := time.NewTimer(killWait)
	defer timer.Stop()
	select {
	case <-c.exited:
	case <-timer.C:
	}
}

// Outcome says what Stop did with one server.
type Outcome string

// Stop outcomes.
const (
	OutcomeStopped    Outcome = "stopped"     // exited after SIGTERM
	OutcomeKilled     Outcome = "killed"      // needed SIGKILL after the grace period
	OutcomeNotRunning Outcome = "not running" // no pid file
	OutcomeStale      Outcome = "stale"       // the pid file's process was gone; file removed
	OutcomeRefused    Outcome = "refused"     // the pid is another program's; not signalled
	OutcomeFailed     Outcome = "failed"      // signalling or waiting failed
)

// StopResult is what Stop did with one server.
type StopResult struct {
	Server
	Outcome Outcome
	Err     error // for OutcomeRefused and OutcomeFailed
}

// StopOptions configure Stop.
type StopOptions struct {
	Grace  time.Duration // wait after SIGTERM before SIGKILL (default DefaultStopGrace)
	Logger zerolog.Logger
	// Only picks the recorded servers to stop by name ("server.2"; nil: all).
	Only func(name string) bool
}

// Stop stops every server recorded in runDir. A missing or empty run directory means
// nothing to stop. If ctx ends while a server is given its grace period, it is killed
// at once. The error joins the per-server errors (errors.Is(err, ErrNotOurs)
// for a refused pid); the results are complete either way.
func Stop(ctx context.Context, runDir string, o StopOptions) ([]StopResult, error) {
	if o.Grace <= 0 {
		o.Grace = DefaultStopGrace
	}
	servers, err := recorded(runDir)
	if err != nil {
		return nil, err
	}
	var results []StopResult
	var errs []error
	for _, s := range servers {
		if o.Only != nil && !o.Only(s.Name) {
			continue
		}
		r := StopResult{Server: s, Outcome: OutcomeNotRunning}
		if s.pidErr != nil {
			r.Outcome, r.Err = OutcomeRefused, fmt.Errorf("%w; not signalling anything", s.pidErr)
		} else if s.PID != 0 {
			r.Outcome, r.Err = stopOne(ctx, s, o.Grace)
		}
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", s.Name, s.Dir, r.Err))
		}
		if r.Outcome == OutcomeStopped || r.Outcome == OutcomeKilled {
			o.Logger.Info().Str(fieldServer, s.Name).Int(logging.PID, s.PID).Str(logging.Reason, string(r.Outcome)).Msg("zookeeper stopped")
		}
		results = append(results, r)
	}
	return results, errors.Join(errs...)
}

func stopOne(ctx context.Context, s Server, grace time.Duration) (Outcome, error) {
	pidPath := filepath.Join(s.Dir, pidFile)
	switch inspect(s.PID, s.Dir) {
	case procGone:
		if err := os.Remove(pidPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return OutcomeFailed, fmt.Errorf("zkserver: remove stale pid file: %w", err)
		}
		return OutcomeStale, nil
	case procForeign:
		return OutcomeRefused, fmt.Errorf("%w: pid %d from %s is another program (%s); not signalling it. If the server is gone, remove the pid file",
			ErrNotOurs, s.PID, pidPath, cmdlineSummary(s.PID))
	}
	killed, err := terminate(ctx, s.PID, s.Dir, grace, killWait)
	if errors.Is(err, ErrNotOurs) {
		return OutcomeRefused, err
	}
	if err != nil {
		return OutcomeFailed, err
	}
	if err := os.Remove(pidPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return OutcomeFailed, fmt.Errorf("zkserver: remove pid file: %w", err)
	}
	if killed {
		return OutcomeKilled, nil
	}
	return OutcomeStopped, nil
}

// cmdlineSummary returns the start of a process's command line, for messages.
func cmdlineSummary(pid int) string {
	b, err := cmdline(pid)
	if err != nil {
		return "command line unreadable"
	}
	s := strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

// State is a recorded server's process state.
type State string

// Server states.
const (
	StateRunning State = "running" // the pid file's process is our server
	StateStopped State = "stopped" // no pid file
	StateStale   State = "stale"   // a pid file whose process is gone
	StateForeign State = "foreign" // a pid file whose pid another program now has
	StateInvalid State = "invalid" // a pid file that holds no pid
)

// Status is one recorded server's state.
type Status struct {
	Server
	State State
	Mode  string // srvr mode when running: standalone, leader, follower, observer; or why none
}

// StatusOf lists the servers recorded in runDir with their states, asking running
// ones for their mode within ctx (each at most a second). A missing run directory
// lists nothing.
func StatusOf(ctx context.Context, runDir string) ([]Status, error) {
	servers, err := recorded(runDir)
	if err != nil {
		return nil, err
	}
	out := make([]Status, 0, len(servers))
	for _, s := range servers {
		st := Status{Server: s, State: StateStopped}
		if s.pidErr != nil {
			st.State, st.Mode = StateInvalid, s.pidErr.Error()
		} else if s.PID != 0 {
			switch inspect(s.PID, s.Dir) {
			case procOurs:
				st.State = StateRunning
				mctx, cancel := context.WithTimeout(ctx, time.Second)
				mode, err := ModeTLS(mctx, s.Addr, s.tls)
				cancel()
				if err != nil {
					mode = "not serving: " + err.Error()
				}
				st.Mode = mode
			case procGone:
				st.State = StateStale
			default:
				st.State = StateForeign
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// recorded lists the server directories of runDir (standalone, server-<myid>) that
// hold an effective zoo.cfg, with their client addresses and pids (0 without a pid
// file).
func recorded(runDir string) ([]Server, error) {
	abs, err := filepath.Abs(runDir)
	if err != nil {
		return nil, fmt.Errorf("zkserver: run directory: %w", err)
	}
	entries, err := os.ReadDir(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("zkserver: read run directory: %w", err)
	}
	var out []Server
	for _, e := range entries {
		name := e.Name()
		id, isMember := strings.CutPrefix(name, "server-")
		if !e.IsDir() || !(name == standaloneName || isMember && id != "") {
			continue
		}
		dir := filepath.Join(abs, name)
		cfg, err := conf.ParseZooCfg(filepath.Join(dir, cfgFile))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("zkserver: %s: %w", dir, err)
		}
		m := member{address: cfg.ClientPortAddress, clientPort: cfg.ClientPort}
		if secure, port, err := secureOf(cfg); err == nil && secure {
			m.address, m.clientPort = cfg.Other[KeySecureClientPortAddress], port
			if m.tls, err = probeTLS(cfg); err != nil {
				return nil, err
			}
		}
		s := Server{Name: standaloneName, Dir: dir, Addr: m.addr(), tls: m.tls}
		if isMember {
			s.Name = "server." + id
		}
		pid, err := readPID(dir)
		switch {
		case err == nil:
			s.PID = pid
		case !errors.Is(err, fs.ErrNotExist):
			s.pidErr = err
		}
		out = append(out, s)
	}
	return out, nil
}
