package attempts

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSimulateDeterministicAndMonotonic(t *testing.T) {
	p := SimParams{MTBF: 5 * time.Minute, Duration: 24 * time.Hour, Restart: time.Second, Runs: 200, Seed: 7}
	windows := []time.Duration{0, 10 * time.Second, time.Minute, 10 * time.Minute, time.Hour}
	attempts := []int{1, 2, 3, 5, 10}
	for _, w := range windows {
		prev := 2.0
		for _, a := range attempts {
			r, err := Simulate(Budget{MaxAttempts: a, Window: w}, p)
			require.NoError(t, err)
			again, err := Simulate(Budget{MaxAttempts: a, Window: w}, p)
			require.NoError(t, err)
			require.Equal(t, r, again, "deterministic for a seed")
			pr := r.DeathProbability()
			require.LessOrEqual(t, pr, prev, "more attempts never raise the death probability (window %s, attempts %d)", w, a)
			prev = pr
			if a == 1 {
				require.Equal(t, 1.0, pr, "one attempt dies at the first failure: 288 expected in a day")
			}
		}
	}
	// Window disabled: every failure counts, so 10 attempts die within a day.
	r, err := Simulate(Budget{MaxAttempts: 10, Window: 0}, p)
	require.NoError(t, err)
	require.Equal(t, 1.0, r.DeathProbability())
	// With a 1-hour MTBF, two failures 9 s apart (10 s window, 1 s restart) are
	// rare: about 24 failures a day, each followed that fast with p ≈ 0.25%.
	hourly := p
	hourly.MTBF = time.Hour
	r, err = Simulate(Budget{MaxAttempts: 2, Window: 10 * time.Second}, hourly)
	require.NoError(t, err)
	require.Less(t, r.DeathProbability(), 0.2)
	require.InDelta(t, 24, r.MeanFailures, 3)

	// Widening the window never lowers the probability.
	for _, a := range attempts {
		prev := -1.0
		for _, w := range []time.Duration{10 * time.Second, time.Minute, 10 * time.Minute, time.Hour} {
			r, err := Simulate(Budget{MaxAttempts: a, Window: w}, p)
			require.NoError(t, err)
			require.GreaterOrEqual(t, r.DeathProbability(), prev)
			prev = r.DeathProbability()
		}
	}
}

func TestSimulateValidates(t *testing.T) {
	ok := SimParams{MTBF: time.Minute, Duration: time.Hour, Runs: 1}
	for _, p := range []SimParams{
		{Duration: time.Hour, Runs: 1},
		{MTBF: time.Minute, Runs: 1},
		{MTBF: time.Minute, Duration: time.Hour},
		{MTBF: time.Minute, Duration: time.Hour, Runs: 1, Restart: -1},
	} {
		_, err := Simulate(Budget{MaxAttempts: 1}, p)
		require.Error(t, err, "%+v", p)
	}
	_, err := Simulate(Budget{}, ok)
	require.Error(t, err)
}

func BenchmarkSimulate(b *testing.B) {
	p := SimParams{MTBF: 5 * time.Minute, Duration: 24 * time.Hour, Restart: time.Second, Runs: 100, Seed: 1}
	for b.Loop() {
		if _, err := Simulate(Budget{MaxAttempts: 10, Window: 10 * time.Second}, p); err != nil {
			b.Fatal(err)
		}
	}
}
