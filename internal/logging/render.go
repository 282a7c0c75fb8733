package logging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Line is one line of a log file as written by a logger of this package (a
// zerolog JSON object), or any other line a process wrote to the same file (a
// fatal error printed by main, a Go runtime panic), kept as text.
type Line struct {
	Raw     string // the line as written, without its newline
	JSON    bool   // it is a JSON object
	Time    string // as written (RFC 3339)
	Level   string // trace, debug, info, warn, error, fatal or panic
	Role    string
	Attempt string // the attempt number, when the line has one
	Message string
	Fields  []Field // every other field, in the order written
}

// Field is one key and its value, rendered: strings as written (quoted when
// they hold spaces or quotes), anything else as its JSON text.
type Field struct{ Key, Value string }

// ParseLine parses one log line; a line that is not a JSON object is kept as
// text (JSON false).
func ParseLine(raw string) Line {
	l := Line{Raw: raw}
	trimmed := strings.TrimSpace(raw)
	if !strings.HasPrefix(trimmed, "{") {
		return l
	}
	dec := json.NewDecoder(strings.NewReader(trimmed))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return l
	}
	var fields []Field
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return Line{Raw: raw}
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return Line{Raw: raw}
		}
		val := renderValue(v)
		switch key {
		case "time":
			l.Time = val
		case "level":
			l.Level = val
		case Role:
			l.Role = val
		case Attempt:
			l.Attempt = val
		case "message":
			l.Message = val
		default:
			fields = append(fields, Field{Key: key, Value: quoteIfNeeded(val, v)})
		}
	}
	l.JSON, l.Fields = true, fields
	return l
}

// renderValue is a JSON value as text: a string's contents, else its JSON.
func renderValue(v json.RawMessage) string {
	var s string
	if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil {
		return s
	}
	var b bytes.Buffer
	if json.Compact(&b, v) == nil {
		return b.String()
	}
	return string(v)
}

// quoteIfNeeded quotes a string value that would not read as one word.
func quoteIfNeeded(s string, v json.RawMessage) string {
	if len(v) > 0 && v[0] == '"' && (s == "" || strings.ContainsAny(s, " \t\n\"=")) {
		return strconv.Quote(s)
	}
	return s
}

// Plain renders the line for people: "time LEVEL role/attempt message
// key=value …"; a line that is not JSON is returned as written.
func (l Line) Plain() string {
	if !l.JSON {
		return l.Raw
	}
	var b strings.Builder
	b.WriteString(l.Time)
	b.WriteByte(' ')
	lvl := strings.ToUpper(l.Level)
	if lvl == "" {
		lvl = "-"
	}
	b.WriteString(lvl)
	for i := len(lvl); i < 5; i++ {
		b.WriteByte(' ')
	}
	if who := l.who(); who != "" {
		b.WriteByte(' ')
		b.WriteString(who)
	}
	if l.Message != "" {
		b.WriteByte(' ')
		b.WriteString(l.Message)
	}
	for _, f := range l.Fields {
		b.WriteByte(' ')
		b.WriteString(f.Key)
		b.WriteByte('=')
		b.WriteString(f.Value)
	}
	return b.String()
}

// who is role/attempt, or whichever of them the line has.
func (l Line) who() string {
	switch {
	case l.Role != "" && l.Attempt != "":
		return l.Role + "/" + l.Attempt
	case l.Attempt != "":
		return "attempt/" + l.Attempt
	}
	return l.Role
}

// IsError reports whether the line says something failed: a JSON line at
// level error, fatal or panic, or a text line (what a process prints when it
// exits on an error, or a runtime panic).
func (l Line) IsError() bool {
	if !l.JSON {
		s := strings.TrimSpace(l.Raw)
		return s != "" && l.Raw[0] != ' ' && l.Raw[0] != '\t' && !strings.HasPrefix(s, "goroutine ")
	}
	switch l.Level {
	case "error", "fatal", "panic":
		return true
	}
	return false
}

// Cause is the line as a one-line cause: the message and its error for a JSON
// line, the text itself otherwise.
func (l Line) Cause() string {
	if !l.JSON {
		return strings.TrimSpace(l.Raw)
	}
	for _, f := range l.Fields {
		if f.Key == "error" {
			v, err := strconv.Unquote(f.Value)
			if err != nil {
				v = f.Value
			}
			return l.Message + ": " + v
		}
	}
	return l.Message
}

// LastError returns the cause (Line.Cause) of the last error line in r, or ""
// when it has none. A runtime panic ("panic: …", "fatal error: …") wins over the
// stack trace printed after it.
func LastError(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var cause string
	panicking := false
	for sc.Scan() {
		l := ParseLine(sc.Text())
		if !l.IsError() {
			continue
		}
		if !l.JSON && panicking && !strings.HasPrefix(l.Raw, "panic: ") && !strings.HasPrefix(l.Raw, "fatal error: ") {
			continue // the rest of a panic's output: its goroutines and stacks
		}
		cause = l.Cause()
		panicking = !l.JSON && (strings.HasPrefix(l.Raw, "panic: ") || strings.HasPrefix(l.Raw, "fatal error: "))
	}
	return cause, sc.Err()
}

// TailBytes is how much of the end of a log LastErrorOf and LastErrorInTail
// read: an AM's log can grow to hundreds of megabytes, and its last error is
// near its end.
const TailBytes = 256 << 10

// LastErrorOf is LastErrorInTail of the file at path (an attempt's am.log), ""
// when it has no error line in its last TailBytes or cannot be read.
func LastErrorOf(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	cause, _ := LastErrorInTail(f)
	return cause
}

// LastErrorInTail is LastError of the last TailBytes of r, read from where r
// ends; when that is not all of r, the partial line the tail starts within is
// skipped. It reads at most TailBytes.
func LastErrorInTail(r io.ReadSeeker) (string, error) {
	size, err := r.Seek(0, io.SeekEnd)
	if err != nil {
		return "", fmt.Errorf("finding the end of the log: %w", err)
	}
	from := max(size-TailBytes, 0)
	if _, err := r.Seek(from, io.SeekStart); err != nil {
		return "", fmt.Errorf("seeking to offset %d of the log: %w", from, err)
	}
	br := bufio.NewReaderSize(io.LimitReader(r, size-from), 64<<10)
	if from > 0 {
		// The byte before from decides whether from starts a line; not knowing
		// it, drop everything up to the first newline (a whole line at worst).
		for {
			_, err := br.ReadSlice('\n')
			if err == nil {
				break
			}
			if errors.Is(err, io.EOF) {
				return "", nil // no whole line in the tail
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				return "", fmt.Errorf("reading the log from offset %d: %w", from, err)
			}
		}
	}
	return LastError(br)
}
