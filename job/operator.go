package job

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/rs/zerolog"
)

// Records are int64 values: every built-in operator consumes and produces them.

// Stateful is the part of an operator a checkpoint captures. Both methods are called
// only from the task's loop, at a record boundary.
type Stateful interface {
	// SnapshotState returns the operator's state; RestoreState reads it back into a
	// freshly built operator. A nil state means a fresh start.
	SnapshotState() ([]byte, error)
	RestoreState(state []byte) error
}

// Emit passes a record to the next operator of the chain.
type Emit func(v int64) error

// Source produces the records of one subtask.
type Source interface {
	Stateful
	// Next returns the next record; ok is false once a bounded source is exhausted.
	Next() (v int64, ok bool)
	// Exhausted reports whether Next would return ok == false, so that the task
	// does not wait for the pacer for a record that will never come.
	Exhausted() bool
	// Interval is the time between two records (0: as fast as possible).
	Interval() time.Duration
}

// Transform processes one record and emits any number of records.
type Transform interface {
	Stateful
	Process(v int64, emit Emit) error
}

// Sink is a two-phase-commit sink: output is written into an in-progress part,
// sealed into a pending part at each checkpoint barrier and made visible only when
// the checkpoint that covers it completes.
//
// Concurrency: Write, Seal and SnapshotState are called only from the task's
// loop; the write Seal returns and Commit may be called from any goroutine at the
// same time; Restore before the loop starts.
type Sink interface {
	Write(v int64) error
	// Seal ends the in-progress part at checkpoint id's barrier: what was written
	// since the last Seal becomes the pending part of checkpoint id, and later
	// writes go into the next part. It only takes the bytes; write makes the part
	// durable in storage, not visible, and runs off the task's loop, so records
	// keep flowing meanwhile. write must have returned before the next Seal. A nil
	// write: nothing to seal. If write fails nothing is lost: the output goes into
	// the next part.
	Seal(id int64) (write func(ctx context.Context) error, err error)
	// SnapshotState returns the list of pending parts, the one Seal just started
	// included (called right after Seal).
	SnapshotState() ([]byte, error)
	// Commit publishes every pending part of a checkpoint ≤ id. Idempotent; it
	// never replaces committed output with other bytes (the file sink reports
	// ErrPartConflict and publishes nothing after that part).
	Commit(ctx context.Context, id int64) error
	// Restore prepares the output for a restart from checkpoint id whose sink state
	// is state (id 0 and nil state: a fresh start). It publishes the parts the
	// checkpoint covers and discards the uncommitted (never visible) output this
	// job's subtask left behind that the checkpoint does not cover: the replay
	// produces it again. It never removes committed output, nor another job's.
	Restore(ctx context.Context, id int64, state []byte) error
}

// Instance is what an operator of one subtask is built with.
type Instance struct {
	Job         JobID
	Subtask     int // 0-based
	Parallelism int
	// Execution names the deployment of the job this subtask runs in (empty:
	// unknown); the file sink stamps the parts it commits with it.
	Execution string
	// Output and OutputRoot are where sinks write: names are OutputRoot + "/" + the
	// sink's relative path (just the path when OutputRoot is empty).
	Output     hdfsstore.Store
	OutputRoot string
	// SpillBytes bounds the uncommitted output a sink keeps in memory; beyond
	// it the sink spills to storage, still invisible (0: DefaultSpillBytes).
	SpillBytes int
	Log        zerolog.Logger
}

// OperatorConfig is the parsed configuration of one pipeline step. Its exported
// fields carry yaml and json tags with the same names: the spec file sets them and
// the job graph encodes them. A config also implements exactly one of
// SourceConfig, TransformConfig or SinkConfig, which says where it may appear.
type OperatorConfig interface {
	// Validate checks the fields once they are decoded. Return a *FieldError to
	// have the spec error point at the field's line.
	Validate() error
}

// SourceConfig builds the source of a subtask; it must be the first step.
type SourceConfig interface {
	OperatorConfig
	NewSource(in Instance) (Source, error)
}

// TransformConfig builds a transform; transforms sit between source and sink.
type TransformConfig interface {
	OperatorConfig
	NewTransform(in Instance) (Transform, error)
}

// SinkConfig builds the sink of a subtask; it must be the last step.
type SinkConfig interface {
	OperatorConfig
	NewSink(in Instance) (Sink, error)
}

// Kind describes one operator: the name a spec uses for it and how to make an
// empty config for the spec or the job graph to fill in.
type Kind struct {
	Name string
	Doc  string // one line, for error messages and listings
	New  func() OperatorConfig
}

// Registry maps operator names to kinds. It is immutable once built: a value, not a
// global; Builtins returns a new one each call.
type Registry struct {
	kinds map[string]Kind
}

// NewRegistry builds a registry of kinds. Names must be unique and non-empty.
func NewRegistry(kinds ...Kind) (Registry, error) {
	m := make(map[string]Kind, len(kinds))
	for _, k := range kinds {
		if k.Name == "" || k.New == nil {
			return Registry{}, fmt.Errorf("job: registry: kind %q needs a name and a New function", k.Name)
		}
		if _, dup := m[k.Name]; dup {
			return Registry{}, fmt.Errorf("job: registry: operator %q registered twice", k.Name)
		}
		cfg := k.New()
		if role(cfg) == "" {
			return Registry{}, fmt.Errorf("job: registry: operator %q: its config %T is neither a SourceConfig, a TransformConfig nor a SinkConfig", k.Name, cfg)
		}
		m[k.Name] = k
	}
	return Registry{kinds: m}, nil
}

// Builtins returns a registry of the built-in operators: sequence, countWindowAll, file.
func Builtins() Registry {
	return Registry{kinds: map[string]Kind{
		"sequence": {Name: "sequence", Doc: "source of 0, 1, 2, … (subtask i of p emits i, i+p, …); rate, end",
			New: func() OperatorConfig { return &SequenceConfig{} }},
		"countWindowAll": {Name: "countWindowAll", Doc: "sums every size records of the subtask; size, aggregate",
			New: func() OperatorConfig { return &CountWindowAllConfig{} }},
		"file": {Name: "file", Doc: "exactly-once sink of one line per record; path",
			New: func() OperatorConfig { return &FileSinkConfig{} }},
	}}
}

// Lookup returns the kind named name.
func (r Registry) Lookup(name string) (Kind, bool) {
	k, ok := r.kinds[name]
	return k, ok
}

// Names returns the registered operator names, sorted.
func (r Registry) Names() []string {
	var names []string
	for n := range r.kinds {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (r Registry) nameList() string { return strings.Join(r.Names(), ", ") }

// role names where a config may sit in a pipeline.
func role(cfg OperatorConfig) string {
	switch cfg.(type) {
	case SourceConfig:
		return "source"
	case TransformConfig:
		return "transform"
	case SinkConfig:
		return "sink"
	}
	return ""
}

// FieldError is a problem with one field of an operator config or of the spec.
type FieldError struct {
	Field string // the yaml key, e.g. "size"
	Msg   string // what is wrong and what is valid
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }
