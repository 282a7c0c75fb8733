package job

import (
	"encoding/json"
	"fmt"
)

// CountWindowAllConfig configures a tumbling count window over all records of the
// subtask: every Size records it emits their aggregate and starts a new window.
//
// Flink's countWindowAll runs with parallelism 1. Here the chain has no shuffle, so
// the window is per subtask: with parallelism p, subtask i sums its own records i,
// i+p, …, Size at a time. With parallelism 1 that is exactly Flink's semantics. An
// incomplete window at the end of a bounded input is not emitted (as in Flink).
type CountWindowAllConfig struct {
	Size int64 `yaml:"size" json:"size"`
	// Aggregate is the window function; "sum" (the default) is the only one.
	Aggregate string `yaml:"aggregate,omitempty" json:"aggregate,omitempty"`
}

// Validate checks Size and Aggregate.
func (c *CountWindowAllConfig) Validate() error {
	if c.Size < 1 {
		return &FieldError{Field: "size", Msg: fmt.Sprintf("%d: want the number of records per window, ≥ 1", c.Size)}
	}
	if c.Aggregate != "" && c.Aggregate != "sum" {
		return &FieldError{Field: "aggregate", Msg: fmt.Sprintf("%q: want sum", c.Aggregate)}
	}
	return nil
}

// NewTransform builds the window of one subtask.
func (c *CountWindowAllConfig) NewTransform(Instance) (Transform, error) {
	return &countWindowSum{size: c.Size}, nil
}

type countWindowSum struct {
	size       int64
	count, sum int64
}

type windowState struct {
	Count int64 `json:"count"`
	Sum   int64 `json:"sum"`
}

func (w *countWindowSum) Process(v int64, emit Emit) error {
	w.sum += v
	w.count++
	if w.count < w.size {
		return nil
	}
	sum := w.sum
	w.count, w.sum = 0, 0
	return emit(sum)
}

func (w *countWindowSum) SnapshotState() ([]byte, error) {
	return json.Marshal(windowState{Count: w.count, Sum: w.sum})
}

func (w *countWindowSum) RestoreState(b []byte) error {
	if b == nil {
		w.count, w.sum = 0, 0
		return nil
	}
	var st windowState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("countWindowAll state: %w", err)
	}
	if st.Count < 0 || st.Count >= w.size {
		return fmt.Errorf("countWindowAll state: %d records in a window of %d", st.Count, w.size)
	}
	w.count, w.sum = st.Count, st.Sum
	return nil
}
