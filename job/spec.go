package job

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/amkeeper/amkeeper/conf"
	"go.yaml.in/yaml/v3"
)

// Spec is a job as its spec file describes it.
//
//	name: HA JobManager Demo
//	parallelism: 1            # default 1
//	checkpointInterval: 5 s   # default: execution.checkpointing.interval
//	pipeline:
//	  - sequence: {rate: 100ms}          # or "10/s"; optional end: N (exclusive)
//	  - countWindowAll: {size: 100, aggregate: sum}
//	  - file: {path: counts}             # relative to the output root
type Spec struct {
	Name        string `json:"name"`
	Parallelism int    `json:"parallelism"`
	// CheckpointInterval is 0 when the spec does not set it: the caller then uses
	// execution.checkpointing.interval (see IntervalOr).
	CheckpointInterval time.Duration `json:"checkpointInterval,omitempty"`
	Pipeline           []Step        `json:"pipeline"`
}

// Step is one operator of the pipeline: its registered name and its config.
type Step struct {
	Op     string
	Config OperatorConfig
}

// MaxParallelism is the highest parallelism a job may have (Flink's limit).
const MaxParallelism = 32768

// IntervalOr returns the spec's checkpoint interval, or def when the spec sets none.
func (s Spec) IntervalOr(def time.Duration) time.Duration {
	if s.CheckpointInterval > 0 {
		return s.CheckpointInterval
	}
	return def
}

// ErrInvalidSpec matches every error about a job spec.
var ErrInvalidSpec = errors.New("job: invalid job spec")

// SpecError is a problem in a job spec file, located by file and line.
type SpecError struct {
	File  string
	Line  int    // 1-based; 0 when unknown
	Field string // dotted path, e.g. "pipeline[1].countWindowAll.size"
	Msg   string
}

func (e *SpecError) Error() string {
	loc := e.File
	if loc == "" {
		loc = "<spec>"
	}
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", loc, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Msg)
}

// Unwrap makes errors.Is(err, ErrInvalidSpec) true.
func (e *SpecError) Unwrap() error { return ErrInvalidSpec }

// ParseSpec parses a job spec (YAML) with the built-in operators. file names the
// source in errors. The error is a *SpecError naming file:line, the field and what is
// valid.
func ParseSpec(data []byte, file string) (Spec, error) {
	return Builtins().ParseSpec(data, file)
}

var topFields = []string{"name", "parallelism", "checkpointInterval", "pipeline"}

// ParseSpec parses a job spec using the operators of r; see the package function.
func (r Registry) ParseSpec(data []byte, file string) (Spec, error) {
	p := specParser{reg: r, file: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Spec{}, p.yamlErr(err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return Spec{}, p.errf(nil, "", "empty file; want a mapping with keys %s", strings.Join(topFields, ", "))
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return Spec{}, p.errf(root, "", "want a mapping with keys %s", strings.Join(topFields, ", "))
	}
	spec := Spec{Parallelism: 1}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if _, dup := seen[k.Value]; dup {
			return Spec{}, p.errf(k, k.Value, "set twice (first on line %d)", seen[k.Value].Line)
		}
		seen[k.Value] = k
		switch k.Value {
		case "name":
			if v.Kind != yaml.ScalarNode || strings.TrimSpace(v.Value) == "" {
				return Spec{}, p.errf(v, "name", "want a non-empty string")
			}
			spec.Name = v.Value
		case "parallelism":
			n, err := strconv.Atoi(v.Value)
			if v.Kind != yaml.ScalarNode || err != nil || n < 1 || n > MaxParallelism {
				return Spec{}, p.errf(v, "parallelism", "%q: want an integer from 1 to %d", v.Value, MaxParallelism)
			}
			spec.Parallelism = n
		case "checkpointInterval":
			d, err := conf.ParseDuration(v.Value)
			if v.Kind != yaml.ScalarNode || err != nil || d <= 0 {
				return Spec{}, p.errf(v, "checkpointInterval",
					"%q: want a positive duration such as 5 s, 500ms, 1 min or 5000 (milliseconds)", v.Value)
			}
			spec.CheckpointInterval = d
		case "pipeline":
			steps, err := p.pipeline(v)
			if err != nil {
				return Spec{}, err
			}
			spec.Pipeline = steps
		default:
			return Spec{}, p.errf(k, k.Value, "unknown key; want one of %s", strings.Join(topFields, ", "))
		}
	}
	if spec.Name == "" {
		return Spec{}, p.errf(root, "name", "missing; want the job's name")
	}
	if seen["pipeline"] == nil {
		return Spec{}, p.errf(root, "pipeline", "missing; want a list of operators, source first and sink last (%s)", r.nameList())
	}
	return spec, nil
}

type specParser struct {
	reg  Registry
	file string
}

func (p specParser) errf(n *yaml.Node, field, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &SpecError{File: p.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// yamlErr turns a YAML syntax error ("yaml: line 3: …") into a SpecError.
func (p specParser) yamlErr(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				line, msg = n, strings.TrimSpace(rest[i+1:])
			}
		}
	}
	return &SpecError{File: p.file, Line: line, Msg: "not valid YAML: " + msg}
}

func (p specParser) pipeline(v *yaml.Node) ([]Step, error) {
	if v.Kind != yaml.SequenceNode || len(v.Content) < 2 {
		return nil, p.errf(v, "pipeline", "want a list of at least a source and a sink, e.g. [{sequence: {}}, {file: {path: out}}]")
	}
	steps := make([]Step, 0, len(v.Content))
	for i, item := range v.Content {
		field := fmt.Sprintf("pipeline[%d]", i)
		if item.Kind != yaml.MappingNode || len(item.Content) != 2 {
			return nil, p.errf(item, field, "want a mapping with one key, the operator (%s)", p.reg.nameList())
		}
		k, body := item.Content[0], item.Content[1]
		kind, ok := p.reg.Lookup(k.Value)
		if !ok {
			return nil, p.errf(k, field, "unknown operator %q; want one of %s", k.Value, p.reg.nameList())
		}
		field += "." + k.Value
		cfg := kind.New()
		if err := p.decodeConfig(field, body, cfg); err != nil {
			return nil, err
		}
		want := "transform"
		switch i {
		case 0:
			want = "source"
		case len(v.Content) - 1:
			want = "sink"
		}
		if got := role(cfg); got != want {
			return nil, p.errf(k, field, "a %s cannot be step %d of %d; want a source first, a sink last and transforms between",
				got, i+1, len(v.Content))
		}
		steps = append(steps, Step{Op: k.Value, Config: cfg})
	}
	return steps, nil
}

// decodeConfig fills the struct cfg points to from the mapping body, field by field
// (matched by yaml tag), so that every error names its line, then validates it.
func (p specParser) decodeConfig(field string, body *yaml.Node, cfg OperatorConfig) error {
	rv := reflect.ValueOf(cfg).Elem()
	fields := yamlFields(rv.Type())
	lines := map[string]*yaml.Node{}
	switch {
	case body.Kind == yaml.ScalarNode && body.Tag == "!!null":
	case body.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(body.Content); i += 2 {
			k, v := body.Content[i], body.Content[i+1]
			idx, ok := fields[k.Value]
			if !ok {
				return p.errf(k, field+"."+k.Value, "unknown field; want %s", fieldList(fields))
			}
			if lines[k.Value] != nil {
				return p.errf(k, field+"."+k.Value, "set twice")
			}
			lines[k.Value] = v
			fv := rv.Field(idx)
			if err := v.Decode(fv.Addr().Interface()); err != nil || v.Kind != yaml.ScalarNode {
				return p.errf(v, field+"."+k.Value, "%q: want %s", v.Value, describeType(fv.Type()))
			}
		}
	default:
		return p.errf(body, field, "want a mapping of fields (%s)", fieldList(fields))
	}
	if err := cfg.Validate(); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			at := lines[fe.Field]
			if at == nil {
				at = body
			}
			return p.errf(at, field+"."+fe.Field, "%s", fe.Msg)
		}
		return p.errf(body, field, "%v", err)
	}
	return nil
}

// yamlFields maps yaml tag names to field indexes of struct type t.
func yamlFields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = i
	}
	return m
}

func fieldList(fields map[string]int) string {
	if len(fields) == 0 {
		return "no fields"
	}
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func describeType(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	}
	return "a " + t.String()
}
