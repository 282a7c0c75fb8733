package conf

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ZooCfgFile is the name of the ZooKeeper server configuration inside Options.Dir.
const ZooCfgFile = "zoo.cfg"

// defaultTickTime is ZooKeeper's tickTime when zoo.cfg does not set one.
const defaultTickTime = 3000 * time.Millisecond

// ZooCfg is a parsed zoo.cfg, the ZooKeeper server configuration Flink's
// start-zookeeper-quorum.sh reads. Fields a file leaves out hold ZooKeeper's defaults
// where it has them (TickTime, the session timeout bounds) and zero otherwise.
type ZooCfg struct {
	Path              string
	Servers           []ZooServer // server.X lines, in file order
	ClientPort        int         // 0 when unset, or set to 0: see FreeClientPort
	ClientPortAddress string
	DataDir           string
	TickTime          time.Duration     // default 3000 ms
	InitLimit         int               // in ticks
	SyncLimit         int               // in ticks
	MinSessionTimeout time.Duration     // default 2 × TickTime
	MaxSessionTimeout time.Duration     // default 20 × TickTime
	Other             map[string]string // every other key, as written
	lines             map[string]int
}

// ZooServer is one server.X=host:peerPort:leaderPort line.
type ZooServer struct {
	ID         int64
	Host       string
	PeerPort   int
	LeaderPort int
	ClientPort int    // from an optional ;[address:]clientPort suffix; 0 when absent
	Role       string // "participant" (default) or "observer"
	Line       int
}

// FreeClientPort reports whether the file sets clientPort=0, which amkeeper reads as
// "pick a free loopback port" when it starts the server (yarn-session zookeeper start).
// There is one zoo.cfg parser, so config and zookeeper start agree on the file.
func (z *ZooCfg) FreeClientPort() bool { return z.ClientPort == 0 && z.lines["clientPort"] != 0 }

// Line returns the line a key was set on, or 0.
func (z *ZooCfg) Line(key string) int { return z.lines[key] }

// ClampSessionTimeout returns the session timeout the server would grant for a
// requested one: the request bounded by [MinSessionTimeout, MaxSessionTimeout].
func (z *ZooCfg) ClampSessionTimeout(d time.Duration) time.Duration {
	return min(max(d, z.MinSessionTimeout), z.MaxSessionTimeout)
}

// ParseZooCfg reads a zoo.cfg (Java properties: key=value, # and ! comments). On
// malformed entries it returns what it could read and a *ValidationError naming
// zoo.cfg:line for each.
func ParseZooCfg(path string) (*ZooCfg, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("conf: read zoo.cfg: %w", err)
	}
	z, problems := parseZooCfg(path, data)
	if len(problems) > 0 {
		return z, &ValidationError{Problems: problems}
	}
	return z, nil
}

func parseZooCfg(path string, data []byte) (*ZooCfg, []Problem) {
	z := &ZooCfg{Path: path, Other: map[string]string{}, lines: map[string]int{}}
	var problems []Problem
	bad := func(key, value string, line int, format string, args ...any) {
		problems = append(problems, Problem{
			Key: key, Value: value, Origin: Origin{Kind: OriginFile, File: path, Line: line},
			Msg: fmt.Sprintf(format, args...),
		})
	}
	var minTimeout, maxTimeout time.Duration = -1, -1
	seen := map[int64]int{}
	for _, p := range readProperties(data) {
		key, value, line := p.key, p.value, p.line
		z.lines[key] = line
		switch {
		case strings.HasPrefix(key, "server."):
			id, err := strconv.ParseInt(strings.TrimPrefix(key, "server."), 10, 64)
			if err != nil || id < 0 {
				bad(key, value, line, "has a bad server ID %q: want server.N with N a non-negative integer", strings.TrimPrefix(key, "server."))
				continue
			}
			if first, dup := seen[id]; dup {
				bad(key, value, line, "repeats server ID %d (first at line %d)", id, first)
				continue
			}
			s, err := parseZooServer(value)
			if err != nil {
				bad(key, value, line, "is not host:peerPort:leaderPort: %v", err)
				continue
			}
			seen[id] = line
			s.ID, s.Line = id, line
			z.Servers = append(z.Servers, s)
		case key == "clientPort":
			if value == "0" {
				z.ClientPort = 0 // a free port, picked by yarn-session zookeeper start
				continue
			}
			n, err := parsePort(value)
			if err != nil {
				bad(key, value, line, "is not a port: %v", err)
				continue
			}
			z.ClientPort = n
		case key == "clientPortAddress":
			z.ClientPortAddress = value
		case key == "dataDir":
			z.DataDir = value
		case key == "tickTime", key == "minSessionTimeout", key == "maxSessionTimeout":
			n, err := strconv.Atoi(value)
			if err != nil {
				bad(key, value, line, "is not an integer (milliseconds)")
				continue
			}
			d := time.Duration(n) * time.Millisecond
			switch key {
			case "tickTime":
				if n <= 0 {
					bad(key, value, line, "is not positive: want milliseconds greater than 0")
					continue
				}
				z.TickTime = d
			case "minSessionTimeout":
				minTimeout = d
			default:
				maxTimeout = d
			}
		case key == "initLimit", key == "syncLimit":
			n, err := strconv.Atoi(value)
			if err != nil || n <= 0 {
				bad(key, value, line, "is not a positive integer (ticks)")
				continue
			}
			if key == "initLimit" {
				z.InitLimit = n
			} else {
				z.SyncLimit = n
			}
		default:
			z.Other[key] = value
		}
	}
	if z.TickTime == 0 {
		z.TickTime = defaultTickTime
	}
	// ZooKeeper treats -1 (and a missing key) as "derive from tickTime".
	z.MinSessionTimeout, z.MaxSessionTimeout = 2*z.TickTime, 20*z.TickTime
	if minTimeout >= 0 {
		z.MinSessionTimeout = minTimeout
	}
	if maxTimeout >= 0 {
		z.MaxSessionTimeout = maxTimeout
	}
	if z.MinSessionTimeout > z.MaxSessionTimeout {
		bad("minSessionTimeout", strconv.FormatInt(z.MinSessionTimeout.Milliseconds(), 10), z.lines["minSessionTimeout"],
			"is greater than maxSessionTimeout (%d ms): ZooKeeper refuses to start", z.MaxSessionTimeout.Milliseconds())
	}
	return z, problems
}

// clone returns a deep copy, so a Config can hand out its ZooCfg without sharing it.
func (z *ZooCfg) clone() *ZooCfg {
	if z == nil {
		return nil
	}
	c := *z
	c.Servers = slices.Clone(z.Servers)
	c.Other = maps.Clone(z.Other)
	c.lines = maps.Clone(z.lines)
	return &c
}

// parseZooServer parses host:peerPort:leaderPort[:role][;[address:]clientPort].
func parseZooServer(v string) (ZooServer, error) {
	var s ZooServer
	addr, client, hasClient := strings.Cut(v, ";")
	if hasClient {
		client = strings.TrimSpace(client)
		if i := strings.LastIndexByte(client, ':'); i >= 0 {
			client = client[i+1:]
		}
		n, err := parsePort(client)
		if err != nil {
			return s, fmt.Errorf("client port: %w", err)
		}
		s.ClientPort = n
	}
	addr = strings.TrimSpace(addr)
	var parts []string
	if strings.HasPrefix(addr, "[") {
		end := strings.IndexByte(addr, ']')
		if end < 0 {
			return s, fmt.Errorf("missing ] after the IPv6 address")
		}
		s.Host = addr[1:end]
		rest := addr[end+1:]
		if !strings.HasPrefix(rest, ":") {
			return s, fmt.Errorf("want ports after the address")
		}
		parts = strings.Split(rest[1:], ":")
	} else {
		all := strings.Split(addr, ":")
		s.Host, parts = all[0], all[1:]
		if s.Host == "" {
			return s, fmt.Errorf("the host is empty")
		}
		if err := checkHostName(s.Host); err != nil {
			return s, err
		}
	}
	if len(parts) < 2 || len(parts) > 3 {
		return s, fmt.Errorf("want two ports")
	}
	var err error
	if s.PeerPort, err = parsePort(parts[0]); err != nil {
		return s, fmt.Errorf("peer port: %w", err)
	}
	if s.LeaderPort, err = parsePort(parts[1]); err != nil {
		return s, fmt.Errorf("leader port: %w", err)
	}
	s.Role = "participant"
	if len(parts) == 3 {
		switch parts[2] {
		case "participant", "observer":
			s.Role = parts[2]
		default:
			return s, fmt.Errorf("role %q: want participant or observer", parts[2])
		}
	}
	return s, nil
}

type property struct {
	key, value string
	line       int
}

// readProperties reads Java-properties-style lines: "key=value", "key: value" or
// "key value"; # and ! start comments; a trailing backslash continues the line.
// Escape sequences are kept as written. Values are trimmed, as ZooKeeper does.
func readProperties(data []byte) []property {
	lines := strings.Split(string(data), "\n")
	var out []property
	for i := 0; i < len(lines); i++ {
		start := i + 1
		line := strings.TrimLeft(strings.TrimRight(lines[i], "\r"), " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		for continued(line) && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + strings.TrimLeft(strings.TrimRight(lines[i], "\r"), " \t\f")
		}
		end := strings.IndexAny(line, "=: \t\f")
		if end < 0 {
			out = append(out, property{key: line, line: start})
			continue
		}
		key, rest := line[:end], strings.TrimLeft(line[end:], " \t\f")
		if rest != "" && (rest[0] == '=' || rest[0] == ':') {
			rest = rest[1:]
		}
		out = append(out, property{key: key, value: strings.TrimSpace(rest), line: start})
	}
	return out
}

// continued reports whether a line ends in an odd number of backslashes.
func continued(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}
