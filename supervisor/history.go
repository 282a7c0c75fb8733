package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/hdfsstore"
)

// loadHistory reads the attempt history kept at name in st (attempts.HistoryName
// of the application), so a restarted supervisor keeps its budget. No store, or
// no history yet, is an empty history; an unreadable or invalid one is an error.
func loadHistory(st hdfsstore.Store, name string) (attempts.History, error) {
	if st == nil {
		return attempts.History{}, nil
	}
	h, err := ReadHistory(context.Background(), st, name)
	if errors.Is(err, fs.ErrNotExist) {
		return attempts.History{}, nil
	}
	return h, err
}

// ReadHistory reads and verifies the attempt history file name in st. The file is
// plain JSON (any tool reads it) carrying the checksum of its attempts; a file of
// the earlier format (version 1, hdfsstore's binary trailer after the JSON) is still
// read and verified by its trailer. A missing file matches fs.ErrNotExist.
func ReadHistory(ctx context.Context, st hdfsstore.Store, name string) (attempts.History, error) {
	b, err := hdfsstore.GetPlainBytes(ctx, st, name, nil)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return attempts.History{}, err
		}
		return attempts.History{}, fmt.Errorf("supervisor: read attempt history %s: %w", name, err)
	}
	h, checked, err := attempts.DecodeHistoryFile(b)
	if err == nil && !checked {
		// No checksum in the JSON: the earlier format, checked by its trailer.
		if b, err = hdfsstore.GetBytes(ctx, st, name); err == nil {
			h, err = attempts.DecodeHistory(bytes.NewReader(b))
		}
	}
	if err != nil {
		return attempts.History{}, fmt.Errorf("supervisor: attempt history %s: %w", name, err)
	}
	return h, nil
}

// saveHistory writes the policy's history after a decision, as a plain JSON file
// published atomically (the store never shows a partial file).
func (s *Supervisor) saveHistory() error {
	if s.cfg.History == nil {
		return nil
	}
	name := attempts.HistoryName(s.cfg.App.String())
	b, err := attempts.EncodeHistory(s.policy.History())
	if err != nil {
		return fmt.Errorf("supervisor: encode attempt history: %w", err)
	}
	if _, err := hdfsstore.PutPlainBytes(context.Background(), s.cfg.History, name, b); err != nil {
		return fmt.Errorf("supervisor: write attempt history %s: %w", name, err)
	}
	return nil
}
