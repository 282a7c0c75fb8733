package zkserver

import (
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/amkeeper/amkeeper/conf"
)

// DefaultClientPort is the client port when zoo.cfg sets none and free ports are not
// asked for, as in Flink's wrapper.
const DefaultClientPort = 2181

// Keys this package sets when zoo.cfg does not.
const (
	keyAdminServer = "admin.enableServer"
	keyDataLogDir  = "dataLogDir"
	keyWhitelist   = "4lw.commands.whitelist"
	defaultAddress = "127.0.0.1"
	defaultAllow   = "srvr,ruok,stat"
	standaloneName = "standalone"
)

// member is one server this machine runs, with its effective settings.
type member struct {
	name       string // "standalone" or "server.<id>"
	id         int64  // myid; meaningful only in an ensemble
	ensemble   bool   // zoo.cfg has server.X lines
	dir        string // its directory in the run directory
	address    string // clientPortAddress
	clientPort int    // 0 until picked when free
	free       bool   // the client port is picked at start
	dataDir    string
	dataLogDir string // zoo.cfg's dataLogDir, "" for the transaction log in dataDir
	pid        int    // the server process, once started
	// tls is set for a TLS-only server (secureClientPort): address and
	// clientPort are then the secure ones, and probes use it.
	tls *tls.Config
}

func (m *member) addr() string {
	host := m.address
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = defaultAddress
	}
	return net.JoinHostPort(host, strconv.Itoa(m.clientPort))
}

// plan decides which servers of cfg run on this machine and where their files go.
// It returns the skipped (remote) server.X names too.
func plan(cfg *conf.ZooCfg, runDir string, freePort bool, local func(conf.ZooServer) bool) (members []*member, skipped []string, err error) {
	if local == nil {
		local = func(s conf.ZooServer) bool { return isLocalHost(s.Host) }
	}
	secure, securePort, err := secureOf(cfg)
	if err != nil {
		return nil, nil, err
	}
	var probe *tls.Config
	address := cfg.ClientPortAddress
	free := freePort || cfg.FreeClientPort()
	port := cfg.ClientPort
	if secure {
		if probe, err = probeTLS(cfg); err != nil {
			return nil, nil, err
		}
		address = cfg.Other[KeySecureClientPortAddress]
		free = freePort || securePort == 0
		port = securePort
	}
	if address == "" {
		address = defaultAddress
	}
	if port == 0 {
		port = DefaultClientPort
	}
	dataDir := cfg.DataDir
	if dataDir != "" && !filepath.IsAbs(dataDir) && cfg.Path != "" {
		dataDir = filepath.Join(filepath.Dir(cfg.Path), dataDir)
	}
	logDir := strings.TrimSpace(cfg.Other[keyDataLogDir])
	if logDir != "" && !filepath.IsAbs(logDir) && cfg.Path != "" {
		logDir = filepath.Join(filepath.Dir(cfg.Path), logDir)
	}

	if len(cfg.Servers) == 0 {
		m := &member{name: standaloneName, dir: filepath.Join(runDir, standaloneName),
			address: address, free: free, dataDir: dataDir, dataLogDir: logDir, tls: probe}
		if !free {
			m.clientPort = port
		}
		if m.dataDir == "" {
			m.dataDir = filepath.Join(m.dir, "data")
		}
		return []*member{m}, nil, nil
	}

	for _, s := range cfg.Servers {
		if !local(s) {
			skipped = append(skipped, fmt.Sprintf("server.%d (%s)", s.ID, s.Host))
			continue
		}
		m := &member{name: "server." + strconv.FormatInt(s.ID, 10), id: s.ID, ensemble: true,
			dir: filepath.Join(runDir, "server-"+strconv.FormatInt(s.ID, 10)), address: address, free: free, tls: probe}
		if !free {
			m.clientPort = port
			if s.ClientPort != 0 && !secure {
				m.clientPort = s.ClientPort
			}
		}
		members = append(members, m)
	}
	if len(members) == 0 {
		return nil, skipped, fmt.Errorf("zkserver: %s: no server.X line names this machine (by default: localhost or a loopback address); skipped %s",
			cfg.Path, strings.Join(skipped, ", "))
	}
	ports := map[int]string{}
	for _, m := range members {
		switch {
		case dataDir == "":
			m.dataDir = filepath.Join(m.dir, "data")
		case len(members) == 1:
			m.dataDir = dataDir
		default: // several servers of one ensemble here: one data directory each
			m.dataDir = filepath.Join(dataDir, "server-"+strconv.FormatInt(m.id, 10))
		}
		switch {
		case logDir == "" || len(members) == 1:
			m.dataLogDir = logDir
		default:
			m.dataLogDir = filepath.Join(logDir, "server-"+strconv.FormatInt(m.id, 10))
		}
		if m.free {
			continue
		}
		if other, dup := ports[m.clientPort]; dup {
			return nil, skipped, fmt.Errorf("zkserver: %s: %s and %s would both listen on client port %d: give each a port (server.X=host:peer:election;clientPort) or pick free ports",
				cfg.Path, other, m.name, m.clientPort)
		}
		ports[m.clientPort] = m.name
	}
	return members, skipped, nil
}

// isLocalHost reports whether a server.X host is this machine as far as this package
// is concerned: localhost or a loopback address.
func isLocalHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// render returns the effective zoo.cfg for m.
func render(cfg *conf.ZooCfg, m *member) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# Written by amkeeper (yarn-session zookeeper start) from %s; rewritten on every start.", cfg.Path)
	line("tickTime=%d", cfg.TickTime.Milliseconds())
	if cfg.Line("minSessionTimeout") != 0 {
		line("minSessionTimeout=%d", cfg.MinSessionTimeout.Milliseconds())
	}
	if cfg.Line("maxSessionTimeout") != 0 {
		line("maxSessionTimeout=%d", cfg.MaxSessionTimeout.Milliseconds())
	}
	line("dataDir=%s", m.dataDir)
	if m.dataLogDir != "" {
		line("%s=%s", keyDataLogDir, m.dataLogDir)
	}
	other := map[string]string{}
	for k, v := range cfg.Other {
		other[k] = v
	}
	delete(other, keyDataLogDir) // written above, resolved
	if m.tls != nil {
		line("%s=%d", KeySecureClientPort, m.clientPort)
		line("%s=%s", KeySecureClientPortAddress, m.address)
		secureLines(cfg, other)
	} else {
		line("clientPort=%d", m.clientPort)
		line("clientPortAddress=%s", m.address)
	}
	if _, ok := other[keyAdminServer]; !ok {
		other[keyAdminServer] = "false"
	}
	other[keyWhitelist] = whitelist(other[keyWhitelist])
	keys := make([]string, 0, len(other))
	for k := range other {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		line("%s=%s", k, other[k])
	}

	if m.ensemble {
		initLimit, syncLimit := cfg.InitLimit, cfg.SyncLimit
		if initLimit == 0 {
			initLimit = 10
		}
		if syncLimit == 0 {
			syncLimit = 5
		}
		line("initLimit=%d", initLimit)
		line("syncLimit=%d", syncLimit)
		for _, s := range cfg.Servers {
			host := s.Host
			if strings.Contains(host, ":") {
				host = "[" + host + "]"
			}
			role := ""
			if s.Role == "observer" {
				role = ":observer"
			}
			// The client port is set per server above, not through a ;clientPort suffix.
			line("server.%d=%s:%d:%d%s", s.ID, host, s.PeerPort, s.LeaderPort, role)
		}
	}
	return b.String()
}

// whitelist returns the 4lw whitelist to write: the default when unset, else the
// given one with srvr added if missing.
func whitelist(v string) string {
	if strings.TrimSpace(v) == "" {
		return defaultAllow
	}
	for _, w := range strings.Split(v, ",") {
		if w = strings.TrimSpace(w); w == "*" || w == "srvr" {
			return v
		}
	}
	return v + ",srvr"
}

// Log4jProperties is a log4j 1.2 configuration that writes a server's log to
// logPath (Debian's own scripts log nothing).
func Log4jProperties(logPath string) string {
	return strings.Join([]string{
		"log4j.rootLogger=INFO, F",
		"log4j.appender.F=org.apache.log4j.FileAppender",
		"log4j.appender.F.File=" + logPath,
		"log4j.appender.F.Append=true",
		"log4j.appender.F.layout=org.apache.log4j.PatternLayout",
		"log4j.appender.F.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] %-5p [%t] %c{1} - %m%n",
		"",
	}, "\n")
}
