package supervisor

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strings"
)

// lastErrorTail is how much of the end of an AM log LastError reads.
const lastErrorTail = 64 << 10

// LastError returns the last error line of an AM log (AMLogPath): the message an
// AM exits with (a plain line, as the am command prints its fatal error), or the
// message and error of the last JSON line logged at error level or above. It
// returns "" when the log is missing or holds no error.
func LastError(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	first := 0
	if fi, err := f.Stat(); err == nil && fi.Size() > lastErrorTail {
		if _, err := f.Seek(-lastErrorTail, io.SeekEnd); err != nil {
			return ""
		}
		first = 1 // the first line read is cut
	}
	b, err := io.ReadAll(io.LimitReader(f, lastErrorTail))
	if err != nil {
		return ""
	}
	lines := bytes.Split(b, []byte("\n"))
	for i := len(lines) - 1; i >= first; i-- {
		if line := errorOf(bytes.TrimSpace(lines[i])); line != "" {
			return line
		}
	}
	return ""
}

// errorOf returns the error a log line reports, or "".
func errorOf(line []byte) string {
	if len(line) == 0 {
		return ""
	}
	if line[0] != '{' {
		return string(line) // the am command's exit message
	}
	var ev struct {
		Level   string `json:"level"`
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(line, &ev) != nil {
		return ""
	}
	switch ev.Level {
	case "error", "fatal", "panic":
	default:
		return ""
	}
	if ev.Error == "" {
		return ev.Message
	}
	return strings.TrimSpace(ev.Message + ": " + ev.Error)
}
