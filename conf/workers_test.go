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

// A host starting with '-' would reach ssh as an option (start-cluster runs
// `ssh -n <opts> HOST -- …`): each hosts file refuses it, naming file, line and
// value. The values use only characters valid in host names, so only the leading
// '-' makes them bad.
func TestHostFilesRefuseOptionLikeHosts(t *testing.T) {
	dir := t.TempDir()
	const want = "starts with '-', which no host name does (ssh would read it as an option): want a host name of letters, digits"

	workers := filepath.Join(dir, WorkersFile)
	require.NoError(t, os.WriteFile(workers, []byte("worker1\n-oProxyCommand\n"), 0o644))
	ws, err := ParseWorkers(workers)
	require.Error(t, err)
	assert.Equal(t, []Worker{{Host: "worker1", Line: 1}}, ws)
	assert.Contains(t, err.Error(), workers+":2")
	assert.Contains(t, err.Error(), `"-oProxyCommand"`)
	assert.Contains(t, err.Error(), want)

	masters := filepath.Join(dir, MastersFile)
	require.NoError(t, os.WriteFile(masters, []byte("master1:8081\n\n-Fevil_config:8082\n"), 0o644))
	ms, err := ParseMasters(masters)
	require.Error(t, err)
	assert.Equal(t, []Master{{Host: "master1", WebUIPort: 8081, Line: 1}}, ms)
	assert.Contains(t, err.Error(), masters+":3")
	assert.Contains(t, err.Error(), `"-Fevil_config"`)
	assert.Contains(t, err.Error(), want)

	zoo := filepath.Join(dir, "zoo.cfg")
	require.NoError(t, os.WriteFile(zoo, []byte("tickTime=500\nserver.1=zk1:2888:3888\nserver.2=-v:2888:3888\n"), 0o644))
	_, err = ParseZooCfg(zoo)
	require.Error(t, err)
	assert.Contains(t, err.Error(), zoo+":3")
	assert.Contains(t, err.Error(), "server.2")
	assert.Contains(t, err.Error(), `"-v"`)
	assert.Contains(t, err.Error(), want)

	// a '-' inside a name stays valid
	require.NoError(t, os.WriteFile(workers, []byte("worker-2\n"), 0o644))
	ws, err = ParseWorkers(workers)
	require.NoError(t, err)
	assert.Equal(t, []Worker{{Host: "worker-2", Line: 1}}, ws)
}
