package attempts

import (
	"fmt"
	"time"

	"github.com/amkeeper/amkeeper/conf"
)

// Budget is the restart budget: how many attempts, over which window.
type Budget struct {
	// MaxAttempts is the effective max attempts, the first attempt included: the
	// application fails when this many counted failures are inside the window.
	// At least 1; 1 means never restart after a counted failure.
	MaxAttempts int
	// Window is the failures validity interval; ≤ 0 counts every failure.
	Window time.Duration

	// Requested is yarn.application-attempts and Cap is
	// yarn.resourcemanager.am.max-attempts, as configured (0 when the budget was
	// not built from a configuration).
	Requested, Cap int
}

// Capped reports whether yarn.resourcemanager.am.max-attempts lowered the request.
func (b Budget) Capped() bool { return b.Cap > 0 && b.Requested > b.Cap }

// Validate reports a budget the policy cannot apply.
func (b Budget) Validate() error {
	if b.MaxAttempts < 1 {
		return fmt.Errorf("attempts: max attempts %d: want 1 or more", b.MaxAttempts)
	}
	return nil
}

// BudgetFromConf returns the budget of a configuration: yarn.application-attempts
// (whose default conf computes: 2 with ZooKeeper high availability, else 1) capped
// by yarn.resourcemanager.am.max-attempts, and the validity interval. When the cap
// applies, it returns a warning naming both keys and their origins.
func BudgetFromConf(c *conf.Config) (Budget, []conf.Warning) {
	if c == nil {
		return Budget{}, nil // invalid: New and Validate reject it with a message
	}
	b := Budget{
		Requested: c.ApplicationAttempts(),
		Cap:       c.AMMaxAttempts(),
		Window:    c.AttemptFailuresValidityInterval(),
	}
	b.MaxAttempts = b.Requested
	var warns []conf.Warning
	if b.Capped() {
		b.MaxAttempts = b.Cap
		req, capE := c.Entry(conf.YarnApplicationAttempts), c.Entry(conf.YarnAMMaxAttempts)
		warns = append(warns, conf.Warning{
			Key:    conf.YarnApplicationAttempts.Key(),
			Origin: req.Origin,
			Msg: fmt.Sprintf("%d exceeds %s=%d (%s): capped to %d attempts",
				b.Requested, conf.YarnAMMaxAttempts.Key(), b.Cap, capE.Origin, b.Cap),
		})
	}
	return b, warns
}

// CountedAtSteadyFailure returns how many counted failures are inside the window
// at most when every attempt fails lifetime after the previous failure (a crash
// loop), and whether that is fewer than max attempts, i.e. such a loop is
// restarted forever. With the window disabled, the count is unbounded.
func (b Budget) CountedAtSteadyFailure(lifetime time.Duration) (counted int, forever bool) {
	if b.Window <= 0 || lifetime <= 0 {
		return b.MaxAttempts, false
	}
	// Failures at k·L; at a failure n·L those with k·L > n·L − W count: ⌈W/L⌉.
	n := int((b.Window + lifetime - 1) / lifetime)
	return n, n < b.MaxAttempts
}
