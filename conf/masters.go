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
		if err != nil {
			problems = append(problems, Problem{
				Value:  line,
				Origin: Origin{Kind: OriginFile, File: path, Line: i + 1},
				Msg:    "is not host[:webUIPort]: " + err.Error(),
			})
			continue
		}
		ms = append(ms, Master{Host: host, WebUIPort: port, Line: i + 1})
	}
	return ms, problems
}
