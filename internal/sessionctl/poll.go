package sessionctl

import (
	"context"
	"errors"
	"time"
)

// DefaultPollPeriod is how often Poll looks.
const DefaultPollPeriod = 50 * time.Millisecond

// Poll calls f every DefaultPollPeriod until it reports done, ctx ends or the
// deadline passes, and returns f's value; the error then says what did not
// happen within the deadline.
func Poll[T any](ctx context.Context, within time.Duration, f func() (T, bool), what string) (T, error) {
	return PollEvery(ctx, DefaultPollPeriod, within, f, what)
}

// PollEvery is Poll with a period of its own (a benchmark timing a failover
// looks every few milliseconds).
func PollEvery[T any](ctx context.Context, period, within time.Duration, f func() (T, bool), what string) (T, error) {
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		if v, ok := f(); ok {
			return v, nil
		}
		var zero T
		select {
		case <-ctx.Done():
			return zero, ctx.Err()
		case <-deadline.C:
			return zero, errors.New(what + " within " + within.String())
		case <-tick.C:
		}
	}
}
