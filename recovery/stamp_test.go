package recovery_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/recovery"
)

// TestCheckpointStampOldAndBad: a checkpoint payload stored before stamps
// existed reads as stamped by nobody (uuid.Nil); a stamp that is not a UUID
// is corrupt state, not a silent nil.
func TestCheckpointStampOldAndBad(t *testing.T) {
	old := []byte(`{"jobId":"j","id":7,"timestamp":"2026-01-02T03:04:05Z","metadata":"e30="}`)
	s, err := recovery.DecodeCheckpointStamp(old)
	require.NoError(t, err)
	require.Equal(t, recovery.CheckpointStamp{JobID: "j", ID: 7, LeaderSession: uuid.Nil}, s)

	id := uuid.New()
	s, err = recovery.DecodeCheckpointStamp([]byte(`{"jobId":"j","id":8,"leaderSession":"` + id.String() + `"}`))
	require.NoError(t, err)
	require.Equal(t, id, s.LeaderSession)

	_, err = recovery.DecodeCheckpointStamp([]byte(`{"jobId":"j","id":9,"leaderSession":"not-a-session"}`))
	require.ErrorIs(t, err, recovery.ErrCorruptState)
	require.ErrorContains(t, err, `leader session stamp "not-a-session": want a UUID`)
}

// TestPointerStampIsOptional: a pointer written before stamps decodes with no
// leader; a stamped one round-trips.
func TestPointerStampIsOptional(t *testing.T) {
	p, err := recovery.DecodePointer([]byte(`{"v":1,"path":"a/b","size":3,"crc32c":5}`))
	require.NoError(t, err)
	require.Empty(t, p.Leader)
	p.Leader = uuid.NewString()
	q, err := recovery.DecodePointer(p.Encode())
	require.NoError(t, err)
	require.Equal(t, p, q)
}
