package job

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// JobID identifies a job: 32 lowercase hexadecimal characters, like Flink's JobID.
type JobID string

// NewJobID returns a random JobID.
func NewJobID() JobID {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return JobID(hex.EncodeToString(b[:]))
}

// ParseJobID checks that s is 32 lowercase hexadecimal characters.
func ParseJobID(s string) (JobID, error) {
	if len(s) != 32 {
		return "", fmt.Errorf("%w %q: %d characters; want 32 lowercase hex characters", ErrInvalidJobID, s, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", fmt.Errorf("%w %q: character %q; want 32 lowercase hex characters", ErrInvalidJobID, s, c)
		}
	}
	return JobID(s), nil
}

// ErrInvalidJobID matches an error about a malformed job ID.
var ErrInvalidJobID = errors.New("job: invalid job ID")

// ErrInvalidGraph matches an error decoding a job graph.
var ErrInvalidGraph = errors.New("job: invalid job graph")

// Graph is what the job graph store keeps for a job: its ID and spec.
type Graph struct {
	ID   JobID `json:"id"`
	Spec Spec  `json:"spec"`
	// Execution names the legitimate execution of the job: the leader that
	// deploys the job's tasks records a new one with the graph (a guarded write)
	// before it deploys them, and tasks carry the graph they were deployed with.
	// A later leader adopts running tasks only when they run in the recorded
	// execution. Empty: never deployed.
	Execution string `json:"execution,omitempty"`
}

// graphVersion is the version of the encoding; Decode rejects others.
const graphVersion = 1

type graphJSON struct {
	Version   int    `json:"version"`
	ID        JobID  `json:"id"`
	Spec      Spec   `json:"spec"`
	Execution string `json:"execution,omitempty"`
}

type stepJSON struct {
	Op     string          `json:"op"`
	Config json.RawMessage `json:"config"`
}

// MarshalJSON writes {"op": name, "config": {…}}.
func (s Step) MarshalJSON() ([]byte, error) {
	cfg, err := json.Marshal(s.Config)
	if err != nil {
		return nil, err
	}
	return json.Marshal(stepJSON{Op: s.Op, Config: cfg})
}

// Encode returns the graph as JSON, the payload of the job graph store.
func (g Graph) Encode() ([]byte, error) {
	if _, err := ParseJobID(string(g.ID)); err != nil {
		return nil, err
	}
	return json.Marshal(graphJSON{Version: graphVersion, ID: g.ID, Spec: g.Spec, Execution: g.Execution})
}

// DecodeGraph reads a graph that Encode wrote, with the built-in operators.
func DecodeGraph(data []byte) (Graph, error) { return Builtins().DecodeGraph(data) }

// DecodeGraph reads a graph that Encode wrote, resolving operators in r. Every error
// matches ErrInvalidGraph.
func (r Registry) DecodeGraph(data []byte) (Graph, error) {
	var raw struct {
		Version   int    `json:"version"`
		ID        JobID  `json:"id"`
		Execution string `json:"execution"`
		Spec      struct {
			Name               string     `json:"name"`
			Parallelism        int        `json:"parallelism"`
			CheckpointInterval int64      `json:"checkpointInterval"`
			Pipeline           []stepJSON `json:"pipeline"`
		} `json:"spec"`
	}
	bad := func(format string, args ...any) (Graph, error) {
		return Graph{}, fmt.Errorf("%w: %s", ErrInvalidGraph, fmt.Sprintf(format, args...))
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return bad("%v", err)
	}
	if raw.Version != graphVersion {
		return bad("version %d; want %d", raw.Version, graphVersion)
	}
	if _, err := ParseJobID(string(raw.ID)); err != nil {
		return bad("%v", err)
	}
	spec := Spec{Name: raw.Spec.Name, Parallelism: raw.Spec.Parallelism}
	spec.CheckpointInterval = time.Duration(raw.Spec.CheckpointInterval)
	if spec.Name == "" || spec.Parallelism < 1 || spec.Parallelism > MaxParallelism || spec.CheckpointInterval < 0 {
		return bad("spec needs a name, parallelism from 1 to %d and a non-negative interval", MaxParallelism)
	}
	n := len(raw.Spec.Pipeline)
	if n < 2 {
		return bad("pipeline of %d steps; want a source and a sink at least", n)
	}
	for i, st := range raw.Spec.Pipeline {
		kind, ok := r.Lookup(st.Op)
		if !ok {
			return bad("pipeline[%d]: unknown operator %q; want one of %s", i, st.Op, r.nameList())
		}
		cfg := kind.New()
		dec := json.NewDecoder(bytes.NewReader(st.Config))
		dec.DisallowUnknownFields()
		if err := dec.Decode(cfg); err != nil {
			return bad("pipeline[%d].%s: %v", i, st.Op, err)
		}
		if err := cfg.Validate(); err != nil {
			return bad("pipeline[%d].%s: %v", i, st.Op, err)
		}
		want := "transform"
		switch i {
		case 0:
			want = "source"
		case n - 1:
			want = "sink"
		}
		if got := role(cfg); got != want {
			return bad("pipeline[%d].%s: a %s where a %s belongs", i, st.Op, got, want)
		}
		spec.Pipeline = append(spec.Pipeline, Step{Op: st.Op, Config: cfg})
	}
	return Graph{ID: raw.ID, Spec: spec, Execution: raw.Execution}, nil
}
