package recovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"

	"github.com/amkeeper/amkeeper/hdfsstore"
)

// pointerVersion is the format version of Pointer.
const pointerVersion = 1

// Pointer is what a backend holds for one piece of state (a znode's data, an
// embedded pointer file): where the payload is in storage and how to recognise it.
type Pointer struct {
	Version  int    `json:"v"`
	Path     string `json:"path"`   // name in the hdfsstore.Store
	Size     int64  `json:"size"`   // payload bytes
	Checksum uint32 `json:"crc32c"` // CRC32C (Castagnoli) of the payload
	// Leader is the leader session whose guarded write stored the pointer ("":
	// stored before stamps existed, or under a guard without a session). It is
	// a record of the writer, not a check: the guard fenced the write.
	Leader string `json:"leader,omitempty"`
}

// StampedBy returns p stamped with the leader session of g.
func (p Pointer) StampedBy(g Guard) Pointer {
	p.Leader = stamp(g)
	return p
}

// Encode returns the pointer's wire form (JSON, a few dozen bytes).
func (p Pointer) Encode() []byte {
	b, _ := json.Marshal(p) // cannot fail: fixed struct of plain fields
	return b
}

// DecodePointer parses a pointer, rejecting unknown versions.
func DecodePointer(b []byte) (Pointer, error) {
	var p Pointer
	if err := json.Unmarshal(b, &p); err != nil {
		return Pointer{}, fmt.Errorf("%w: pointer %q: %v", ErrCorruptState, truncate(b), err)
	}
	if p.Version != pointerVersion || p.Path == "" {
		return Pointer{}, fmt.Errorf("%w: pointer %q: want format version %d with a path", ErrCorruptState, truncate(b), pointerVersion)
	}
	return p, nil
}

func truncate(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteState publishes payload under name in storage (atomically) and returns
// the pointer for the backend to store. Payload first, pointer second: a crash in
// between leaves an orphan payload, never a pointer to nothing.
func WriteState(ctx context.Context, st hdfsstore.Store, name string, payload []byte) (Pointer, error) {
	info, err := hdfsstore.PutBytes(ctx, st, name, payload)
	if err != nil {
		return Pointer{}, fmt.Errorf("recovery: write state %s: %w", name, err)
	}
	return Pointer{Version: pointerVersion, Path: name, Size: info.Size, Checksum: info.Checksum}, nil
}

// PayloadError is a payload a pointer names that cannot be read or verified:
// Path is its storage name. errors.Is sees through it to ErrDanglingPointer,
// ErrCorruptState or the storage error.
type PayloadError struct {
	Path string
	Err  error
}

func (e *PayloadError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *PayloadError) Unwrap() error { return e.Err }

// readState reads and verifies the payload a pointer names. A missing payload is
// ErrDanglingPointer (also fs.ErrNotExist); a mismatch is ErrCorruptState. Every
// error is a *PayloadError naming the file.
func readState(ctx context.Context, st hdfsstore.Store, p Pointer) ([]byte, error) {
	b, err := hdfsstore.GetBytes(ctx, st, p.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &PayloadError{Path: p.Path, Err: fmt.Errorf("%w: %s: %w", ErrDanglingPointer, p.Path, err)}
	case errors.Is(err, hdfsstore.ErrCorrupt):
		return nil, &PayloadError{Path: p.Path, Err: fmt.Errorf("%w: %s: %w", ErrCorruptState, p.Path, err)}
	case err != nil:
		return nil, &PayloadError{Path: p.Path, Err: fmt.Errorf("recovery: read state %s: %w", p.Path, err)}
	}
	if int64(len(b)) != p.Size || crc32.Checksum(b, castagnoli) != p.Checksum {
		return nil, &PayloadError{Path: p.Path, Err: fmt.Errorf("%w: %s: payload (size %d, crc32c %08x) does not match its pointer (size %d, crc32c %08x)",
			ErrCorruptState, p.Path, len(b), crc32.Checksum(b, castagnoli), p.Size, p.Checksum)}
	}
	return b, nil
}
