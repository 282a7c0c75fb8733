package multihost

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExact(t *testing.T) {
	require.NoError(t, Exact([]int64{4950, 14950, 24950}, 3))
	assert.ErrorContains(t, Exact([]int64{4950, 14950}, 3), "2 windows committed, want at least 3")
	assert.ErrorContains(t, Exact([]int64{4950, 24950, 34950}, 1), "committed window 1 of 3 is 24950, want 14950")
	assert.ErrorContains(t, Exact([]int64{4950, 4950}, 1), "committed window 1 of 2 is 4950, want 14950")
}

func TestConfWrite(t *testing.T) {
	dir := t.TempDir()
	c := Conf{Quorum: "10.0.0.1:2181", Root: "/r", ClusterID: "one", Storage: "file:///s", SecretFile: "/k",
		SessionTimeout: 2 * time.Second, Masters: []string{"10.0.0.2", "10.0.0.3"}, Workers: []string{"10.0.0.4"},
		Extra: []string{"heartbeat.timeout: 2s"}}
	require.NoError(t, c.Write(dir))
	got, err := os.ReadFile(filepath.Join(dir, "flink-conf.yaml"))
	require.NoError(t, err)
	assert.Equal(t, `high-availability.type: zookeeper
high-availability.zookeeper.quorum: 10.0.0.1:2181
high-availability.zookeeper.path.root: /r
high-availability.cluster-id: /one
high-availability.storageDir: file:///s
high-availability.zookeeper.client.session-timeout: 2s
heartbeat.interval: 100 ms
rest.port: 0
yarn.application-attempts: 10
yarn.resourcemanager.am.max-attempts: 10
amkeeper.secret.file: /k
heartbeat.timeout: 2s
`, string(got))
	masters, err := os.ReadFile(filepath.Join(dir, "masters"))
	require.NoError(t, err)
	assert.Equal(t, "10.0.0.2\n10.0.0.3\n", string(masters))
	_, err = os.Stat(filepath.Join(dir, "zoo.cfg"))
	assert.True(t, os.IsNotExist(err), "no zoo.cfg unless asked")
	assert.Contains(t, c.Dynamic(), "high-availability.cluster-id=/one")
}
