package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
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
	b, err := hdfsstore.GetBytes(context.Background(), st, name)
	if errors.Is(err, fs.ErrNotExist) {
		return attempts.History{}, nil
	}
	if err != nil {
		return attempts.History{}, fmt.Errorf("supervisor: read attempt history %s: %w", name, err)
	}
	h, err := attempts.DecodeHistory(bytes.NewReader(b))
	if err != nil {
		return attempts.History{}, fmt.Errorf("supervisor: attempt history %s: %w", name, err)
	}
	return h, nil
}

// saveHistory writes the policy's history after a decision (atomically: the
// store publishes whole files only).
func (s *Supervisor) saveHistory() error {
	if s.cfg.History == nil {
		return nil
	}
	name := attempts.HistoryName(s.cfg.App.String())
	b, err := json.MarshalIndent(s.policy.History(), "", "  ")
	if err != nil {
		return fmt.Errorf("supervisor: encode attempt history: %w", err)
	}
	if _, err := hdfsstore.PutBytes(context.Background(), s.cfg.History, name, b); err != nil {
		return fmt.Errorf("supervisor: write attempt history %s: %w", name, err)
	}
	return nil
}
