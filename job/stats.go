package job

import (
	"sync"
	"time"
)

// GapThreshold is the shortest gap between two consecutive records reaching a
// sink that RecordStats keeps: shorter ones are the normal pace.
const GapThreshold = 2 * time.Millisecond

// maxGaps bounds the gaps RecordStats keeps (the newest).
const maxGaps = 256

// Gap is a time without records reaching a sink: from the record before it to the
// one that ended it.
type Gap struct {
	End    time.Time     `json:"end"`
	Length time.Duration `json:"lengthNs"`
}

// RecordStats observes the records reaching one subtask's sink, across the task
// instances that run it in one process (a restore replaces the instance, not its
// stats): the newest gaps of at least GapThreshold — the processing stall a
// failover causes — and how many source records were processed again after a
// restore. Safe for concurrent use; the zero value is ready.
type RecordStats struct {
	mu       sync.Mutex
	last     time.Time
	gaps     []Gap // oldest first, at most maxGaps
	replayed int64
	seen     int64 // the most source records an instance reached
}

// arrived notes a record reaching the sink at now.
func (s *RecordStats) arrived(now time.Time) {
	s.mu.Lock()
	if !s.last.IsZero() {
		if d := now.Sub(s.last); d >= GapThreshold {
			if len(s.gaps) == maxGaps {
				s.gaps = append(s.gaps[:0], s.gaps[1:]...)
			}
			s.gaps = append(s.gaps, Gap{End: now, Length: d})
		}
	}
	s.last = now
	s.mu.Unlock()
}

// reached notes that an instance has processed n source records in all (its
// restored count included).
func (s *RecordStats) reached(n int64) {
	s.mu.Lock()
	s.seen = max(s.seen, n)
	s.mu.Unlock()
}

// restoredAt notes that an instance restored to n source records: whatever an
// earlier instance processed beyond n is processed again.
func (s *RecordStats) restoredAt(n int64) {
	s.mu.Lock()
	if s.seen > n {
		s.replayed += s.seen - n
	}
	s.seen = n
	s.mu.Unlock()
}

// Gaps returns the newest gaps, oldest first.
func (s *RecordStats) Gaps() []Gap {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Gap(nil), s.gaps...)
}

// Replayed returns how many source records were processed again after restores.
func (s *RecordStats) Replayed() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replayed
}
