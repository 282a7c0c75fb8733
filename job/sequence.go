package job

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/amkeeper/amkeeper/conf"
)

// SequenceConfig configures the sequence source: 0, 1, 2, … deterministically.
// Subtask i of p emits i, i+p, i+2p, …, so the subtasks together emit every number once.
type SequenceConfig struct {
	// Rate paces each subtask: records per time unit ("10/s", "600/min") or the
	// interval between records in Flink's duration forms ("100ms", "1 s"). Empty:
	// as fast as possible.
	Rate string `yaml:"rate,omitempty" json:"rate,omitempty"`
	// End, when set, bounds the job: the source emits the numbers below End.
	End *int64 `yaml:"end,omitempty" json:"end,omitempty"`
}

const rateForms = `want records per unit such as "10/s" or "600/min", or an interval such as "100ms" or "1 s"`

// Validate checks Rate and End.
func (c *SequenceConfig) Validate() error {
	if _, err := ParseRate(c.Rate); err != nil {
		return &FieldError{Field: "rate", Msg: err.Error()}
	}
	if c.End != nil && *c.End < 0 {
		return &FieldError{Field: "end", Msg: fmt.Sprintf("%d: want a number ≥ 0 (the source emits the numbers below it)", *c.End)}
	}
	return nil
}

// ParseRate turns a sequence rate into the interval between two records; "" is 0
// (unpaced).
func ParseRate(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if num, unit, ok := strings.Cut(s, "/"); ok {
		n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
		if err != nil || n < 1 || strings.TrimSpace(unit) == "" {
			return 0, fmt.Errorf("%q: %s", s, rateForms)
		}
		per, err := conf.ParseDuration("1 " + strings.TrimSpace(unit))
		if err != nil || per/time.Duration(n) <= 0 {
			return 0, fmt.Errorf("%q: %s", s, rateForms)
		}
		return per / time.Duration(n), nil
	}
	d, err := conf.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: %s", s, rateForms)
	}
	return d, nil
}

// NewSource builds the source of one subtask.
func (c *SequenceConfig) NewSource(in Instance) (Source, error) {
	interval, err := ParseRate(c.Rate)
	if err != nil {
		return nil, err
	}
	s := &sequence{first: int64(in.Subtask), step: int64(in.Parallelism), interval: interval, end: -1}
	if c.End != nil {
		s.end = *c.End
	}
	return s, nil
}

type sequence struct {
	first, step int64
	end         int64 // -1: unbounded
	interval    time.Duration
	emitted     int64 // records emitted so far: the source offset
}

type sequenceState struct {
	Emitted int64 `json:"emitted"`
}

func (s *sequence) next() int64 { return s.first + s.emitted*s.step }

func (s *sequence) Exhausted() bool { return s.end >= 0 && s.next() >= s.end }

func (s *sequence) Next() (int64, bool) {
	if s.Exhausted() {
		return 0, false
	}
	v := s.next()
	s.emitted++
	return v, true
}

func (s *sequence) Interval() time.Duration { return s.interval }

func (s *sequence) SnapshotState() ([]byte, error) {
	return json.Marshal(sequenceState{Emitted: s.emitted})
}

func (s *sequence) RestoreState(b []byte) error {
	if b == nil {
		s.emitted = 0
		return nil
	}
	var st sequenceState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("sequence state: %w", err)
	}
	if st.Emitted < 0 {
		return fmt.Errorf("sequence state: negative offset %d", st.Emitted)
	}
	s.emitted = st.Emitted
	return nil
}
