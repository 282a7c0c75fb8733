package attempts

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/internal/logging"
)

// Errors returned by Policy.
var (
	// ErrEnded is returned by Decide once a decision has ended the application.
	ErrEnded = errors.New("attempts: application has ended")
	// ErrInvalidExit is returned for an unknown exit kind or a Finished exit without
	// a final status.
	ErrInvalidExit = errors.New("attempts: invalid exit")
	// ErrInvalidHistory is returned by New and DecodeHistory for a history that
	// cannot have been written by a Policy.
	ErrInvalidHistory = errors.New("attempts: invalid history")
)

// ExitKind says how an attempt ended. It is stored in the history as its string.
type ExitKind string

// Exit kinds.
const (
	// ExitFailed is an exit without FinishApplicationMaster: a crash, a non-zero
	// exit, a signal such as SIGKILL. It counts against the budget.
	ExitFailed ExitKind = "failed"
	// ExitFinished is FinishApplicationMaster with SUCCEEDED, FAILED or KILLED: the
	// application ends with that status and is not restarted.
	ExitFinished ExitKind = "finished"
	// ExitPreempted is an AM preempted by the scheduler (YARN PREEMPTED). Not counted.
	ExitPreempted ExitKind = "preempted"
	// ExitAborted is an AM lost with its node or released by the framework (YARN
	// ABORTED). Not counted.
	ExitAborted ExitKind = "aborted"
	// ExitDisksFailed is an AM ended because its node's local or log disks went bad
	// (YARN DISKS_FAILED). Not counted.
	ExitDisksFailed ExitKind = "disks-failed"
	// ExitKilledBySupervisor is an AM the supervisor killed itself, e.g. when it
	// stopped heartbeating (YARN KILLED_BY_RESOURCEMANAGER). Not counted.
	ExitKilledBySupervisor ExitKind = "killed-by-supervisor"
)

// ExitKinds lists every exit kind.
var ExitKinds = []ExitKind{ExitFailed, ExitFinished, ExitPreempted, ExitAborted, ExitDisksFailed, ExitKilledBySupervisor}

// Valid reports whether k is one of the exit kinds.
func (k ExitKind) Valid() bool {
	for _, v := range ExitKinds {
		if k == v {
			return true
		}
	}
	return false
}

// Counts reports whether an attempt that ended this way counts against the budget:
// only ExitFailed does.
func (k ExitKind) Counts() bool { return k == ExitFailed }

// FinalStatus is the application's final status, as FinishApplicationMaster reports
// it or as the policy decides it. Its values are YARN's, the same strings the
// AM–supervisor protocol carries.
type FinalStatus string

// Final statuses. FinalUndefined means the application goes on.
const (
	FinalUndefined FinalStatus = ""
	FinalSucceeded FinalStatus = "SUCCEEDED"
	FinalFailed    FinalStatus = "FAILED"
	FinalKilled    FinalStatus = "KILLED"
)

// Valid reports whether s is a final status an application can end with.
func (s FinalStatus) Valid() bool { return s == FinalSucceeded || s == FinalFailed || s == FinalKilled }

// Reason says why a decision was taken.
type Reason string

// Reasons.
const (
	// ReasonWithinBudget: a counted failure, fewer than max attempts in the window;
	// restart.
	ReasonWithinBudget Reason = "within-budget"
	// ReasonNotCounted: an exit that does not count (preempted, aborted, disks
	// failed, killed by the supervisor); restart.
	ReasonNotCounted Reason = "not-counted"
	// ReasonBudgetExhausted: the counted failures in the window reached max
	// attempts; the application fails.
	ReasonBudgetExhausted Reason = "budget-exhausted"
	// ReasonSingleAttempt: max attempts is 1 and the only attempt failed; the
	// application fails.
	ReasonSingleAttempt Reason = "single-attempt"
	// ReasonFinished: the AM called FinishApplicationMaster; the application ends
	// with the status it reported.
	ReasonFinished Reason = "finished"
)

// Ends reports whether a decision with this reason ends the application.
func (r Reason) Ends() bool {
	return r == ReasonBudgetExhausted || r == ReasonSingleAttempt || r == ReasonFinished
}

// Clock tells the time. The policy reads time only through it.
type Clock interface{ Now() time.Time }

// ClockFunc adapts a function to Clock.
type ClockFunc func() time.Time

// Now calls f.
func (f ClockFunc) Now() time.Time { return f() }

// SystemClock is the wall clock.
var SystemClock Clock = ClockFunc(time.Now)

// Exit is what the supervisor knows about an attempt that ended.
type Exit struct {
	// Attempt is the ended attempt's number; 0 means the next one in sequence.
	// Hot-standby AMs run concurrently, so their exits need not come in order.
	Attempt     int
	Kind        ExitKind
	FinalStatus FinalStatus // ExitFinished only: what FinishApplicationMaster reported
	AttemptID   string      // e.g. appattempt_<ts>_<seq>_000001; optional
	Start       time.Time   // when the attempt started; optional
	ExitCode    int         // process exit code, if any
	Signal      string      // the signal that ended the process, if any
	Diagnostics string      // free text kept in the history
}

// Decision is the policy's answer for one ended attempt.
type Decision struct {
	Restart bool   // start another attempt
	Reason  Reason // why
	// FinalStatus is the application's final status when it ends (Restart false):
	// the reported one for ReasonFinished, FAILED when the budget is exhausted.
	FinalStatus     FinalStatus
	Attempt         int           // the attempt that ended, 1-based
	CountedFailures int           // counted failures inside the window, this one included
	MaxAttempts     int           // the effective max attempts
	Window          time.Duration // the validity interval; ≤ 0 when disabled
}

// String renders the decision for humans.
func (d Decision) String() string {
	verb := "restart"
	if !d.Restart {
		verb = "end application"
		if d.FinalStatus != FinalUndefined {
			verb += " " + string(d.FinalStatus)
		}
	}
	return fmt.Sprintf("attempt %d: %s (%s, %d/%d counted failures in %s)",
		d.Attempt, verb, d.Reason, d.CountedFailures, d.MaxAttempts, WindowString(d.Window))
}

// MarshalZerologObject logs the decision with the shared field keys.
func (d Decision) MarshalZerologObject(e *zerolog.Event) {
	e.Int(logging.Attempt, d.Attempt).
		Bool("restart", d.Restart).
		Str(logging.Reason, string(d.Reason)).
		Int("counted_failures", d.CountedFailures).
		Int("max_attempts", d.MaxAttempts).
		Dur("window", d.Window)
	if d.FinalStatus != FinalUndefined {
		e.Str("final_status", string(d.FinalStatus))
	}
}

var _ zerolog.LogObjectMarshaler = Decision{}

// WindowString renders a validity interval, "disabled" when ≤ 0.
func WindowString(w time.Duration) string {
	if w <= 0 {
		return "disabled"
	}
	return w.String()
}

// Policy decides, for each ended attempt, whether to restart. It is safe for
// concurrent use; it never blocks except on its own mutex.
type Policy struct {
	mu      sync.Mutex
	budget  Budget
	clock   Clock
	history History
	// counted holds the end times of counted failures not yet known to be outside
	// the window, oldest first.
	counted []time.Time
	next    int       // the next attempt number
	ended   *Decision // the decision that ended the application
	// noHistory skips recording attempts (the simulator's hot loop).
	noHistory bool
}

// New returns a policy for budget reading time from clock (nil means SystemClock),
// continuing from a recovered history (the zero History for a new application).
// It returns an error wrapping ErrInvalidHistory when the history is inconsistent,
// and an error when the budget is not valid.
func New(budget Budget, clock Clock, recovered History) (*Policy, error) {
	if err := budget.Validate(); err != nil {
		return nil, err
	}
	if err := recovered.Validate(); err != nil {
		return nil, err
	}
	if clock == nil {
		clock = SystemClock
	}
	p := &Policy{budget: budget, clock: clock, next: 1}
	for _, r := range recovered.Attempts {
		if r.Exit.Counts() {
			p.counted = append(p.counted, r.End)
		}
		p.next = max(p.next, r.Attempt+1) // standby attempts end in any order
		if r.Reason.Ends() {
			d := Decision{Reason: r.Reason, FinalStatus: r.FinalStatus, Attempt: r.Attempt,
				MaxAttempts: budget.MaxAttempts, Window: budget.Window}
			p.ended = &d
		}
	}
	p.history.Attempts = append([]AttemptRecord(nil), recovered.Attempts...)
	return p, nil
}

// NextAttempt returns the number the next attempt gets, 1-based.
func (p *Policy) NextAttempt() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next
}

// Ended returns the decision that ended the application, if one did.
func (p *Policy) Ended() (Decision, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended == nil {
		return Decision{}, false
	}
	return *p.ended, true
}

// CountedFailures returns how many counted failures are inside the window now.
func (p *Policy) CountedFailures() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.countLocked(p.clock.Now())
}

// Remaining returns how many more counted failures the application survives now:
// max attempts − counted failures in the window − 1, never below 0. With a window,
// it grows back as failures leave it.
func (p *Policy) Remaining() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended != nil {
		return 0
	}
	return max(0, p.budget.MaxAttempts-p.countLocked(p.clock.Now())-1)
}

// History returns a copy of the attempt history, oldest first.
func (p *Policy) History() History {
	p.mu.Lock()
	defer p.mu.Unlock()
	return History{Attempts: append([]AttemptRecord(nil), p.history.Attempts...)}
}

// Decide records that the current attempt ended as e, at the clock's now, and
// says whether to start another one. It returns ErrEnded once a previous decision
// ended the application, and an error wrapping ErrInvalidExit for an unknown kind,
// a Finished exit without a valid final status, or an attempt number already
// recorded (a history with it twice could not be read back); none is recorded.
func (p *Policy) Decide(e Exit) (Decision, error) {
	if !e.Kind.Valid() {
		return Decision{}, fmt.Errorf("%w: unknown kind %q", ErrInvalidExit, e.Kind)
	}
	if e.Kind == ExitFinished && !e.FinalStatus.Valid() {
		return Decision{}, fmt.Errorf("%w: finished with final status %q, want SUCCEEDED, FAILED or KILLED", ErrInvalidExit, e.FinalStatus)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended != nil {
		return *p.ended, ErrEnded
	}
	now := p.clock.Now()
	attempt := p.next
	if e.Attempt > 0 {
		attempt = e.Attempt
		for _, r := range p.history.Attempts {
			if r.Attempt == attempt {
				return Decision{}, fmt.Errorf("%w: attempt %d already ended (%s at %s)", ErrInvalidExit,
					attempt, r.Exit, r.End.Format(time.RFC3339Nano))
			}
		}
	}
	d := Decision{Attempt: attempt, MaxAttempts: p.budget.MaxAttempts, Window: p.budget.Window}
	if e.Kind.Counts() {
		p.counted = append(p.counted, now)
	}
	d.CountedFailures = p.countLocked(now)
	switch {
	case e.Kind == ExitFinished:
		d.Reason, d.FinalStatus = ReasonFinished, e.FinalStatus
	case d.CountedFailures < d.MaxAttempts:
		d.Restart = true
		d.Reason = ReasonWithinBudget
		if !e.Kind.Counts() {
			d.Reason = ReasonNotCounted
		}
	case d.MaxAttempts == 1:
		d.Reason, d.FinalStatus = ReasonSingleAttempt, FinalFailed
	default:
		d.Reason, d.FinalStatus = ReasonBudgetExhausted, FinalFailed
	}
	if !d.Restart {
		ended := d
		p.ended = &ended
	}
	if !p.noHistory {
		p.history.Attempts = append(p.history.Attempts, AttemptRecord{
			Attempt: d.Attempt, AttemptID: e.AttemptID, Start: e.Start, End: now,
			Exit: e.Kind, ExitCode: e.ExitCode, Signal: e.Signal, Counted: e.Kind.Counts(),
			Reason: d.Reason, FinalStatus: d.FinalStatus, CountedFailures: d.CountedFailures,
			Diagnostics: e.Diagnostics,
		})
	}
	p.next = max(p.next, attempt+1)
	return d, nil
}

// countLocked prunes failures that left the window and counts the rest. A failure
// counts while it ended strictly after now − window (RMAppImpl's comparison).
func (p *Policy) countLocked(now time.Time) int {
	if p.budget.Window <= 0 {
		return len(p.counted)
	}
	cutoff := now.Add(-p.budget.Window)
	i := 0
	for i < len(p.counted) && !p.counted[i].After(cutoff) {
		i++
	}
	if i > 0 {
		// Shift rather than reslice so the backing array does not grow forever.
		n := copy(p.counted, p.counted[i:])
		p.counted = p.counted[:n]
	}
	return len(p.counted)
}
