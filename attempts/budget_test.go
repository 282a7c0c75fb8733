package attempts

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
)

// zkHA are the settings a valid ZooKeeper high-availability configuration needs.
var zkHA = []string{
	"high-availability.type=zookeeper",
	"high-availability.zookeeper.quorum=localhost:2181",
	"high-availability.storageDir=file:///tmp/amkeeper-ha",
}

func TestBudgetFromConf(t *testing.T) {
	cases := []struct {
		name      string
		dynamic   []string
		want      Budget
		warnMatch string
	}{
		{"no HA: one attempt", nil, Budget{MaxAttempts: 1, Requested: 1, Cap: 2, Window: 10 * time.Second}, ""},
		{"ZooKeeper HA: two attempts", zkHA, Budget{MaxAttempts: 2, Requested: 2, Cap: 2, Window: 10 * time.Second}, ""},
		{"capped by the ResourceManager", append([]string{"yarn.application-attempts=10"}, zkHA...),
			Budget{MaxAttempts: 2, Requested: 10, Cap: 2, Window: 10 * time.Second},
			"-D: yarn.application-attempts: 10 exceeds yarn.resourcemanager.am.max-attempts=2 (default): capped to 2 attempts"},
		{"raised cap", append([]string{"yarn.application-attempts=10", "yarn.resourcemanager.am.max-attempts=20",
			"yarn.application-attempt-failures-validity-interval=-1"}, zkHA...),
			Budget{MaxAttempts: 10, Requested: 10, Cap: 20, Window: -time.Millisecond}, ""},
		{"window disabled", []string{"yarn.application-attempt-failures-validity-interval=0"},
			Budget{MaxAttempts: 1, Requested: 1, Cap: 2, Window: 0}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := conf.Load(conf.Options{Dynamic: tc.dynamic, LookupEnv: func(string) (string, bool) { return "", false }})
			require.NoError(t, err)
			b, warns := BudgetFromConf(cfg)
			require.Equal(t, tc.want, b)
			require.Equal(t, tc.want.Requested > tc.want.Cap, b.Capped())
			if tc.warnMatch == "" {
				require.Empty(t, warns)
				return
			}
			require.Len(t, warns, 1)
			require.Equal(t, tc.warnMatch, warns[0].String())
		})
	}
}

func TestCountedAtSteadyFailure(t *testing.T) {
	cases := []struct {
		window, lifetime time.Duration
		max              int
		counted          int
		forever          bool
	}{
		{10 * time.Second, 30 * time.Second, 2, 1, true},
		{10 * time.Second, 10 * time.Second, 2, 1, true}, // the previous one is on the boundary
		{10 * time.Second, 9 * time.Second, 2, 2, false},
		{time.Minute, 30 * time.Second, 3, 2, true},
		{time.Minute, 30 * time.Second, 2, 2, false},
		{0, time.Second, 2, 2, false},
		{-1, time.Second, 5, 5, false},
	}
	for _, tc := range cases {
		n, forever := Budget{MaxAttempts: tc.max, Window: tc.window}.CountedAtSteadyFailure(tc.lifetime)
		require.Equal(t, tc.counted, n, "%+v", tc)
		require.Equal(t, tc.forever, forever, "%+v", tc)
	}
	// The claim matches the policy: a loop failing every lifetime.
	for _, tc := range cases {
		if tc.window <= 0 {
			continue
		}
		clock := &fakeClock{now: t0}
		p, err := New(Budget{MaxAttempts: tc.max, Window: tc.window}, clock, History{})
		require.NoError(t, err)
		ended := false
		for range 100 {
			clock.Advance(tc.lifetime)
			d, err := p.Decide(Exit{Kind: ExitFailed})
			require.NoError(t, err)
			if !d.Restart {
				ended = true
				break
			}
		}
		require.Equal(t, !tc.forever, ended, "%+v", tc)
	}
}
