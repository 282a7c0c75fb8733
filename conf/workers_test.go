package conf

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseWorkers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, WorkersFile)
	require.NoError(t, os.WriteFile(path, []byte("# workers\n127.0.0.4\n\nworker-2.example.com  # rack 2\n[::1]\n"), 0o644))
	ws, err := ParseWorkers(path)
	require.NoError(t, err)
	assert.Equal(t, []Worker{{Host: "127.0.0.4", Line: 2}, {Host: "worker-2.example.com", Line: 4}, {Host: "::1", Line: 5}}, ws)

	require.NoError(t, os.WriteFile(path, []byte("good\nhost:6121\n"), 0o644))
	ws, err = ParseWorkers(path)
	var verr *ValidationError
	require.ErrorAs(t, err, &verr)
	assert.Equal(t, []Worker{{Host: "good", Line: 1}}, ws)
	require.Len(t, verr.Problems, 1)
	assert.Contains(t, err.Error(), "workers:2")
	assert.Contains(t, err.Error(), "a port has no meaning here")
}
