package zktest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/privdir"
	"github.com/amkeeper/amkeeper/internal/zkserver"
)

const (
	// stopGrace bounds how long Stop waits after SIGTERM before it sends SIGKILL.
	stopGrace = 5 * time.Second
	// pauseTimeout bounds how long Pause waits for the JVM to be stopped.
	pauseTimeout = 5 * time.Second
	// fieldServer is the log field for a server's myid.
	fieldServer = "zk_server"
)

// Server is one ZooKeeper server process of a Cluster. Its methods are safe for
// concurrent use; the state-changing ones (Stop, Kill, Pause, Resume, Restart) each
// return once the change has happened.
type Server struct {
	c   *Cluster
	id  int
	dir string

	mu                              sync.Mutex
	clientPort, peerPort, electPort int
	proc                            *process
	paused                          bool
	logStart                        int64 // size of the log when the current process started
}

// ID returns the server's myid (1-based).
func (s *Server) ID() int { return s.id }

// Addr returns the server's client address, 127.0.0.1:port (its host's address
// under WithHosts). It stays the same across Stop, Kill and Restart.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return net.JoinHostPort(s.host(), strconv.Itoa(s.clientPort))
}

// host is the address the server listens on: its host's, or loopback.
func (s *Server) host() string {
	if h := s.c.opts.hosts; len(h) > 0 {
		return h[s.id-1].Address()
	}
	return "127.0.0.1"
}

// Dir returns the server's directory: zoo.cfg, log4j.properties, zookeeper.log and data/.
func (s *Server) Dir() string { return s.dir }

// LogPath returns the server's log file (the JVM's output and, with log4j, its log).
func (s *Server) LogPath() string { return filepath.Join(s.dir, "zookeeper.log") }

// PID returns the JVM's process ID, or 0 if the server is not running.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || !s.proc.running() {
		return 0
	}
	return s.proc.pid()
}

// Running reports whether the JVM is alive (a paused JVM is alive).
func (s *Server) Running() bool { return s.PID() != 0 }

// Mode asks the server with the srvr command and returns its mode: "standalone",
// "leader", "follower" or "observer". It returns ErrNotServing while the server runs
// but does not serve, and an error wrapping ctx's error if ctx ends first (as it will
// while the server is paused).
func (s *Server) Mode(ctx context.Context) (string, error) {
	return zkserver.ModeTLS(ctx, s.Addr(), s.c.tls)
}

// Conn returns a go-zookeeper connection to this server only, with a session; see
// Cluster.Conn.
func (s *Server) Conn(t testing.TB) *zk.Conn {
	t.Helper()
	return s.c.connect(t, []string{s.Addr()})
}

// Stop stops the server gracefully: SIGTERM (and SIGCONT, should it be paused), then
// SIGKILL if it has not exited within 5 s. It returns once the process has been
// reaped. Stopping a server that is not running does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || !s.proc.running() {
		return nil
	}
	begin := time.Now()
	err := s.proc.terminate(stopGrace)
	s.paused = false
	if err != nil {
		return fmt.Errorf("zktest: stop server %d: %w", s.id, err)
	}
	logging.Since(s.c.log.Info(), begin).Int(fieldServer, s.id).Msg("zookeeper stopped")
	return nil
}

// Kill sends SIGKILL and returns once the process has been reaped: a crash, as far as
// clients and peers can tell. Killing a server that is not running does nothing.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || !s.proc.running() {
		return nil
	}
	err := s.proc.kill()
	s.paused = false
	if err != nil {
		return fmt.Errorf("zktest: kill server %d: %w", s.id, err)
	}
	s.c.log.Info().Int(fieldServer, s.id).Msg("zookeeper killed")
	return nil
}

// Pause freezes the server with SIGSTOP and returns once all its threads are stopped.
// Its sockets stay open, so clients see a server that accepts connections but never
// answers: the way a long GC pause or a hung host looks. Call Resume to continue.
func (s *Server) Pause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || !s.proc.running() {
		return fmt.Errorf("zktest: pause server %d: not running", s.id)
	}
	if err := s.proc.signal(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("zktest: pause server %d: %w", s.id, err)
	}
	s.paused = true
	ctx, cancel := context.WithTimeout(context.Background(), pauseTimeout)
	defer cancel()
	if err := waitStopped(ctx, s.proc.pid()); err != nil {
		return fmt.Errorf("zktest: pause server %d: %w", s.id, err)
	}
	s.c.log.Info().Int(fieldServer, s.id).Msg("zookeeper paused")
	return nil
}

// Resume continues a paused server with SIGCONT. Resuming a server that is not
// paused does nothing.
func (s *Server) Resume() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || !s.proc.running() || !s.paused {
		return nil
	}
	if err := s.proc.signal(syscall.SIGCONT); err != nil {
		return fmt.Errorf("zktest: resume server %d: %w", s.id, err)
	}
	s.paused = false
	s.c.log.Info().Int(fieldServer, s.id).Msg("zookeeper resumed")
	return nil
}

// Restart stops the server if it runs (as Stop does), starts it again on the same
// ports with the same data directory, and returns once it serves again (for an
// ensemble member: once it has rejoined as leader or follower).
func (s *Server) Restart() error {
	if err := s.Stop(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.c.opts.startTimeout)
	defer cancel()
	if err := s.start(); err != nil {
		return err
	}
	return s.waitServing(ctx)
}

// LogTail returns the last n lines of the server's log.
func (s *Server) LogTail(n int) string { return zkserver.LogTail(s.LogPath(), n) }

func (s *Server) setPorts(client, peer, election int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clientPort, s.peerPort, s.electPort = client, peer, election
}

// prepare writes the server's directory from scratch: data/ (with myid in an
// ensemble), zoo.cfg and log4j.properties.
func (s *Server) prepare() error {
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("zktest: clean %s: %w", s.dir, err)
	}
	// Private, as `yarn-session zookeeper start` makes them: the snapshots and the
	// transaction log hold every znode.
	data := filepath.Join(s.dir, "data")
	for _, d := range []string{s.dir, data} {
		if err := privdir.Ensure(d); err != nil {
			return fmt.Errorf("zktest: %w", err)
		}
	}
	files := map[string]string{"zoo.cfg": s.c.zooCfg(s)}
	if len(s.c.servers) > 1 {
		files[filepath.Join("data", "myid")] = strconv.Itoa(s.id) + "\n"
	}
	if s.c.inst.Log4j {
		files["log4j.properties"] = zkserver.Log4jProperties(s.LogPath())
	}
	for name, content := range files {
		path := filepath.Join(s.dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return fmt.Errorf("zktest: write %s: %w", path, err)
		}
	}
	return nil
}

// zooCfg renders zoo.cfg for s.
func (c *Cluster) zooCfg(s *Server) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# written by zktest")
	line("tickTime=%d", c.opts.tickTime.Milliseconds())
	line("dataDir=%s", filepath.Join(s.dir, "data"))
	if c.tls != nil {
		for _, l := range c.opts.tlsLines(s.clientPort) {
			line("%s", l)
		}
	} else {
		line("clientPort=%d", s.clientPort)
		line("clientPortAddress=%s", s.host())
	}
	line("admin.enableServer=false")
	line("4lw.commands.whitelist=*")
	line("maxClientCnxns=0")
	if c.opts.forceSync {
		line("forceSync=yes")
	} else {
		line("forceSync=no")
	}
	if len(c.servers) > 1 {
		line("initLimit=10")
		line("syncLimit=5")
		for _, peer := range c.servers {
			line("server.%d=%s:%d:%d", peer.id, peer.host(), peer.peerPort, peer.electPort)
		}
	}
	for _, l := range c.opts.extra {
		line("%s", l)
	}
	return b.String()
}

// start launches the JVM; the caller waits with waitServing.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil && s.proc.running() {
		return fmt.Errorf("zktest: start server %d: already running", s.id)
	}
	logf, err := os.OpenFile(s.LogPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("zktest: open server log: %w", err)
	}
	defer logf.Close() // the child has its own descriptor once started
	if fi, err := logf.Stat(); err == nil {
		s.logStart = fi.Size()
	}
	fmt.Fprintf(logf, "=== zktest: starting server %d on %s at %s\n",
		s.id, net.JoinHostPort(s.host(), strconv.Itoa(s.clientPort)), time.Now().Format(time.RFC3339Nano))

	mainClass := "org.apache.zookeeper.server.ZooKeeperServerMain"
	if len(s.c.servers) > 1 {
		mainClass = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
	}
	cmd := exec.Command(s.c.inst.Java, s.c.inst.ServerArgs(s.dir, mainClass, s.c.opts.jvmFlags...)...)
	cmd.Dir = s.dir
	if h := s.c.opts.hosts; len(h) > 0 {
		h[s.id-1].Wrap(cmd)
	}
	cmd.Stdout = logf
	cmd.Stderr = logf

	p, err := spawn(cmd)
	if err != nil {
		return fmt.Errorf("zktest: start server %d: %w", s.id, err)
	}
	s.proc = p
	s.paused = false
	s.c.log.Debug().Int(fieldServer, s.id).Int(logging.PID, p.pid()).
		Str(logging.Addr, net.JoinHostPort(s.host(), strconv.Itoa(s.clientPort))).
		Msg("zookeeper starting")
	return nil
}

// serving reports whether mode means a server of c serves clients.
func (c *Cluster) serving(mode string) bool {
	if len(c.servers) == 1 {
		return mode == "standalone"
	}
	return mode == "leader" || mode == "follower" || mode == "observer"
}

// waitServing polls srvr until the current process serves, exits, or ctx ends.
func (s *Server) waitServing(ctx context.Context) error {
	s.mu.Lock()
	p, logStart := s.proc, s.logStart
	s.mu.Unlock()
	if p == nil {
		return fmt.Errorf("zktest: server %d was never started", s.id)
	}
	begin := time.Now()
	err := zkserver.WaitServing(ctx, zkserver.Starting{Name: fmt.Sprintf("server %d", s.id), Addr: s.Addr(), TLS: s.c.tls,
		LogPath: s.LogPath(), LogStart: logStart, Exited: p.exited, ExitStatus: p.exitStatus, Serving: s.c.serving})
	if err != nil {
		return err
	}
	logging.Since(s.c.log.Debug(), begin).Int(fieldServer, s.id).Int(logging.PID, p.pid()).Msg("zookeeper server serving")
	return nil
}
