package zktest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/netaddr/netaddrtest"
	"github.com/amkeeper/amkeeper/internal/zkserver"
	"github.com/amkeeper/amkeeper/internal/zktls"
)

// startAttempts is how often New picks new ports when a port was taken between
// picking it and the server binding it.
const startAttempts = 3

// failLogLines is how many lines of each server log a failing test reports.
const failLogLines = 20

// Cluster is a running standalone ZooKeeper server or ensemble. Its methods are safe
// for concurrent use.
type Cluster struct {
	opts    options
	inst    zkserver.Installation
	dir     string
	log     zerolog.Logger
	servers []*Server
	roots   atomic.Int64
	tls     *tls.Config // WithTLS: how the harness connects

	closeOnce sync.Once
	closeErr  error
}

// Start starts a cluster for one test and stops it, and removes its files, when the
// test ends. It fails the test (t.Fatalf, never t.Skip) if ZooKeeper or Java is
// missing or the servers do not serve within the start timeout. If the test failed,
// the cleanup logs the tail of each server log and keeps the files.
// The logger defaults to the test's log.
func Start(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	opts = append([]Option{WithLogger(logging.ForTest(t))}, opts...)
	c, err := New(opts...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, s := range c.servers {
				t.Logf("zktest: last lines of %s:\n%s", s.LogPath(), s.LogTail(failLogLines))
			}
			c.killAll()
			t.Logf("zktest: server files kept in %s", c.dir)
			return
		}
		if err := c.Close(); err != nil {
			t.Errorf("%v", err)
		}
	})
	return c
}

// Main is for TestMain: it starts one cluster for the whole test package, hands it to
// use (which typically stores it in a package variable of the test package), runs the
// tests, stops the cluster and returns the exit code for os.Exit:
//
//	func TestMain(m *testing.M) {
//		os.Exit(zktest.Main(m, func(c *zktest.Cluster) { zkc = c }))
//	}
//
// If the cluster cannot start, Main prints why on stderr and returns 1 without running
// any test. If tests failed, the server files are kept and their directory printed.
func Main(m *testing.M, use func(*Cluster), opts ...Option) int {
	c, err := New(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	use(c)
	code := m.Run()
	if code != 0 {
		c.killAll()
		fmt.Fprintf(os.Stderr, "zktest: tests failed; ZooKeeper logs kept in %s\n", c.dir)
		return code
	}
	if err := c.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return code
}

// New starts a cluster and returns once every server serves. The caller must call
// Close. Use Start in a test and Main in TestMain; New is for other harnesses.
func New(opts ...Option) (*Cluster, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	inst, err := zkserver.Locate()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "zktest-")
	if err != nil {
		return nil, fmt.Errorf("zktest: create temporary directory: %w", err)
	}
	tc, err := o.clientTLS()
	if err != nil {
		return nil, err
	}
	if tc != nil && !inst.TLS {
		return nil, fmt.Errorf("%w: WithTLS needs Netty's codec and resolver jars on the ZooKeeper classpath (Debian package libnetty-java)", ErrNotInstalled)
	}
	c := &Cluster{opts: o, inst: inst, dir: dir, log: o.logger, tls: tc}
	for i := range o.servers {
		id := i + 1
		c.servers = append(c.servers, &Server{
			c:   c,
			id:  id,
			dir: filepath.Join(dir, "server-"+strconv.Itoa(id)),
		})
	}

	begin := time.Now()
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), o.startTimeout)
		err = c.startAll(ctx)
		cancel()
		if err == nil {
			break
		}
		c.killAll()
		if errors.Is(err, zkserver.ErrPortTaken) && attempt < startAttempts {
			c.log.Warn().Err(err).Int("start_try", attempt).Msg("zookeeper port taken; retrying with new ports")
			continue
		}
		_ = os.RemoveAll(dir)
		return nil, err
	}
	logging.Since(c.log.Info(), begin).
		Int("servers", len(c.servers)).
		Str("connect", c.ConnectString()).
		Str(logging.File, dir).
		Msg("zookeeper serving")
	return c, nil
}

// startAll picks ports, writes every server's files, starts the JVMs and waits until
// all serve.
func (c *Cluster) startAll(ctx context.Context) error {
	ports, err := netaddrtest.Pick(3 * len(c.servers))
	if err != nil {
		return err
	}
	for i, s := range c.servers {
		s.setPorts(ports[3*i], ports[3*i+1], ports[3*i+2])
	}
	for _, s := range c.servers {
		if err := s.prepare(); err != nil {
			return err
		}
	}
	for _, s := range c.servers {
		if err := s.start(); err != nil {
			return err
		}
	}
	for _, s := range c.servers {
		if err := s.waitServing(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Close kills every server and removes the cluster's files. It is idempotent.
// Stopping gracefully buys nothing here: the data is discarded.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		c.killAll()
		if err := os.RemoveAll(c.dir); err != nil {
			c.closeErr = fmt.Errorf("zktest: remove %s: %w", c.dir, err)
		}
	})
	return c.closeErr
}

func (c *Cluster) killAll() {
	for _, s := range c.servers {
		_ = s.Kill()
	}
}

// Addrs returns the client addresses (127.0.0.1:port, or the hosts' under
// WithHosts) of all servers, in order.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.servers))
	for i, s := range c.servers {
		addrs[i] = s.Addr()
	}
	return addrs
}

// ConnectString returns the addresses as a ZooKeeper connect string
// ("127.0.0.1:p1,127.0.0.1:p2,…"), as high-availability.zookeeper.quorum expects.
func (c *Cluster) ConnectString() string { return strings.Join(c.Addrs(), ",") }

// Server returns the i-th server, 0-based (its myid is i+1). It panics if i is out of range.
func (c *Cluster) Server(i int) *Server { return c.servers[i] }

// Servers returns all servers in order.
func (c *Cluster) Servers() []*Server { return append([]*Server(nil), c.servers...) }

// Dir returns the cluster's temporary directory (one server-<myid> directory per server).
func (c *Cluster) Dir() string { return c.dir }

// TickTime returns the servers' tickTime.
func (c *Cluster) TickTime() time.Duration { return c.opts.tickTime }

// SessionTimeout returns the session timeout Conn requests (see WithSessionTimeout).
func (c *Cluster) SessionTimeout() time.Duration {
	if c.opts.sessionTimeout > 0 {
		return c.opts.sessionTimeout
	}
	return 10 * c.opts.tickTime
}

// Root returns a new znode path for one test to work under, /t/<test name>-<n>, with
// the test name reduced to characters safe in a znode name and n unique within the
// cluster, so every call returns a different path. The path is not created.
func (c *Cluster) Root(t testing.TB) string {
	return fmt.Sprintf("/t/%s-%d", sanitize(t.Name()), c.roots.Add(1))
}

// sanitize maps a test name to a znode name: subtests' slashes and anything outside
// [A-Za-z0-9._-] become '_', and the result is at most 100 bytes.
func sanitize(name string) string {
	b := []byte(name)
	for i, ch := range b {
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9',
			ch == '.', ch == '_', ch == '-':
		default:
			b[i] = '_'
		}
	}
	if len(b) > 100 {
		b = b[:100]
	}
	if len(b) == 0 {
		return "test"
	}
	return string(b)
}

// Conn returns a go-zookeeper connection to all servers that already has a session,
// for a test to inspect znodes. It fails the test if no session is established within
// the start timeout (zk.Connect alone would retry forever), and closes the connection
// when the test ends. go-zookeeper's log lines go to the test's log.
func (c *Cluster) Conn(t testing.TB) *zk.Conn {
	t.Helper()
	return c.connect(t, c.Addrs())
}

// ConnDialer is Conn over connections made by dial: a SASL or TLS dialer for a
// secured server.
func (c *Cluster) ConnDialer(t testing.TB, dial zk.Dialer) *zk.Conn {
	t.Helper()
	return c.connect(t, c.Addrs(), dial)
}

func (c *Cluster) connect(t testing.TB, addrs []string, dial ...zk.Dialer) *zk.Conn {
	t.Helper()
	lg := &testLogger{t: t}
	d := zk.Dialer(net.DialTimeout)
	if c.tls != nil {
		d = zktls.Dialer(c.tls)
	}
	if len(dial) > 0 {
		d = dial[0]
	}
	conn, events, err := zk.Connect(addrs, c.SessionTimeout(), zk.WithLogger(lg), zk.WithDialer(d))
	if err != nil {
		t.Fatalf("zktest: connect to %s: %v", strings.Join(addrs, ","), err)
	}
	t.Cleanup(func() {
		conn.Close()
		lg.stop()
	})
	timer := time.NewTimer(c.opts.startTimeout)
	defer timer.Stop()
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return conn
			}
		case <-timer.C:
			t.Fatalf("zktest: no ZooKeeper session with %s after %v (state %v)",
				strings.Join(addrs, ","), c.opts.startTimeout, conn.State())
		}
	}
}

// testLogger sends go-zookeeper's log lines to the test's log, and drops them once
// the test's cleanup has run (go-zookeeper's goroutines outlive Close briefly, and
// t.Logf after a test ends panics).
type testLogger struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (l *testLogger) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Logf("zk: "+format, args...)
	}
}

func (l *testLogger) stop() {
	l.mu.Lock()
	l.done = true
	l.mu.Unlock()
}
