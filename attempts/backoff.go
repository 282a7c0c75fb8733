package attempts

import (
	"fmt"
	"time"

	"github.com/amkeeper/amkeeper/conf"
)

// Backoff is the crash-loop backoff: how long the supervisor waits before it
// starts the next attempt after attempts that failed soon after their start.
// It is a pure function of the attempt history: no clock, no state of its own,
// so a restarted supervisor (which reads the history back) waits as the one
// before it would have.
//
// A crash is a failed attempt (ExitFailed) that ended less than MinUptime after
// it started. The streak is the number of crashes at the end of the history, back
// to the first attempt that lived at least MinUptime or ended any other way
// (finished, preempted, stopped by the supervisor): such an attempt resets it.
// The first crash of a streak is restarted at once (a failover must stay fast);
// the second waits Initial, each further one twice as long as the one before, at
// most Max.
type Backoff struct {
	Initial   time.Duration // the wait after the second crash in a row; ≤ 0 disables the backoff
	Max       time.Duration // the longest wait (below Initial: Initial)
	MinUptime time.Duration // an attempt that failed sooner than this after its start is a crash
}

// BackoffFromConf reads amkeeper.attempts.backoff.initial, .max and .min-uptime.
func BackoffFromConf(c *conf.Config) Backoff {
	if c == nil {
		return Backoff{}
	}
	return Backoff{
		Initial:   c.Duration(conf.AttemptBackoffInitial),
		Max:       c.Duration(conf.AttemptBackoffMax),
		MinUptime: c.Duration(conf.AttemptBackoffMinUptime),
	}
}

// Wait is what Next says about the attempt to start.
type Wait struct {
	Streak int           // crashes in a row at the end of the history
	Delay  time.Duration // how long after the last attempt's end to wait; 0: start at once
	Until  time.Time     // the last attempt's end plus Delay: when the next attempt may start
}

// String renders the wait for humans.
func (w Wait) String() string {
	if w.Delay <= 0 {
		return fmt.Sprintf("no backoff (%d crash(es) in a row)", w.Streak)
	}
	return fmt.Sprintf("backoff %s after %d crashes in a row, until %s", w.Delay, w.Streak, w.Until.Format(time.RFC3339Nano))
}

// Next returns how long to wait before the attempt that follows history h.
// Records without a start time are not crashes (their lifetime is unknown).
func (b Backoff) Next(h History) Wait {
	var w Wait
	for i := len(h.Attempts) - 1; i >= 0; i-- {
		r := h.Attempts[i]
		if r.Exit != ExitFailed || r.Start.IsZero() || r.End.Sub(r.Start) >= b.MinUptime {
			break
		}
		w.Streak++
	}
	if n := len(h.Attempts); n > 0 {
		w.Until = h.Attempts[n-1].End
	}
	w.Delay = b.delay(w.Streak)
	w.Until = w.Until.Add(w.Delay)
	return w
}

// delay is the wait after streak crashes in a row.
func (b Backoff) delay(streak int) time.Duration {
	if b.Initial <= 0 || streak < 2 {
		return 0
	}
	limit := max(b.Initial, b.Max) // a Max below Initial: Initial, not growing
	d := b.Initial
	for i := 2; i < streak && d < limit; i++ {
		if d > limit/2 {
			d = limit // doubling would pass it (or overflow)
		} else {
			d *= 2
		}
	}
	return d
}
