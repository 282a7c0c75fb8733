package attempts

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) Advance(d time.Duration) { c.now = c.now.Add(d) }

var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// step advances the clock by after, reports exit and expects a decision.
type step struct {
	after   time.Duration
	exit    ExitKind
	final   FinalStatus // for ExitFinished
	restart bool
	reason  Reason
	counted int
	status  FinalStatus
}

func fail(after time.Duration, restart bool, reason Reason, counted int) step {
	st := step{after: after, exit: ExitFailed, restart: restart, reason: reason, counted: counted}
	if !restart {
		st.status = FinalFailed
	}
	return st
}

func notCounted(after time.Duration, kind ExitKind, counted int) step {
	return step{after: after, exit: kind, restart: true, reason: ReasonNotCounted, counted: counted}
}

func TestDecideTable(t *testing.T) {
	const w = 10 * time.Second
	cases := []struct {
		name   string
		budget Budget
		steps  []step
	}{
		{"two attempts, second failure ends", Budget{MaxAttempts: 2, Window: w}, []step{
			fail(time.Second, true, ReasonWithinBudget, 1),
			fail(time.Second, false, ReasonBudgetExhausted, 2),
		}},
		{"failure exactly on the window boundary is forgiven", Budget{MaxAttempts: 2, Window: w}, []step{
			fail(time.Second, true, ReasonWithinBudget, 1),
			fail(w, true, ReasonWithinBudget, 1), // first ended at now−w: not > now−w
			fail(w, true, ReasonWithinBudget, 1),
		}},
		{"failure just inside the window counts", Budget{MaxAttempts: 2, Window: w}, []step{
			fail(time.Second, true, ReasonWithinBudget, 1),
			fail(w-time.Nanosecond, false, ReasonBudgetExhausted, 2),
		}},
		{"failure just after the boundary is forgiven", Budget{MaxAttempts: 2, Window: w}, []step{
			fail(time.Second, true, ReasonWithinBudget, 1),
			fail(w+time.Nanosecond, true, ReasonWithinBudget, 1),
		}},
		{"three attempts, sliding", Budget{MaxAttempts: 3, Window: w}, []step{
			fail(0, true, ReasonWithinBudget, 1),
			fail(6*time.Second, true, ReasonWithinBudget, 2),
			fail(6*time.Second, true, ReasonWithinBudget, 2), // the first left at +10s
			fail(3*time.Second, false, ReasonBudgetExhausted, 3),
		}},
		{"non-counting exits restart and are not counted", Budget{MaxAttempts: 2, Window: w}, []step{
			notCounted(time.Second, ExitPreempted, 0),
			notCounted(time.Second, ExitAborted, 0),
			notCounted(time.Second, ExitDisksFailed, 0),
			notCounted(time.Second, ExitKilledBySupervisor, 0),
			fail(time.Second, true, ReasonWithinBudget, 1),
			notCounted(time.Second, ExitPreempted, 1),
			fail(time.Second, false, ReasonBudgetExhausted, 2),
		}},
		{"non-counting exit with a single attempt still restarts", Budget{MaxAttempts: 1, Window: w}, []step{
			notCounted(time.Second, ExitPreempted, 0),
			fail(time.Second, false, ReasonSingleAttempt, 1),
		}},
		{"attempts=1 never restarts a failure", Budget{MaxAttempts: 1, Window: w}, []step{
			fail(time.Hour, false, ReasonSingleAttempt, 1),
		}},
		{"finished ends with the reported status", Budget{MaxAttempts: 2, Window: w}, []step{
			fail(time.Second, true, ReasonWithinBudget, 1),
			{after: time.Second, exit: ExitFinished, final: FinalSucceeded, reason: ReasonFinished, counted: 1, status: FinalSucceeded},
		}},
		{"finished FAILED is not a failed attempt", Budget{MaxAttempts: 1, Window: 0}, []step{
			{after: time.Second, exit: ExitFinished, final: FinalFailed, reason: ReasonFinished, counted: 0, status: FinalFailed},
		}},
		{"finished KILLED", Budget{MaxAttempts: 3, Window: w}, []step{
			{exit: ExitFinished, final: FinalKilled, reason: ReasonFinished, status: FinalKilled},
		}},
		{"window 0 counts all", Budget{MaxAttempts: 3, Window: 0}, []step{
			fail(0, true, ReasonWithinBudget, 1),
			fail(24*time.Hour, true, ReasonWithinBudget, 2),
			fail(24*time.Hour, false, ReasonBudgetExhausted, 3),
		}},
		{"window -1 counts all", Budget{MaxAttempts: 2, Window: -time.Millisecond}, []step{
			fail(0, true, ReasonWithinBudget, 1),
			fail(365*24*time.Hour, false, ReasonBudgetExhausted, 2),
		}},
		{"crash loop slower than the window restarts forever", Budget{MaxAttempts: 2, Window: w}, []step{
			fail(30*time.Second, true, ReasonWithinBudget, 1),
			fail(30*time.Second, true, ReasonWithinBudget, 1),
			fail(30*time.Second, true, ReasonWithinBudget, 1),
			fail(30*time.Second, true, ReasonWithinBudget, 1),
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: t0}
			p, err := New(tc.budget, clock, History{})
			require.NoError(t, err)
			for i, st := range tc.steps {
				clock.Advance(st.after)
				d, err := p.Decide(Exit{Kind: st.exit, FinalStatus: st.final})
				require.NoError(t, err, "step %d", i)
				want := Decision{Restart: st.restart, Reason: st.reason, FinalStatus: st.status,
					Attempt: i + 1, CountedFailures: st.counted, MaxAttempts: tc.budget.MaxAttempts, Window: tc.budget.Window}
				require.Equal(t, want, d, "step %d", i)
			}
			h := p.History()
			require.Len(t, h.Attempts, len(tc.steps))
			require.NoError(t, h.Validate())
			last := tc.steps[len(tc.steps)-1]
			if !last.restart {
				_, err := p.Decide(Exit{Kind: ExitFailed})
				require.ErrorIs(t, err, ErrEnded)
				require.Len(t, p.History().Attempts, len(tc.steps), "nothing recorded after the end")
				require.Equal(t, 0, p.Remaining())
			}
		})
	}
}

// TestRebuiltFromHistoryDecidesTheSame replays every prefix of a history into a
// fresh policy (as after a supervisor restart, through JSON) and checks the next
// decision equals the original policy's.
func TestRebuiltFromHistoryDecidesTheSame(t *testing.T) {
	const w = 10 * time.Second
	b := Budget{MaxAttempts: 3, Window: w}
	type ev struct {
		after time.Duration
		kind  ExitKind
	}
	evs := []ev{
		{time.Second, ExitFailed}, {4 * time.Second, ExitPreempted}, {5 * time.Second, ExitFailed},
		{5 * time.Second, ExitFailed}, // the first is exactly on the boundary: forgiven
		{time.Second, ExitAborted}, {2 * time.Second, ExitFailed},
	}
	clock := &fakeClock{now: t0}
	orig, err := New(b, clock, History{})
	require.NoError(t, err)
	for i, e := range evs {
		clock.Advance(e.after)

		data, err := json.Marshal(orig.History())
		require.NoError(t, err)
		h, err := DecodeHistory(bytes.NewReader(data))
		require.NoError(t, err)
		rebuiltClock := &fakeClock{now: clock.now}
		rebuilt, err := New(b, rebuiltClock, h)
		require.NoError(t, err)
		require.Equal(t, orig.NextAttempt(), rebuilt.NextAttempt())
		require.Equal(t, orig.CountedFailures(), rebuilt.CountedFailures(), "event %d", i)
		require.Equal(t, orig.Remaining(), rebuilt.Remaining(), "event %d", i)

		want, errW := orig.Decide(Exit{Kind: e.kind})
		got, errG := rebuilt.Decide(Exit{Kind: e.kind})
		require.Equal(t, errW, errG)
		require.Equal(t, want, got, "event %d", i)
	}
	last, ok := orig.Ended()
	require.True(t, ok, "the history ends the application")
	require.Equal(t, ReasonBudgetExhausted, last.Reason)

	// A rebuilt policy refuses to restart an ended application.
	rebuilt, err := New(b, &fakeClock{now: clock.now.Add(time.Hour)}, orig.History())
	require.NoError(t, err)
	_, err = rebuilt.Decide(Exit{Kind: ExitFailed})
	require.ErrorIs(t, err, ErrEnded)
}

func TestRemainingGrowsBackAsFailuresLeaveTheWindow(t *testing.T) {
	clock := &fakeClock{now: t0}
	p, err := New(Budget{MaxAttempts: 3, Window: time.Minute}, clock, History{})
	require.NoError(t, err)
	require.Equal(t, 2, p.Remaining())
	_, err = p.Decide(Exit{Kind: ExitFailed})
	require.NoError(t, err)
	require.Equal(t, 1, p.Remaining())
	clock.Advance(time.Minute)
	require.Equal(t, 2, p.Remaining())
	require.Equal(t, 0, p.CountedFailures())
}

func TestDecideRejectsInvalidExits(t *testing.T) {
	p, err := New(Budget{MaxAttempts: 2}, &fakeClock{now: t0}, History{})
	require.NoError(t, err)
	_, err = p.Decide(Exit{Kind: "exploded"})
	require.ErrorIs(t, err, ErrInvalidExit)
	_, err = p.Decide(Exit{Kind: ExitFinished})
	require.ErrorIs(t, err, ErrInvalidExit)
	_, err = p.Decide(Exit{Kind: ExitFinished, FinalStatus: "UNDEFINED"})
	require.ErrorIs(t, err, ErrInvalidExit)
	require.Empty(t, p.History().Attempts)
	require.Equal(t, 1, p.NextAttempt())
}

func TestNewRejectsBadBudgetAndHistory(t *testing.T) {
	_, err := New(Budget{MaxAttempts: 0}, nil, History{})
	require.Error(t, err)

	end := t0
	rec := func(n int, at time.Time, r Reason) AttemptRecord {
		return AttemptRecord{Attempt: n, End: at, Exit: ExitFailed, Counted: true, Reason: r}
	}
	bad := map[string]History{
		"attempt numbers repeat": {Attempts: []AttemptRecord{rec(1, end, ReasonWithinBudget), rec(1, end, ReasonWithinBudget)}},
		"time goes backwards":    {Attempts: []AttemptRecord{rec(1, end, ReasonWithinBudget), rec(2, end.Add(-time.Second), ReasonWithinBudget)}},
		"after the end":          {Attempts: []AttemptRecord{rec(1, end, ReasonBudgetExhausted), rec(2, end, ReasonWithinBudget)}},
		"unknown reason":         {Attempts: []AttemptRecord{rec(1, end, "bored")}},
		"no end time":            {Attempts: []AttemptRecord{rec(1, time.Time{}, ReasonWithinBudget)}},
		"newer version":          {Version: HistoryVersion + 1},
	}
	for name, h := range bad {
		_, err := New(Budget{MaxAttempts: 2}, nil, h)
		require.ErrorIs(t, err, ErrInvalidHistory, name)
	}
}

func TestHistoryJSONRoundTrip(t *testing.T) {
	clock := &fakeClock{now: t0}
	p, err := New(Budget{MaxAttempts: 3, Window: time.Minute}, clock, History{})
	require.NoError(t, err)
	clock.Advance(90 * time.Second)
	_, err = p.Decide(Exit{Kind: ExitFailed, AttemptID: "appattempt_1_0001_000001", Start: t0.Add(time.Second),
		ExitCode: 137, Signal: "SIGKILL", Diagnostics: "killed"})
	require.NoError(t, err)
	clock.Advance(time.Minute)
	_, err = p.Decide(Exit{Kind: ExitPreempted})
	require.NoError(t, err)
	clock.Advance(time.Minute)
	_, err = p.Decide(Exit{Kind: ExitFinished, FinalStatus: FinalSucceeded})
	require.NoError(t, err)

	h := p.History()
	data, err := json.MarshalIndent(h, "", "  ")
	require.NoError(t, err)
	require.Contains(t, string(data), `"exit": "failed"`)
	require.Contains(t, string(data), `"reason": "not-counted"`)
	require.Contains(t, string(data), `"final_status": "SUCCEEDED"`)
	got, err := DecodeHistory(bytes.NewReader(data))
	require.NoError(t, err)
	h.Version = HistoryVersion
	require.Equal(t, h, got)

	empty, err := json.Marshal(History{})
	require.NoError(t, err)
	require.JSONEq(t, `{"version":2,"attempts":[]}`, string(empty))

	_, err = DecodeHistory(bytes.NewReader([]byte(`{"attempts":`)))
	require.ErrorIs(t, err, ErrInvalidHistory)
}

func TestHistoryMTBF(t *testing.T) {
	h := History{Attempts: []AttemptRecord{
		{Attempt: 1, Start: t0, End: t0.Add(10 * time.Minute), Exit: ExitFailed, Reason: ReasonWithinBudget},
		{Attempt: 2, Start: t0.Add(11 * time.Minute), End: t0.Add(21 * time.Minute), Exit: ExitPreempted, Reason: ReasonNotCounted},
		{Attempt: 3, Start: t0.Add(22 * time.Minute), End: t0.Add(32 * time.Minute), Exit: ExitFailed, Reason: ReasonWithinBudget},
	}}
	mtbf, n, ok := h.MTBF()
	require.True(t, ok)
	require.Equal(t, 2, n)
	require.Equal(t, 15*time.Minute, mtbf)
	_, _, ok = History{}.MTBF()
	require.False(t, ok)
}

func TestDecisionLogsAndPrints(t *testing.T) {
	d := Decision{Restart: false, Reason: ReasonBudgetExhausted, FinalStatus: FinalFailed, Attempt: 2, CountedFailures: 2, MaxAttempts: 2, Window: 10 * time.Second}
	require.Equal(t, "attempt 2: end application FAILED (budget-exhausted, 2/2 counted failures in 10s)", d.String())
	require.Contains(t, Decision{Restart: true, Window: -1}.String(), "disabled")
	require.True(t, errors.Is(ErrEnded, ErrEnded))
}

func BenchmarkDecide(b *testing.B) {
	clock := &fakeClock{now: t0}
	p, err := New(Budget{MaxAttempts: 1 << 30, Window: time.Minute}, clock, History{})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		clock.Advance(time.Second)
		if _, err := p.Decide(Exit{Kind: ExitFailed}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStandbyExitsOutOfOrder: hot-standby AMs end in any order; each record keeps
// its own attempt number and the next number stays above all of them.
func TestStandbyExitsOutOfOrder(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	p, err := New(Budget{MaxAttempts: 5, Window: time.Hour}, clock, History{})
	require.NoError(t, err)
	d, err := p.Decide(Exit{Attempt: 2, Kind: ExitFailed})
	require.NoError(t, err)
	require.Equal(t, 2, d.Attempt)
	require.Equal(t, 3, p.NextAttempt())
	d, err = p.Decide(Exit{Attempt: 1, Kind: ExitFailed})
	require.NoError(t, err)
	require.Equal(t, 1, d.Attempt)
	require.Equal(t, 3, p.NextAttempt(), "an older attempt ending does not lower the next number")
	h := p.History()
	require.Equal(t, []int{2, 1}, []int{h.Attempts[0].Attempt, h.Attempts[1].Attempt})
	require.Equal(t, 2, p.CountedFailures())
}

// TestStandbyOutOfOrderHistoryResumes: a history saved with hot-standby attempts
// ended out of order ([2, 1]) is read back by the next supervisor and continues
// above both numbers, instead of being refused as invalid.
func TestStandbyOutOfOrderHistoryResumes(t *testing.T) {
	clock := &fakeClock{now: t0}
	p, err := New(Budget{MaxAttempts: 5, Window: time.Hour}, clock, History{})
	require.NoError(t, err)
	_, err = p.Decide(Exit{Attempt: 2, Kind: ExitFailed})
	require.NoError(t, err)
	clock.Advance(time.Second)
	_, err = p.Decide(Exit{Attempt: 1, Kind: ExitFailed})
	require.NoError(t, err)

	data, err := EncodeHistory(p.History())
	require.NoError(t, err)
	h, err := DecodeHistory(bytes.NewReader(data))
	require.NoError(t, err)
	require.Equal(t, []int{2, 1}, []int{h.Attempts[0].Attempt, h.Attempts[1].Attempt})

	rebuilt, err := New(Budget{MaxAttempts: 5, Window: time.Hour}, clock, h)
	require.NoError(t, err)
	require.Equal(t, 3, rebuilt.NextAttempt(), "the next number stays above every recorded attempt")
	require.Equal(t, 2, rebuilt.CountedFailures())
	d, err := rebuilt.Decide(Exit{Kind: ExitFailed})
	require.NoError(t, err)
	require.Equal(t, 3, d.Attempt)
	require.Equal(t, 3, d.CountedFailures)

	_, err = rebuilt.Decide(Exit{Attempt: 2, Kind: ExitFailed})
	require.ErrorIs(t, err, ErrInvalidExit, "an attempt cannot end twice")
	require.Len(t, rebuilt.History().Attempts, 3)
}
