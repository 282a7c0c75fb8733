package jobmanager

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/taskmanager/tmapi"
)

func TestSilentTaskManagerExpires(t *testing.T) {
	now := time.Unix(1000, 0)
	r := NewTaskManagers(time.Second, 5*time.Second, logging.ForTest(t))
	r.now = func() time.Time { return now }
	s := uuid.New()
	ctx := context.Background()
	r.SetLeader(s)
	_, err := r.Register(ctx, tmapi.Registration{ContainerID: "c1", Slots: 1, LeaderSession: s.String()})
	require.NoError(t, err)
	_, err = r.Register(ctx, tmapi.Registration{ContainerID: "c2", Slots: 1, LeaderSession: s.String()})
	require.NoError(t, err)

	now = now.Add(4 * time.Second)
	require.NoError(t, r.Heartbeat(ctx, tmapi.Heartbeat{ContainerID: "c1", LeaderSession: s.String()}))
	now = now.Add(2 * time.Second) // c2 silent for 6 s, c1 for 2 s
	changed := r.Changed()
	l := r.List()
	require.Len(t, l, 1)
	require.Equal(t, "c1", l[0].ContainerID)
	select {
	case <-changed:
	default:
		t.Fatal("expiry must signal a change")
	}
	// Exactly on the timeout (5 s after c1's heartbeat) is still alive; just past
	// it is not.
	now = now.Add(3 * time.Second)
	require.Len(t, r.List(), 1)
	now = now.Add(time.Nanosecond)
	require.Empty(t, r.List())
}

// TestTimedOutTaskManagerIsToldSo: a TaskManager that registers again after
// the registry timed it out under the same session is told so (its reported
// tasks were replaced) and recorded without them; its heartbeats meanwhile
// are ErrNotRegistered. A registration under a new session starts afresh.
func TestTimedOutTaskManagerIsToldSo(t *testing.T) {
	now := time.Unix(1000, 0)
	r := NewTaskManagers(time.Second, 5*time.Second, logging.ForTest(t))
	r.now = func() time.Time { return now }
	s := uuid.New()
	r.SetLeader(s)
	ctx := context.Background()
	reg := tmapi.Registration{ContainerID: "c1", Slots: 1, LeaderSession: s.String(),
		Tasks: []tmapi.RunningTask{{JobID: "j", Execution: "e1", LastCheckpoint: 4}}}
	res, err := r.Register(ctx, reg)
	require.NoError(t, err)
	require.False(t, res.TimedOut)
	require.Len(t, r.List()[0].Tasks, 1, "an earlier leader's task, reported for adoption")

	now = now.Add(6 * time.Second)
	require.Empty(t, r.List(), "timed out")
	err = r.Heartbeat(ctx, tmapi.Heartbeat{ContainerID: "c1", LeaderSession: s.String()})
	require.ErrorIs(t, err, tmapi.ErrNotRegistered)
	require.ErrorIs(t, err, tmapi.ErrStaleLeader)

	res, err = r.Register(ctx, reg)
	require.NoError(t, err)
	require.True(t, res.TimedOut, "told its reported tasks were replaced")
	l := r.List()
	require.Len(t, l, 1)
	require.Empty(t, l[0].Tasks, "recorded without them")
	res, err = r.Register(ctx, reg)
	require.NoError(t, err)
	require.False(t, res.TimedOut, "told once")

	now = now.Add(6 * time.Second)
	require.Empty(t, r.List())
	s2 := uuid.New()
	r.SetLeader(s2)
	reg.LeaderSession = s2.String()
	res, err = r.Register(ctx, reg)
	require.NoError(t, err)
	require.False(t, res.TimedOut, "a new leader session did not time it out: its tasks may be adopted")
	require.Len(t, r.List()[0].Tasks, 1)
}
