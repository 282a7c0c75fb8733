package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/hdfsstore"
)

// TestHistoryFileIsPlainJSON: history.json is one JSON value and nothing else (what
// Python's json.load needs: encoding/json's Unmarshal refuses trailing bytes just as
// it does), it reads back, an edit to it is detected, and a file of the earlier
// format (the JSON followed by hdfsstore's binary trailer) is still read.
func TestHistoryFileIsPlainJSON(t *testing.T) {
	root := t.TempDir()
	st, err := hdfsstore.Open(context.Background(), "file://"+root)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	app, err := containers.ParseAppID("application_1700000000000_0001")
	require.NoError(t, err)
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	recovered := attempts.History{Attempts: []attempts.AttemptRecord{
		{Attempt: 1, Start: t0, End: t0.Add(time.Minute), Exit: attempts.ExitFailed, ExitCode: 137, Signal: "killed",
			Counted: true, Reason: attempts.ReasonWithinBudget, CountedFailures: 1},
	}}
	policy, err := attempts.New(attempts.Budget{MaxAttempts: 4}, nil, recovered)
	require.NoError(t, err)
	s := &Supervisor{cfg: Config{App: app, History: st}, policy: policy}
	require.NoError(t, s.saveHistory())

	name := attempts.HistoryName(app.String())
	path := filepath.Join(root, filepath.FromSlash(name))
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var doc struct {
		Version  int              `json:"version"`
		Attempts []map[string]any `json:"attempts"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc), "the whole file is one JSON value:\n%s", raw)
	assert.Equal(t, attempts.HistoryVersion, doc.Version)
	require.Len(t, doc.Attempts, 1)
	assert.Equal(t, "failed", doc.Attempts[0]["exit"])
	assert.EqualValues(t, 137, doc.Attempts[0]["exit_code"])

	got, err := loadHistory(st, name)
	require.NoError(t, err)
	assert.Equal(t, recovered.Attempts, got.Attempts)

	// An edit (137 → 138) is detected by the checksum in the file.
	edited := bytes.Clone(raw)
	i := indexOf(t, edited, `"exit_code": 137`)
	edited[i+len(`"exit_code": 13`)] = '8'
	require.NoError(t, os.WriteFile(path, edited, 0o600))
	_, err = loadHistory(st, name)
	require.ErrorIs(t, err, attempts.ErrInvalidHistory)
	assert.Contains(t, err.Error(), "checksum mismatch")

	// The earlier format: version 1 JSON with hdfsstore's trailer.
	old, err := json.Marshal(map[string]any{"version": 1, "attempts": recovered.Attempts})
	require.NoError(t, err)
	_, err = hdfsstore.PutBytes(context.Background(), st, name, old)
	require.NoError(t, err)
	got, err = loadHistory(st, name)
	require.NoError(t, err)
	assert.Equal(t, recovered.Attempts, got.Attempts)
	// … and its trailer still guards it.
	raw, err = os.ReadFile(path)
	require.NoError(t, err)
	raw[indexOf(t, raw, `"exit_code":137`)+len(`"exit_code":13`)] = '8'
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	_, err = loadHistory(st, name)
	require.ErrorIs(t, err, hdfsstore.ErrCorrupt)
}

func indexOf(t *testing.T, b []byte, s string) int {
	t.Helper()
	i := bytes.Index(b, []byte(s))
	require.GreaterOrEqual(t, i, 0, "%q not in %s", s, b)
	return i
}
