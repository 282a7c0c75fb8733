package recovery

import (
	"encoding/binary"
	"fmt"
)

// FirstCheckpointID is the value of a checkpoint ID counter that was never
// incremented.
const FirstCheckpointID = 1

// CheckpointIDCounterPath is where a backend keeps a job's checkpoint ID counter:
// a znode below the cluster's root, or the same path below the embedded directory.
func CheckpointIDCounterPath(jobID string) string { return "/jobs/" + jobID + "/checkpoint_id_counter" }

// EncodeCheckpointCounter is the stored form of a checkpoint ID counter whose
// next ID is next: 8 bytes, big-endian, in every backend.
func EncodeCheckpointCounter(next int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(next))
}

// DecodeCheckpointCounter reads a counter stored at where (for the message); a
// value that is not 8 bytes is ErrCorruptState.
func DecodeCheckpointCounter(b []byte, where string) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: checkpoint ID counter %s: %d bytes, want 8", ErrCorruptState, where, len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}
