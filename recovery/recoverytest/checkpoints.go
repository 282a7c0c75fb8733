package recovery_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/recovery"
)

func (i *hsInst) checkpoints(jobID string, retain int) *recovery.Checkpoints {
	t := i.e.t
	var s *recovery.Checkpoints
	var err error
	if i.e.zk {
		s, err = recovery.NewZooKeeperCheckpointStore(i.cl, i.e.st, hsCluster, i.id, hsLog(t), jobID, retain)
	} else {
		s, err = recovery.NewEmbeddedCheckpointStore(hsCtx(t), i.e.dir, i.e.st, hsCluster, i.id, hsLog(t), jobID, retain)
	}
	require.NoError(t, err)
	return s
}

func cpOf(id int64) recovery.CompletedCheckpoint {
	return recovery.CompletedCheckpoint{JobID: "job1", ID: id, Timestamp: time.Unix(id, 0).UTC(), Metadata: []byte{byte(id), 'm'}}
}

func (e *haEnv) checkpointPayloads() []string {
	var out []string
	for _, n := range e.payloads() {
		if strings.Contains(n, "completedCheckpoint-") {
			out = append(out, n)
		}
	}
	return out
}

func TestCheckpointStoreRetainAndSubsume(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *haEnv) {
		ctx := hsCtx(t)
		s := e.instance().checkpoints("job1", 2)

		_, _, ok, err := s.Latest(ctx)
		require.NoError(t, err)
		require.False(t, ok)

		for id := int64(1); id <= 2; id++ {
			sub, err := s.Add(ctx, e.guard, cpOf(id))
			require.NoError(t, err)
			require.Empty(t, sub)
		}
		sub, err := s.Add(ctx, e.guard, cpOf(3))
		require.NoError(t, err)
		require.Equal(t, []int64{1}, sub)
		ids, err := s.IDs(ctx)
		require.NoError(t, err)
		require.Equal(t, []int64{2, 3}, ids)
		require.Len(t, e.checkpointPayloads(), 2)
		require.False(t, e.pointerExists(recovery.CheckpointsDir("job1"), "0000000000000000001"))
		require.True(t, e.pointerExists(recovery.CheckpointsDir("job1"), "0000000000000000003"))

		cp, skipped, ok, err := s.Latest(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		require.Empty(t, skipped)
		require.Equal(t, cpOf(3), cp)

		_, err = s.Add(ctx, e.guard, recovery.CompletedCheckpoint{JobID: "other", ID: 4})
		require.Error(t, err)
	})
}

func TestCheckpointStoreRejectsRetainZero(t *testing.T) {
	e := newHAEnv(t, false, false)
	_, err := recovery.NewEmbeddedCheckpointStore(hsCtx(t), e.dir, e.st, hsCluster, [16]byte{}, hsLog(t), "job1", 0)
	require.Error(t, err)
}

func TestCheckpointStoreLatestSkipsUnreadable(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *haEnv) {
		ctx := hsCtx(t)
		s := e.instance().checkpoints("job1", 3)
		for id := int64(1); id <= 3; id++ {
			_, err := s.Add(ctx, e.guard, cpOf(id))
			require.NoError(t, err)
		}
		e.flipByte(e.payloadOf("-0000000000000000003-"))
		require.NoError(t, e.st.Delete(ctx, e.payloadOf("-0000000000000000002-")))

		// A new leader falls back to checkpoint 1 and reports 3 and 2.
		cp, skipped, ok, err := e.instance().checkpoints("job1", 3).Latest(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, cpOf(1), cp)
		require.Len(t, skipped, 2)
		require.Equal(t, int64(3), skipped[0].ID)
		require.ErrorIs(t, skipped[0].Err, recovery.ErrCorruptState)
		require.Equal(t, int64(2), skipped[1].ID)
		require.ErrorIs(t, skipped[1].Err, recovery.ErrDanglingPointer)

		// Nothing readable left: no checkpoint, both reported.
		require.NoError(t, e.st.Delete(ctx, e.payloadOf("-0000000000000000001-")))
		_, skipped, ok, err = s.Latest(ctx)
		require.NoError(t, err)
		require.False(t, ok)
		require.Len(t, skipped, 3)
	})
}

func TestCheckpointStoreSuspendKeepsTerminalDiscards(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *haEnv) {
		ctx := hsCtx(t)
		s := e.instance().checkpoints("job1", 2)
		for id := int64(1); id <= 2; id++ {
			_, err := s.Add(ctx, e.guard, cpOf(id))
			require.NoError(t, err)
		}
		require.NoError(t, s.Shutdown(ctx, e.guard, false))
		require.Len(t, e.checkpointPayloads(), 2)

		next := e.instance().checkpoints("job1", 2)
		cp, _, ok, err := next.Latest(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, int64(2), cp.ID)

		require.NoError(t, next.Shutdown(ctx, e.guard, true))
		require.Empty(t, e.checkpointPayloads())
		require.False(t, e.pointerExists(recovery.CheckpointsDir("job1"), "0000000000000000002"))
		ids, err := e.instance().checkpoints("job1", 2).IDs(ctx)
		require.NoError(t, err)
		require.Empty(t, ids)
	})
}

func TestCheckpointStoreDeposed(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *haEnv) {
		ctx := hsCtx(t)
		s := e.instance().checkpoints("job1", 1)
		_, err := s.Add(ctx, e.guard, cpOf(1))
		require.NoError(t, err)
		before := e.snapshot()
		e.depose()
		_, err = s.Add(ctx, e.guard, cpOf(2))
		require.ErrorIs(t, err, recovery.ErrNotLeader)
		require.ErrorIs(t, s.Shutdown(ctx, e.guard, true), recovery.ErrNotLeader)
		after := e.snapshot()
		for k := range before {
			if strings.Contains(k, "/leader/latch/test-") {
				delete(before, k)
			}
		}
		require.Equal(t, before, after)
	})
}
