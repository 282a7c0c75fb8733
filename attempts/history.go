package attempts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"time"
)

// HistoryVersion is the format version written by Policy.History and EncodeHistory.
// Version 2 files carry crc32c, the checksum of their attempts; version 1 files were
// kept with hdfsstore's binary trailer instead.
const HistoryVersion = 2

// AttemptRecord is one ended attempt and the decision taken for it.
type AttemptRecord struct {
	Attempt   int       `json:"attempt"`              // 1-based
	AttemptID string    `json:"attempt_id,omitempty"` // appattempt_<ts>_<seq>_<N>
	Start     time.Time `json:"start,omitzero"`       // when it started; zero if unknown
	End       time.Time `json:"end"`                  // when it ended (the policy's clock)
	Exit      ExitKind  `json:"exit"`
	ExitCode  int       `json:"exit_code,omitempty"`
	Signal    string    `json:"signal,omitempty"`
	// Counted says whether this exit counts against the budget (while in the window).
	Counted         bool        `json:"counted"`
	Reason          Reason      `json:"reason"`
	FinalStatus     FinalStatus `json:"final_status,omitempty"`
	CountedFailures int         `json:"counted_failures"` // inside the window when decided
	Diagnostics     string      `json:"diagnostics,omitempty"`
}

// History is an application's attempt history, oldest first. It is kept as JSON in
// the storage directory and read back with DecodeHistory.
type History struct {
	Version  int             `json:"version"`
	Attempts []AttemptRecord `json:"attempts"`
}

// MarshalJSON writes the current version whatever Version holds.
func (h History) MarshalJSON() ([]byte, error) {
	type plain History
	p := plain(h)
	p.Version = HistoryVersion
	if p.Attempts == nil {
		p.Attempts = []AttemptRecord{}
	}
	return json.Marshal(p)
}

// Validate reports a history a Policy cannot have written: an attempt number below 1
// or recorded twice, end times going backwards, unknown exits or reasons, records after
// one that ended the application. Errors wrap ErrInvalidHistory.
func (h History) Validate() error {
	if h.Version > HistoryVersion {
		return fmt.Errorf("%w: version %d is newer than %d", ErrInvalidHistory, h.Version, HistoryVersion)
	}
	// Attempt numbers need not increase: with hot standby, attempts end in any
	// order (attempt 2 may end before attempt 1), and records are kept in the order
	// they ended.
	seen := make(map[int]int, len(h.Attempts))
	prev := AttemptRecord{}
	for i, r := range h.Attempts {
		first, dup := seen[r.Attempt]
		switch {
		case r.Attempt < 1:
			return fmt.Errorf("%w: record %d: attempt %d, want 1 or more", ErrInvalidHistory, i, r.Attempt)
		case dup:
			return fmt.Errorf("%w: record %d: attempt %d is already record %d", ErrInvalidHistory, i, r.Attempt, first)
		case r.End.IsZero():
			return fmt.Errorf("%w: attempt %d: no end time", ErrInvalidHistory, r.Attempt)
		case i > 0 && r.End.Before(prev.End):
			return fmt.Errorf("%w: attempt %d ended at %s, before attempt %d (%s)", ErrInvalidHistory,
				r.Attempt, r.End.Format(time.RFC3339Nano), prev.Attempt, prev.End.Format(time.RFC3339Nano))
		case !r.Exit.Valid():
			return fmt.Errorf("%w: attempt %d: unknown exit %q", ErrInvalidHistory, r.Attempt, r.Exit)
		case !validReason(r.Reason):
			return fmt.Errorf("%w: attempt %d: unknown reason %q", ErrInvalidHistory, r.Attempt, r.Reason)
		case i > 0 && prev.Reason.Ends():
			return fmt.Errorf("%w: attempt %d follows attempt %d, which ended the application (%s)",
				ErrInvalidHistory, r.Attempt, prev.Attempt, prev.Reason)
		}
		seen[r.Attempt] = i
		prev = r
	}
	return nil
}

func validReason(r Reason) bool {
	switch r {
	case ReasonWithinBudget, ReasonNotCounted, ReasonBudgetExhausted, ReasonSingleAttempt, ReasonFinished:
		return true
	}
	return false
}

// historyFile is the history as a file holds it: plain, indented JSON that any tool
// reads (json.load, jq), with the CRC32C (Castagnoli) of the attempts value's bytes
// exactly as written, so an edited or damaged file is detected without a binary
// trailer.
type historyFile struct {
	Version  int             `json:"version"`
	Attempts json.RawMessage `json:"attempts"`
	CRC32C   *uint32         `json:"crc32c,omitempty"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// EncodeHistory returns h as the history file's bytes: indented JSON with the
// current version and the checksum of its attempts.
func EncodeHistory(h History) ([]byte, error) {
	recs := h.Attempts
	if recs == nil {
		recs = []AttemptRecord{}
	}
	attempts, err := json.MarshalIndent(recs, "  ", "  ")
	if err != nil {
		return nil, err
	}
	sum := crc32.Checksum(attempts, castagnoli)
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\n  \"version\": %d,\n  \"attempts\": %s,\n  \"crc32c\": %d\n}\n", HistoryVersion, attempts, sum)
	return b.Bytes(), nil
}

// DecodeHistory reads a JSON history and validates it; a crc32c in it must match.
func DecodeHistory(r io.Reader) (History, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return History{}, fmt.Errorf("%w: %w", ErrInvalidHistory, err)
	}
	h, _, err := DecodeHistoryFile(b)
	return h, err
}

// DecodeHistoryFile decodes and validates a history file. checked reports whether
// the file carried a crc32c (which then matched): a version 1 file has none, its
// integrity was hdfsstore's trailer, and the caller checks that instead. Bytes after
// the JSON value (a version 1 file's trailer) are not read.
func DecodeHistoryFile(b []byte) (h History, checked bool, err error) {
	var f historyFile
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&f); err != nil {
		return History{}, false, fmt.Errorf("%w: %w", ErrInvalidHistory, err)
	}
	if f.CRC32C != nil {
		if got := crc32.Checksum(f.Attempts, castagnoli); got != *f.CRC32C {
			return History{}, false, fmt.Errorf("%w: checksum mismatch: crc32c %d recorded, the attempts hold %d: the file was edited or damaged",
				ErrInvalidHistory, *f.CRC32C, got)
		}
		checked = true
	}
	h.Version = f.Version
	if len(f.Attempts) > 0 && string(f.Attempts) != "null" {
		if err := json.Unmarshal(f.Attempts, &h.Attempts); err != nil {
			return History{}, false, fmt.Errorf("%w: attempts: %w", ErrInvalidHistory, err)
		}
	}
	if err := h.Validate(); err != nil {
		return History{}, false, err
	}
	return h, checked, nil
}

// MTBF estimates the mean time between counted failures from the history: the
// running time of attempts with a known start divided by the number of counted
// failures among them (the maximum-likelihood estimate for exponential lifetimes).
// ok is false when no such attempt failed.
func (h History) MTBF() (mtbf time.Duration, failures int, ok bool) {
	var up time.Duration
	for _, r := range h.Attempts {
		if r.Start.IsZero() || r.End.Before(r.Start) {
			continue
		}
		up += r.End.Sub(r.Start)
		if r.Exit.Counts() {
			failures++
		}
	}
	if failures == 0 {
		return 0, 0, false
	}
	return up / time.Duration(failures), failures, true
}

// HistoryName is where an application's attempt history is kept in the storage
// directory: outside its cluster's HA data, so cleaning that data up keeps the
// timeline.
func HistoryName(appID string) string { return "attempts/" + appID + "/history.json" }
