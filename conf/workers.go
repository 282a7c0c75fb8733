package conf

import (
	"fmt"
	"os"
)

// WorkersFile is the name of the file listing the TaskManager hosts inside
// Options.Dir, as Flink's conf/workers (conf/slaves in older releases).
const WorkersFile = "workers"

// Worker is one line of conf/workers: a host that runs a TaskManager daemon.
type Worker struct {
	Host string // host name or IP address (IPv6 without brackets)
	Line int    // 1-based line in the workers file
}

// ParseWorkers reads a workers file: one host per line (an IPv6 address may be
// in brackets), blank lines and # comments allowed. On malformed lines it
// returns the good lines and a *ValidationError naming workers:line for each
// bad one.
func ParseWorkers(path string) ([]Worker, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("conf: read workers: %w", err)
	}
	ws := []Worker{}
	lines, problems := parseHostLines(path, data, "is not a host name or address", false)
	for _, l := range lines {
		ws = append(ws, Worker{Host: l.host, Line: l.line})
	}
	if len(problems) > 0 {
		return ws, &ValidationError{Problems: problems}
	}
	return ws, nil
}
