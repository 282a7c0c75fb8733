package logging

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// Field keys for structured logs. Every package uses these names so that one
// query (jq, grep) follows an application, an attempt or a leader session across
// the supervisor, the AM and the TaskManagers.
const (
	App           = "app"            // application ID, application_<ts>_<seq>
	Attempt       = "attempt"        // attempt number, 1-based
	AttemptID     = "attempt_id"     // appattempt_<ts>_<seq>_<N>
	Container     = "container"      // container ID
	LeaderSession = "leader_session" // leader session UUID (the fencing token)
	Component     = "component"      // resource_manager, dispatcher, rest_server, job-<id>
	ZKPath        = "zk_path"        // a znode path
	Job           = "job"            // job ID
	Checkpoint    = "checkpoint"     // checkpoint ID
	Key           = "key"            // a configuration key
	Origin        = "origin"         // where a configuration value came from
	File          = "file"           // a file or storage path
	Addr          = "addr"           // a network address
	PID           = "pid"            // an OS process ID
	Phase         = "phase"          // a failover phase name
	Duration      = "duration"       // an elapsed time
	Reason        = "reason"         // why a decision was taken
	Role          = "role"           // supervisor, am, taskmanager
)

// Format selects how log lines are written.
type Format string

const (
	// FormatAuto writes console lines on a terminal and JSON otherwise.
	FormatAuto Format = "auto"
	// FormatConsole writes human-readable lines.
	FormatConsole Format = "console"
	// FormatJSON writes one JSON object per line.
	FormatJSON Format = "json"
)

// Options configure New. The zero value logs JSON at info level to stderr.
type Options struct {
	Level  string    // trace, debug, info, warn, error; default info
	Format Format    // default FormatAuto
	Out    io.Writer // default os.Stderr
	Role   string    // added to every line as "role" when set
}

// Levels lists the accepted values of Options.Level, for flag help and errors.
var levels = []string{"trace", "debug", "info", "warn", "error"}

// ParseLevel turns a level name into a zerolog level, naming the valid choices on error.
func ParseLevel(s string) (zerolog.Level, error) {
	if s == "" {
		return zerolog.InfoLevel, nil
	}
	for _, l := range levels {
		if strings.EqualFold(s, l) {
			return zerolog.ParseLevel(l)
		}
	}
	return zerolog.NoLevel, fmt.Errorf("log level %q: want one of %s", s, strings.Join(levels, ", "))
}

// New builds the logger for a binary.
func New(o Options) (zerolog.Logger, error) {
	lvl, err := ParseLevel(o.Level)
	if err != nil {
		return zerolog.Nop(), err
	}
	out := o.Out
	if out == nil {
		out = os.Stderr
	}
	format := o.Format
	if format == "" {
		format = FormatAuto
	}
	var w io.Writer
	switch format {
	case FormatJSON:
		w = out
	case FormatConsole:
		w = zerolog.ConsoleWriter{Out: out, TimeFormat: "15:04:05.000"}
	case FormatAuto:
		w = out
		if f, ok := out.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			w = zerolog.ConsoleWriter{Out: out, TimeFormat: "15:04:05.000"}
		}
	default:
		return zerolog.Nop(), fmt.Errorf("log format %q: want auto, console or json", format)
	}
	ctx := zerolog.New(w).Level(lvl).With().Timestamp()
	if o.Role != "" {
		ctx = ctx.Str(Role, o.Role)
	}
	return ctx.Logger(), nil
}

// ForTest returns a logger that writes through t.Log, so output shows only for
// failing or verbose tests and never interleaves with other tests.
func ForTest(t zerolog.TestingLog) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).With().Timestamp().Logger()
}

// Since is a convenience for phase timings: a duration field in milliseconds with
// microsecond precision.
func Since(e *zerolog.Event, start time.Time) *zerolog.Event {
	return e.Float64(Duration+"_ms", float64(time.Since(start).Microseconds())/1000)
}
