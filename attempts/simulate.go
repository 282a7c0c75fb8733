package attempts

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// SimParams describe a Monte Carlo run of the policy.
type SimParams struct {
	MTBF     time.Duration // mean attempt lifetime; lifetimes are exponential
	Duration time.Duration // how long the application should live
	Restart  time.Duration // time from a failure to the next attempt running
	Runs     int           // simulated applications per budget
	Seed     uint64        // run i draws from PCG(Seed, i): the same failures for every budget
}

// Validate reports parameters Simulate cannot use.
func (p SimParams) Validate() error {
	switch {
	case p.MTBF <= 0:
		return errors.New("attempts: simulate: mtbf must be positive")
	case p.Duration <= 0:
		return errors.New("attempts: simulate: duration must be positive")
	case p.Restart < 0:
		return errors.New("attempts: simulate: restart time must not be negative")
	case p.Runs < 1:
		return errors.New("attempts: simulate: runs must be at least 1")
	}
	return nil
}

// SimResult is the outcome of Simulate for one budget.
type SimResult struct {
	Budget Budget
	Runs   int
	Deaths int // runs in which the application failed within the duration
	// MeanFailures is the mean number of attempt failures per run (restarted or not).
	MeanFailures float64
}

// DeathProbability is Deaths / Runs.
func (r SimResult) DeathProbability() float64 { return float64(r.Deaths) / float64(r.Runs) }

// simEpoch is the simulated clock's origin; any fixed instant works.
var simEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

type simClock struct{ now time.Time }

func (c *simClock) Now() time.Time { return c.now }

// Simulate estimates the probability that an application under budget fails within
// p.Duration when its attempts fail with exponential lifetimes of mean p.MTBF and a
// restart takes p.Restart. Every failure is fed to a Policy, so the result has
// exactly the policy's semantics. It is deterministic for a given p, and because
// run i uses the same failure times for every budget, raising MaxAttempts never
// raises the estimate and widening the window never lowers it.
func Simulate(b Budget, p SimParams) (SimResult, error) {
	if err := p.Validate(); err != nil {
		return SimResult{}, err
	}
	if err := b.Validate(); err != nil {
		return SimResult{}, err
	}
	res := SimResult{Budget: b, Runs: p.Runs}
	clock := &simClock{}
	failures := 0
	for i := range p.Runs {
		rng := rand.New(rand.NewPCG(p.Seed, uint64(i)))
		pol := &Policy{budget: b, clock: clock, next: 1, noHistory: true}
		t := time.Duration(0) // since the application started
		for {
			life := time.Duration(rng.ExpFloat64() * float64(p.MTBF))
			if life >= p.Duration-t {
				break // survives to the end
			}
			t += life
			clock.now = simEpoch.Add(t)
			failures++
			d, err := pol.Decide(Exit{Kind: ExitFailed})
			if err != nil {
				return SimResult{}, fmt.Errorf("attempts: simulate: %w", err)
			}
			if !d.Restart {
				res.Deaths++
				break
			}
			t += p.Restart
		}
	}
	res.MeanFailures = float64(failures) / float64(p.Runs)
	return res, nil
}
