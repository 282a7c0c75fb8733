package conf

import (
	"fmt"
	"strconv"
	"strings"
)

// OriginKind says which source a value came from.
type OriginKind int

// The sources of a value, lowest precedence first.
const (
	OriginDefault OriginKind = iota // the registry default (or a computed default)
	OriginFile                      // a file in the configuration directory
	OriginEnv                       // an environment variable
	OriginDynamic                   // a -D key=value override
)

// Origin is where a value came from, so that errors and the CLI can point at it.
type Origin struct {
	Kind  OriginKind
	File  string // OriginFile: the file's path as opened (Options.Dir joined with the name)
	Line  int    // OriginFile: 1-based line; OriginDynamic: 1-based position among the -D items
	AsKey string // the deprecated name the value was written under, if any
	Env   string // OriginEnv: the variable's name
}

// String renders the origin as "default", "-D", "env AMKEEPER_ZK_DIGEST" or
// "/etc/flink/flink-conf.yaml:3", followed by " (as recovery.mode)" when the value
// was written under a deprecated name.
func (o Origin) String() string {
	var s string
	switch o.Kind {
	case OriginFile:
		s = o.File
		if o.Line > 0 {
			s += ":" + strconv.Itoa(o.Line)
		}
	case OriginEnv:
		s = "env " + o.Env
	case OriginDynamic:
		s = "-D"
	default:
		s = "default"
	}
	if o.AsKey != "" {
		s += " (as " + o.AsKey + ")"
	}
	return s
}

// rank orders origins by precedence: -D over env over file over default.
func (o Origin) rank() int { return int(o.Kind) }

// Problem is one validation failure: the key, the offending value (redacted for
// secrets, empty when the key is missing), where it came from, and what is wrong.
type Problem struct {
	Key    string
	Value  string
	Origin Origin
	Msg    string // a predicate ("is not valid: want NONE or zookeeper") or, with no value, a sentence
}

// Error renders `<origin>: <key>: "<value>" <msg>`, for example
// `/etc/flink/flink-conf.yaml:3: high-availability.type: "zk" is not valid: want NONE or zookeeper`.
// The key or the value is left out when empty.
func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.Origin.String())
	b.WriteString(": ")
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	if p.Value != "" {
		b.WriteString(strconv.Quote(p.Value))
		b.WriteByte(' ')
	}
	b.WriteString(p.Msg)
	return b.String()
}

// ValidationError lists every problem Load found, in a stable order: masters,
// zoo.cfg and malformed -D items first, then options in registry order, then checks
// that involve several keys.
type ValidationError struct {
	Problems []Problem
}

// Error renders one problem per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns each problem as an error, for errors.As(err, &conf.Problem{}).
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// Warning is something worth telling the operator that does not stop amkeeper: a
// deprecated key, a duplicate key, an unknown key under a known prefix.
type Warning struct {
	Key    string
	Origin Origin
	Msg    string
}

// String renders `<origin>: <key>: <msg>`.
func (w Warning) String() string {
	if w.Key == "" {
		return fmt.Sprintf("%s: %s", w.Origin, w.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", w.Origin, w.Key, w.Msg)
}
