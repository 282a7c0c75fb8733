package recovery

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/amkeeper/amkeeper/internal/logging"
)

// ErrForeignPointer: a pointer names a file its store did not write — anything
// but <PayloadPrefix><key>-<uuid> (another store's payload, another job's output,
// an absolute or ../ path). The file is not ours: it is never read as state and
// never deleted. Errors carrying it also match ErrCorruptState.
var ErrForeignPointer = errors.New("recovery: foreign pointer")

// ownPayload checks that name is a payload a store with payload prefix prefix
// writes for key (PointerStoreConfig.PayloadName's shape): prefix, key, a dash
// and a UUID in canonical form. It is the one check every delete and every read
// that follows a pointer goes through.
func ownPayload(prefix, key, name string) error {
	if rest, ok := strings.CutPrefix(name, prefix+key+"-"); ok {
		if u, err := uuid.Parse(rest); err == nil && u.String() == rest {
			return nil
		}
	}
	return fmt.Errorf("%w: %w: key %s names %q, outside its store's payloads (want %s%s-<uuid>)",
		ErrCorruptState, ErrForeignPointer, key, name, prefix, key)
}

// OwnPayload checks that name is a payload this store writes for key; otherwise
// the error matches ErrForeignPointer and ErrCorruptState.
func (c PointerStoreConfig) OwnPayload(key, name string) error {
	return ownPayload(c.PayloadPrefix, key, name)
}

// ReadPointed decodes the pointer of key found at where (its node or file, for
// messages) and reads its verified payload, with the errors of DecodePointer and
// readState. A pointer naming a file outside the store's own payloads is refused
// unread (ErrForeignPointer, also ErrCorruptState).
func (c PointerStoreConfig) ReadPointed(ctx context.Context, key, where string, data []byte) ([]byte, error) {
	p, err := DecodePointer(data)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", where, err)
	}
	if err := c.OwnPayload(key, p.Path); err != nil {
		return nil, fmt.Errorf("read %s: %w", where, err)
	}
	b, err := readState(ctx, c.Storage, p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", where, err)
	}
	return b, nil
}

// DeletePointed deletes the payload the pointer data of key (at where) names,
// when the store replaces or removes that pointer; a payload already gone is
// fine. It deletes only the store's own payloads: a pointer that cannot be
// decoded, or that names a file outside the store's payloads, is logged (an
// error naming the key, the pointer and the path) and its file stays. Either way
// the caller may go on and replace or remove the pointer itself.
func (c PointerStoreConfig) DeletePointed(ctx context.Context, key, where string, data []byte) error {
	p, err := DecodePointer(data)
	if err != nil {
		c.Logger.Warn().Err(err).Str("key", key).Str("pointer", where).
			Msg("a pointer that cannot be decoded goes; its payload (if any) stays")
		return nil
	}
	if err := c.OwnPayload(key, p.Path); err != nil {
		c.Logger.Error().Err(err).Str("key", key).Str("pointer", where).Str(logging.File, p.Path).
			Msg("foreign pointer: the file it names is not this store's and is not deleted")
		return nil
	}
	return DeletePayload(ctx, c.Storage, p.Path)
}
