package conf

import (
	"fmt"
	"os"
	"strings"
)

// MastersFile is the name of the file listing the JobManager hosts inside Options.Dir.
const MastersFile = "masters"

// Master is one line of conf/masters: a host that runs a JobManager (a standby
// application master) and the port its web UI binds.
type Master struct {
	Host      string // host name or IP address (IPv6 without brackets)
	WebUIPort int    // 0 when the line has no port: use rest.port
	Line      int    // 1-based line in the masters file
}

// ParseMasters reads a masters file: one host[:webUIPort] per line, IPv6 hosts in
// brackets, blank lines and # comments allowed. On malformed lines it returns the
// good lines and a *ValidationError naming masters:line for each bad one.
func ParseMasters(path string) ([]Master, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("conf: read masters: %w", err)
	}
	ms, problems := parseMasters(path, data)
	if len(problems) > 0 {
		return ms, &ValidationError{Problems: problems}
	}
	return ms, nil
}

func parseMasters(path string, data []byte) ([]Master, []Problem) {
	ms := []Master{}
	lines, problems := parseHostLines(path, data, "is not host[:webUIPort]", true)
	for _, l := range lines {
		ms = append(ms, Master{Host: l.host, WebUIPort: l.port, Line: l.line})
	}
	return ms, problems
}

// hostLine is one host of a masters or workers file.
type hostLine struct {
	host string
	port int // 0 when the line has none
	line int // 1-based
}

// parseHostLines reads the lines of a masters or workers file: one host (with
// a port when withPort) per line, IPv6 in brackets, blank lines and # comments
// allowed. A malformed line is a Problem naming path:line, with bad as its
// message.
func parseHostLines(path string, data []byte, bad string, withPort bool) ([]hostLine, []Problem) {
	var out []hostLine
	var problems []Problem
	for i, line := range strings.Split(string(data), "\n") {
		if c := strings.IndexByte(line, '#'); c >= 0 {
			line = line[:c]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		host, port, err := splitHostPort(line, 0)
		if err == nil && port != 0 && !withPort {
			err = fmt.Errorf("a port has no meaning here")
		}
		if err == nil && strings.ContainsAny(host, " \t") {
			err = fmt.Errorf("blanks inside")
		}
		if err != nil {
			problems = append(problems, Problem{Value: line, Origin: Origin{Kind: OriginFile, File: path, Line: i + 1}, Msg: bad + ": " + err.Error()})
			continue
		}
		out = append(out, hostLine{host: host, port: port, line: i + 1})
	}
	return out, problems
}
