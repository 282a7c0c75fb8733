package zktest

import (
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Defaults for the options.
const (
	DefaultTickTime     = 500 * time.Millisecond
	DefaultStartTimeout = 30 * time.Second
)

// Option configures a Cluster; pass options to Start, New or Main.
type Option func(*options)

type options struct {
	servers        int
	tickTime       time.Duration
	forceSync      bool
	extra          []string
	jvmFlags       []string
	logger         zerolog.Logger
	startTimeout   time.Duration
	sessionTimeout time.Duration // 0: 10 × tickTime
	hosts          []Host        // WithHosts
	tlsKeyStore    string        // WithTLS
	tlsTrustStore  string
}

func defaultOptions() options {
	return options{
		servers:      1,
		tickTime:     DefaultTickTime,
		logger:       zerolog.Nop(),
		startTimeout: DefaultStartTimeout,
	}
}

func buildOptions(opts []Option) (options, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case o.servers < 1:
		return o, fmt.Errorf("zktest: WithServers(%d): want at least 1", o.servers)
	case o.tickTime < time.Millisecond || o.tickTime%time.Millisecond != 0:
		return o, fmt.Errorf("zktest: WithTickTime(%v): want a whole number of milliseconds, at least 1ms", o.tickTime)
	case o.startTimeout <= 0:
		return o, fmt.Errorf("zktest: WithStartTimeout(%v): want a positive duration", o.startTimeout)
	case o.sessionTimeout < 0:
		return o, fmt.Errorf("zktest: WithSessionTimeout(%v): want a positive duration", o.sessionTimeout)
	}
	if len(o.hosts) > 0 && len(o.hosts) != o.servers {
		return o, fmt.Errorf("zktest: WithHosts: %d hosts for %d servers: want one host per server", len(o.hosts), o.servers)
	}
	if len(o.hosts) > 0 && o.tlsKeyStore != "" {
		return o, fmt.Errorf("zktest: WithHosts and WithTLS together are not supported yet")
	}
	for _, l := range o.extra {
		if strings.ContainsAny(l, "\r\n") {
			return o, fmt.Errorf("zktest: WithConfig(%q): one line per argument", l)
		}
	}
	return o, nil
}

// WithServers sets the number of servers. 1 (the default) runs a standalone server
// (ZooKeeperServerMain); n > 1 runs an ensemble of n QuorumPeerMain processes.
func WithServers(n int) Option {
	return func(o *options) { o.servers = n }
}

// Host is a machine a server runs on; integration/netns.Host is one.
type Host interface {
	// Address is the host's address: the server listens there and clients
	// (and the other servers) reach it there.
	Address() string
	// Wrap makes a prepared command run on the host.
	Wrap(cmd *exec.Cmd)
}

// WithHosts runs server i on hosts[i] (one host per server, in order), bound to
// the host's address instead of loopback. Call WithServers first.
func WithHosts(hosts ...Host) Option {
	return func(o *options) { o.hosts = hosts }
}

// WithTickTime sets zoo.cfg's tickTime (default 500ms). The server clamps session
// timeouts to [2, 20] × tickTime; an ensemble uses initLimit=10 and syncLimit=5 ticks.
func WithTickTime(d time.Duration) Option {
	return func(o *options) { o.tickTime = d }
}

// WithForceSync turns fsync of the transaction log on (forceSync=yes). The default is
// off, which is faster; data still survives Kill and Restart, only not a machine crash.
func WithForceSync(on bool) Option {
	return func(o *options) { o.forceSync = on }
}

// WithConfig appends lines to every server's zoo.cfg after the harness's own lines.
// ZooKeeper keeps the last value of a repeated key, so a line here overrides the
// harness's setting for that key (do not override dataDir, clientPort or server.N).
func WithConfig(lines ...string) Option {
	return func(o *options) { o.extra = append(o.extra, lines...) }
}

// WithJVMFlags adds flags to every server's java command line, before the
// classpath: -D system properties zoo.cfg cannot set, such as
// -Djava.security.auth.login.config for a SASL server (see zkserver.SASLServer).
func WithJVMFlags(flags ...string) Option {
	return func(o *options) { o.jvmFlags = append(o.jvmFlags, flags...) }
}

// WithLogger sets where the harness logs server starts, stops and timings. Start
// defaults to the test's log (t.Log); New and Main default to no logging. Server
// output goes to each server's zookeeper.log, not here.
func WithLogger(l zerolog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithStartTimeout bounds how long starting or restarting a server may take until it
// serves, and how long Conn waits for a session (default 30s; a standalone server
// normally serves in under a second).
func WithStartTimeout(d time.Duration) Option {
	return func(o *options) { o.startTimeout = d }
}

// WithSessionTimeout sets the session timeout that Conn requests (default 10 ×
// tickTime). The server clamps it to [2, 20] × tickTime.
func WithSessionTimeout(d time.Duration) Option {
	return func(o *options) { o.sessionTimeout = d }
}
