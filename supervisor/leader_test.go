package supervisor

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/supervisor/rmapi"
)

// newIdle returns a supervisor that runs no process: the tests put AM attempts
// into it by hand and drive it through the real rmapi server and client.
func newIdle(t *testing.T) (*Supervisor, *rmapi.Client) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "app")
	s, err := New(Config{App: containers.AppID{ClusterTimestamp: 1, Seq: 1}, Dir: dir,
		Budget: attempts.Budget{MaxAttempts: 2}, Executable: "/nonexistent", Logger: logging.ForTest(t)})
	require.NoError(t, err)
	t.Cleanup(func() { s.cm.Close() })
	l, err := rmapi.Listen(s.Socket())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rmapi.Serve(ctx, l, s, s.Secret(), logging.ForTest(t)) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	c := rmapi.NewClient(s.Socket(), s.Secret())
	t.Cleanup(c.Close)
	return s, c
}

// addAM registers a running attempt n with a made-up PID (never signalled here).
func addAM(t *testing.T, s *Supervisor, c *rmapi.Client, n, pid int) string {
	t.Helper()
	id := s.attemptIDOf(n)
	s.mu.Lock()
	s.ams[id] = &amProc{n: n, id: id, pid: pid}
	s.mu.Unlock()
	_, err := c.Register(context.Background(), rmapi.RegisterRequest{AttemptID: id, RESTAddress: "http://am" + id})
	require.NoError(t, err)
	return id
}

func report(t *testing.T, c *rmapi.Client, id string, leading bool) {
	t.Helper()
	require.NoError(t, c.Leadership(context.Background(), rmapi.LeadershipRequest{AttemptID: id, Leading: leading}))
}

func leadingPID(s *Supervisor) int {
	_, pid := s.leader()
	return pid
}

func statusLeaders(s *Supervisor) []int {
	var pids []int
	for _, a := range s.Status().AMs {
		if a.Leading {
			pids = append(pids, a.PID)
		}
	}
	return pids
}

// TestLeaderIsWhoReportedLeadingLast: with hot standbys the supervisor knows the
// leader only from the AMs' leadership reports; a newer grant wins over an older
// one whose end has not been reported yet, and a reaped AM leads no more.
func TestLeaderIsWhoReportedLeadingLast(t *testing.T) {
	s, c := newIdle(t)
	a := addAM(t, s, c, 1, 101)
	b := addAM(t, s, c, 2, 102)
	require.Zero(t, leadingPID(s), "two AMs, no report: no leader to kill")
	require.Empty(t, statusLeaders(s))
	_, err := s.KillAM()
	require.ErrorContains(t, err, "no leading AM")

	report(t, c, a, true)
	require.Equal(t, 101, leadingPID(s))
	require.Equal(t, []int{101}, statusLeaders(s))

	// a's grant ended (its session expired) and b was granted before a's report
	// of the end came in.
	report(t, c, b, true)
	require.Equal(t, 102, leadingPID(s), "the newer grant leads")
	require.Equal(t, []int{102}, statusLeaders(s), "at most one AM leads in a status")
	report(t, c, a, false)
	require.Equal(t, 102, leadingPID(s), "the older grant's end changes nothing")

	// b's grant ends and a is granted again.
	report(t, c, b, false)
	require.Zero(t, leadingPID(s))
	report(t, c, a, true)
	require.Equal(t, 101, leadingPID(s))

	// a is reaped: the supervisor forgets it without a report.
	s.mu.Lock()
	s.ams[a].pid = 0
	delete(s.ams, a)
	s.mu.Unlock()
	require.Equal(t, 102, leadingPID(s), "the only running AM is the one kill-am hits, leading or not")
	require.Empty(t, statusLeaders(s), "but the status shows no leader until it reports")
}

func TestLeadershipReportsAreCheckedLikeEveryCall(t *testing.T) {
	s, c := newIdle(t)
	ctx := context.Background()
	err := c.Leadership(ctx, rmapi.LeadershipRequest{AttemptID: s.attemptIDOf(7), Leading: true})
	require.ErrorIs(t, err, rmapi.ErrStaleAttempt, "not a running attempt")

	id := s.attemptIDOf(1)
	s.mu.Lock()
	s.ams[id] = &amProc{n: 1, id: id, pid: 101}
	s.mu.Unlock()
	err = c.Leadership(ctx, rmapi.LeadershipRequest{AttemptID: id, Leading: true})
	require.ErrorIs(t, err, rmapi.ErrNotRegistered)
	require.Empty(t, statusLeaders(s))
}
