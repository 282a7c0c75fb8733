package attempts

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBackoffGrowsWithCrashesInARow drives a Policy with a fake clock through
// crashes (failures sooner than the minimum uptime) and reads the backoff
// from its history after each: none after the first crash, then Initial,
// doubling, capped at Max; an attempt that lived MinUptime resets the count.
func TestBackoffGrowsWithCrashesInARow(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 5 * time.Second, MinUptime: 10 * time.Second}
	clock := &fakeClock{now: t0}
	p, err := New(Budget{MaxAttempts: 100}, clock, History{})
	require.NoError(t, err)
	run := func(lived time.Duration, kind ExitKind) Wait {
		start := clock.Now()
		clock.Advance(lived)
		_, err := p.Decide(Exit{Kind: kind, Start: start})
		require.NoError(t, err)
		return b.Next(p.History())
	}
	type want struct {
		streak int
		delay  time.Duration
	}
	steps := []struct {
		lived time.Duration
		kind  ExitKind
		want  want
	}{
		{2 * time.Second, ExitFailed, want{1, 0}},                       // the first crash: at once
		{2 * time.Second, ExitFailed, want{2, time.Second}},             // the second: Initial
		{time.Second, ExitFailed, want{3, 2 * time.Second}},             // doubling
		{0, ExitFailed, want{4, 4 * time.Second}},                       // a crash at once is a crash
		{9999 * time.Millisecond, ExitFailed, want{5, 5 * time.Second}}, // capped at Max
		{time.Second, ExitFailed, want{6, 5 * time.Second}},             // stays at Max
		{10 * time.Second, ExitFailed, want{0, 0}},                      // lived exactly MinUptime: resets
		{time.Second, ExitFailed, want{1, 0}},
		{time.Second, ExitFailed, want{2, time.Second}},
		{time.Second, ExitPreempted, want{0, 0}}, // not a failure: resets
		{time.Second, ExitFailed, want{1, 0}},
		{time.Second, ExitKilledBySupervisor, want{0, 0}},
	}
	for i, st := range steps {
		w := run(st.lived, st.kind)
		require.Equal(t, st.want.streak, w.Streak, "step %d: streak", i)
		require.Equal(t, st.want.delay, w.Delay, "step %d: delay", i)
		require.Equal(t, clock.Now().Add(st.want.delay), w.Until, "step %d: until: the end of the last attempt plus the delay", i)
	}
}

// TestBackoffFromRecoveredHistory: a restarted supervisor reads the history back
// and waits as the one before it would have; records without a start time
// (lifetime unknown) are not crashes; a disabled backoff never waits.
func TestBackoffFromRecoveredHistory(t *testing.T) {
	b := Backoff{Initial: 500 * time.Millisecond, Max: time.Minute, MinUptime: 10 * time.Second}
	crash := func(n int) AttemptRecord {
		start := t0.Add(time.Duration(n) * time.Minute)
		return AttemptRecord{Attempt: n, Start: start, End: start.Add(time.Second), Exit: ExitFailed, Counted: true, Reason: ReasonWithinBudget}
	}
	h := History{Attempts: []AttemptRecord{crash(1), crash(2), crash(3)}}
	w := b.Next(h)
	require.Equal(t, Wait{Streak: 3, Delay: time.Second, Until: h.Attempts[2].End.Add(time.Second)}, w)

	unknown := crash(4)
	unknown.Start = time.Time{}
	h.Attempts = append(h.Attempts, unknown)
	require.Equal(t, 0, b.Next(h).Streak)

	require.Equal(t, time.Duration(0), Backoff{MinUptime: time.Minute}.Next(History{Attempts: []AttemptRecord{crash(1), crash(2), crash(3)}}).Delay)
	require.Equal(t, Wait{}, b.Next(History{}))
}

// TestBackoffDelayNeverOverflows: a long crash loop stays at Max.
func TestBackoffDelayNeverOverflows(t *testing.T) {
	b := Backoff{Initial: time.Hour, Max: 1<<63 - 1, MinUptime: time.Second}
	require.Equal(t, time.Duration(1<<63-1), b.delay(1000))
	require.Equal(t, 3*time.Second, Backoff{Initial: 3 * time.Second, Max: time.Second}.delay(10), "a Max below Initial: Initial")
}
