package supervisor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLastError: the cause of a failed attempt is the last error line of its
// am.log: the am command's exit message, else the last JSON line at error level
// or above (message and error); info and warn lines are not causes.
func TestLastError(t *testing.T) {
	dir := t.TempDir()
	write := func(lines ...string) string {
		path := filepath.Join(dir, "am.log")
		require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
		return path
	}
	require.Equal(t, "", LastError(filepath.Join(dir, "missing.log")))
	require.Equal(t, "", LastError(write(`{"level":"info","message":"am serving"}`, `{"level":"warn","message":"slow"}`)))
	require.Equal(t, "cannot confirm leadership: zk: node exists", LastError(write(
		`{"level":"error","message":"older","error":"x"}`,
		`{"level":"error","message":"cannot confirm leadership","error":"zk: node exists"}`,
		`{"level":"info","message":"am stopping"}`)))
	require.Equal(t, "giving the grant up", LastError(write(`{"level":"fatal","message":"giving the grant up"}`)))
	require.Equal(t, `yarn-session: am: no free port in rest.port "8081"`, LastError(write(
		`{"level":"error","message":"cannot confirm leadership","error":"zk: node exists"}`,
		`yarn-session: am: no free port in rest.port "8081"`, ``)))

	// Only the tail is read; a line cut by it is not taken for a cause.
	long := strings.Repeat("x", lastErrorTail)
	require.Equal(t, "", LastError(write("cut "+long, `{"level":"info","message":"fine"}`)))
}
