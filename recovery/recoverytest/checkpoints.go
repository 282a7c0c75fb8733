package recoverytest

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/recovery"
)

func cpOf(id int64) recovery.CompletedCheckpoint {
	return recovery.CompletedCheckpoint{JobID: "job1", ID: id, Timestamp: time.Unix(id, 0).UTC(), Metadata: []byte{byte(id), 'm'}}
}

// stamped is cp as stored under g: with g's leader session.
func stamped(cp recovery.CompletedCheckpoint, g recovery.Guard) recovery.CompletedCheckpoint {
	cp.LeaderSession = g.SessionID()
	return cp
}

func (e *Env) checkpointPayloads() []string {
	var out []string
	for _, n := range e.Payloads() {
		if strings.Contains(n, "completedCheckpoint-") {
			out = append(out, n)
		}
	}
	return out
}

func testCheckpointStoreRetainAndSubsume(t *testing.T, e *Env) {
	ctx := Context(t)
	s := e.Instance().Checkpoints("job1", 2)

	_, ok, err := s.Latest(ctx)
	require.NoError(t, err)
	require.False(t, ok)

	for id := int64(1); id <= 2; id++ {
		sub, err := s.Add(ctx, e.Guard(), cpOf(id))
		require.NoError(t, err)
		require.Empty(t, sub)
	}
	sub, err := s.Add(ctx, e.Guard(), cpOf(3))
	require.NoError(t, err)
	require.Equal(t, []int64{1}, sub)
	ids, err := s.IDs(ctx)
	require.NoError(t, err)
	require.Equal(t, []int64{2, 3}, ids)
	require.Len(t, e.checkpointPayloads(), 2)
	require.False(t, e.PointerExists(recovery.CheckpointsDir("job1"), "0000000000000000001"))
	require.True(t, e.PointerExists(recovery.CheckpointsDir("job1"), "0000000000000000003"))

	cp, ok, err := s.Latest(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, stamped(cpOf(3), e.Guard()), cp) // Add stamps it from the guard
	require.NotEqual(t, uuid.Nil, cp.LeaderSession)
	forged := cpOf(4)
	forged.LeaderSession = uuid.New() // a caller cannot claim another writer
	_, err = s.Add(ctx, e.Guard(), forged)
	require.NoError(t, err)
	cp, err = s.Get(ctx, 4)
	require.NoError(t, err)
	require.Equal(t, e.Guard().SessionID(), cp.LeaderSession)

	_, err = s.Add(ctx, e.Guard(), recovery.CompletedCheckpoint{JobID: "other", ID: 4})
	require.Error(t, err)
}

func testCheckpointStoreRejectsRetainZero(t *testing.T, e *Env) {
	_, err := e.Instance().services(0).CheckpointStore(Context(t), "job1")
	require.Error(t, err)
}

func testCheckpointStoreLatestStopsAtUnreadable(t *testing.T, e *Env) {
	ctx := Context(t)
	s := e.Instance().Checkpoints("job1", 3)
	for id := int64(1); id <= 3; id++ {
		_, err := s.Add(ctx, e.Guard(), cpOf(id))
		require.NoError(t, err)
	}
	corrupt := e.PayloadOf("-0000000000000000003-")
	e.FlipByte(corrupt)

	// A new leader does not fall back: checkpoint 3 is reported, naming its file.
	_, ok, err := e.Instance().Checkpoints("job1", 3).Latest(ctx)
	require.False(t, ok)
	var ue *recovery.UnreadableCheckpointError
	require.ErrorAs(t, err, &ue)
	require.ErrorIs(t, err, recovery.ErrCorruptState)
	require.Equal(t, int64(3), ue.ID)
	require.Equal(t, "job1", ue.JobID)
	require.Equal(t, corrupt, ue.File)

	// The operator's fall-back reads an older one explicitly.
	cp, err := s.Get(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, stamped(cpOf(2), e.Guard()), cp)
	_, err = s.Get(ctx, 7)
	require.ErrorIs(t, err, recovery.ErrNotFound)

	// A missing payload is a dangling pointer, reported the same way.
	dangling := e.PayloadOf("-0000000000000000002-")
	require.NoError(t, e.St.Delete(ctx, dangling))
	_, err = e.Instance().Checkpoints("job1", 3).Get(ctx, 2)
	require.ErrorAs(t, err, &ue)
	require.ErrorIs(t, err, recovery.ErrDanglingPointer)
	require.Equal(t, dangling, ue.File)
}

func testCheckpointStoreSuspendKeepsTerminalDiscards(t *testing.T, e *Env) {
	ctx := Context(t)
	s := e.Instance().Checkpoints("job1", 2)
	for id := int64(1); id <= 2; id++ {
		_, err := s.Add(ctx, e.Guard(), cpOf(id))
		require.NoError(t, err)
	}
	require.NoError(t, s.Shutdown(ctx, e.Guard(), false))
	require.Len(t, e.checkpointPayloads(), 2)

	next := e.Instance().Checkpoints("job1", 2)
	cp, ok, err := next.Latest(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(2), cp.ID)

	require.NoError(t, next.Shutdown(ctx, e.Guard(), true))
	require.Empty(t, e.checkpointPayloads())
	require.False(t, e.PointerExists(recovery.CheckpointsDir("job1"), "0000000000000000002"))
	ids, err := e.Instance().Checkpoints("job1", 2).IDs(ctx)
	require.NoError(t, err)
	require.Empty(t, ids)
}

func testCheckpointStoreDeposed(t *testing.T, e *Env) {
	ctx := Context(t)
	s := e.Instance().Checkpoints("job1", 1)
	_, err := s.Add(ctx, e.Guard(), cpOf(1))
	require.NoError(t, err)
	before := e.Snapshot()
	e.Depose()
	_, err = s.Add(ctx, e.Guard(), cpOf(2))
	require.ErrorIs(t, err, recovery.ErrNotLeader)
	require.ErrorIs(t, s.Shutdown(ctx, e.Guard(), true), recovery.ErrNotLeader)
	after := e.Snapshot()
	for k := range before {
		if strings.Contains(k, guardNodeMark) {
			delete(before, k)
		}
	}
	require.Equal(t, before, after)
}

// testCheckpointStoreTerminalRemovesOrphans: a terminal shutdown also removes the
// job's payloads that no pointer names (a store interrupted between payload and
// pointer leaves one), and never a payload of a job whose ID starts with this
// job's ID and a dash.
func testCheckpointStoreTerminalRemovesOrphans(t *testing.T, e *Env) {
	ctx := Context(t)
	s := e.Instance().Checkpoints("job1", 1)
	_, err := s.Add(ctx, e.Guard(), cpOf(1))
	require.NoError(t, err)
	orphan := Cluster + "/completedCheckpoint-job1-0000000000000000002-6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	other := Cluster + "/completedCheckpoint-job1-2-0000000000000000001-6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	for _, n := range []string{orphan, other} {
		_, err := recovery.WriteState(ctx, e.St, n, []byte("payload"))
		require.NoError(t, err)
	}
	require.Len(t, e.checkpointPayloads(), 3)
	require.NoError(t, s.Shutdown(ctx, e.Guard(), true))
	require.Equal(t, []string{other}, e.checkpointPayloads())
}
