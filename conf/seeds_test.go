package conf

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The seeds' configuration snippets, loaded as real files, give the HA settings Flink
// would use, with exactly one warning per deprecated key.

func loadSeed(t *testing.T, name string) (*Config, string) {
	t.Helper()
	dir := filepath.Join("testdata", name)
	c, err := Load(Options{Dir: dir, LookupEnv: noEnv, ApplicationID: "application_1_0001"})
	require.NoError(t, err)
	return c, filepath.Join(dir, FlinkConfFile)
}

// deprecationWarnings returns the keys of deprecation warnings, failing on any other.
func deprecationWarnings(t *testing.T, c *Config, path string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, w := range c.Warnings() {
		if strings.HasPrefix(w.Msg, "is recognised but not honoured") {
			continue // checked by the seed's own test
		}
		assert.Equal(t, OriginFile, w.Origin.Kind)
		assert.Equal(t, path, w.Origin.File)
		o, ok := Lookup(w.Key)
		require.True(t, ok, "unexpected warning %s", w)
		assert.Contains(t, o.Deprecated(), w.Key, w.String())
		assert.Equal(t, "is deprecated: use "+o.Key(), w.Msg)
		got[w.Key]++
	}
	return got
}

func TestSeed000ShortForms(t *testing.T) {
	c, path := loadSeed(t, "seed000")
	assert.Equal(t, HAZooKeeper, c.HAMode())
	assert.Equal(t, "hdfs:///flink/recovery", c.StorageDir())
	assert.Equal(t, "my_flink_cluster", c.ClusterID())
	assert.Equal(t, []string{"zk1.example.com:2181", "zk2.example.com:2181", "zk3.example.com:2181"}, c.Quorum())
	assert.Equal(t, "/flink", c.PathRoot())
	assert.Equal(t, "/flink/my_flink_cluster", c.ClusterPath())
	assert.Equal(t, time.Second, c.RetryWait())
	assert.Equal(t, 5, c.MaxRetryAttempts())
	assert.Equal(t, 2, c.ApplicationAttempts(), "HA on: two attempts by default")
	assert.Equal(t, 60*time.Second, c.SessionTimeout())
	assert.Equal(t, map[string]int{
		"high-availability":             1,
		"high-availability.storage-dir": 1,
		"zookeeper.cluster-id":          1,
		"zookeeper.address":             1,
		"zookeeper.path.root":           1,
		"zookeeper.retry-delay":         1,
		"zookeeper.retry-count":         1,
	}, deprecationWarnings(t, c, path))
	assert.Equal(t, path+":3 (as high-availability.storage-dir)", c.Entry(HAStorageDir).Origin.String())
	assert.Nil(t, c.Masters())
	assert.Nil(t, c.ZooCfg())
}

func TestSeed001CurrentKeys(t *testing.T) {
	c, _ := loadSeed(t, "seed001")
	assert.Equal(t, HAZooKeeper, c.HAMode())
	assert.Equal(t, []string{"localhost:2181"}, c.Quorum())
	assert.Equal(t, "/flink", c.PathRoot())
	assert.Equal(t, "/cluster_one", c.Entry(HAClusterID).Value)
	assert.Equal(t, "cluster_one", c.ClusterID(), "the configured ID beats the application ID")
	assert.Equal(t, "hdfs:///flink/recovery", c.StorageDir())
	assert.False(t, c.TolerateSuspendedConnections())
	assert.Empty(t, c.Warnings())
}

func TestSeed002RecoveryKeysMastersAndZooCfg(t *testing.T) {
	c, path := loadSeed(t, "seed002")
	assert.Equal(t, HAZooKeeper, c.HAMode())
	assert.Equal(t, []string{"localhost:2181"}, c.Quorum())
	assert.Equal(t, "/flink", c.PathRoot())
	assert.Equal(t, "application_1_0001", c.ClusterID(), "no cluster-id: the application ID")
	assert.Equal(t, "hdfs:///flink/recovery", c.StorageDir())
	assert.Equal(t, "hdfs:///flink/checkpoints", c.CheckpointsDir())
	assert.Equal(t, "filesystem", c.StateBackend())
	assert.Equal(t, 10, c.ApplicationAttempts())
	assert.Equal(t, 2, c.AMMaxAttempts(), "YARN's default bound; the restart policy caps attempts with it")
	port := c.JobManagerPort()
	assert.Equal(t, "50010,50011,50020-50025,50050-50075", port.String())
	assert.Equal(t, 2+6+26, port.Len())
	assert.Equal(t, 50010, port.First())
	assert.True(t, port.Contains(50022))
	assert.False(t, port.Contains(50030))
	assert.Equal(t, []int{50010, 50011, 50020, 50021}, slices.Collect(func(yield func(int) bool) {
		n := 0
		for p := range port.Ports() {
			if n == 4 || !yield(p) {
				return
			}
			n++
		}
	}))
	assert.Equal(t, map[string]int{
		"recovery.mode":                  1,
		"recovery.zookeeper.quorum":      1,
		"recovery.zookeeper.path.root":   1,
		"state.backend.fs.checkpointdir": 1,
		"recovery.zookeeper.storageDir":  1,
		"recovery.jobmanager.port":       1,
	}, deprecationWarnings(t, c, path))
	assert.Equal(t, path+":2 (as recovery.mode)", c.Entry(HAType).Origin.String())
	var notHonoured []string
	for _, w := range c.Warnings() {
		if strings.HasPrefix(w.Msg, "is recognised but not honoured") {
			notHonoured = append(notHonoured, w.String())
		}
	}
	assert.Empty(t, notHonoured, "recovery.jobmanager.port is honoured: the AM's RPC endpoint binds it")

	assert.Equal(t, []Master{{Host: "localhost", WebUIPort: 8081, Line: 1}, {Host: "localhost", WebUIPort: 8082, Line: 2}}, c.Masters())
	z := c.ZooCfg()
	require.NotNil(t, z)
	require.Len(t, z.Servers, 1)
	assert.Equal(t, ZooServer{ID: 0, Host: "localhost", PeerPort: 2888, LeaderPort: 3888, Role: "participant", Line: 1}, z.Servers[0])
	assert.Equal(t, 60*time.Second, z.MaxSessionTimeout, "tickTime 3000 by default: the 60 s session timeout fits")
}

func TestMixedCurrentDeprecatedShortAndNestedKeys(t *testing.T) {
	c, path := loadSeed(t, "mixed")
	assert.Equal(t, HAZooKeeper, c.HAMode())
	assert.Equal(t, []string{"zk1.example.com:2181", "zk2.example.com:2181"}, c.Quorum(), "the nested current key beats recovery.*")
	assert.Equal(t, "/recovery-root", c.PathRoot(), "recovery.* is read before the zookeeper.* short form")
	assert.Equal(t, "file:///var/lib/amkeeper/ha", c.StorageDir())
	assert.Equal(t, 7, c.MaxRetryAttempts())
	assert.Equal(t, "mixed", c.ClusterID())
	assert.Equal(t, 4, c.ApplicationAttempts())
	assert.Equal(t, path+":5", c.Entry(ZKQuorum).Origin.String())

	byKey := map[string][]Warning{}
	for _, w := range c.Warnings() {
		byKey[w.Key] = append(byKey[w.Key], w)
	}
	require.Len(t, c.Warnings(), 6, warningText(c))
	want := map[string]string{
		"recovery.zookeeper.quorum":     "is deprecated and ignored: high-availability.zookeeper.quorum is set at " + path + ":5; use high-availability.zookeeper.quorum",
		"recovery.zookeeper.path.root":  "is deprecated: use high-availability.zookeeper.path.root",
		"zookeeper.path.root":           "is deprecated and ignored: recovery.zookeeper.path.root is set at " + path + ":7; use high-availability.zookeeper.path.root",
		"recovery.zookeeper.storageDir": "is deprecated and ignored: high-availability.storageDir is set at " + path + ":9; use high-availability.storageDir",
		"zookeeper.retry-count":         "is deprecated: use high-availability.zookeeper.client.max-retry-attempts",
		"zookeeper.cluster-id":          "is deprecated: use high-availability.cluster-id",
	}
	for k, msg := range want {
		require.Len(t, byKey[k], 1, k)
		assert.Equal(t, msg, byKey[k][0].Msg, k)
	}
	v, _, ok := c.Raw("parallelism.default")
	assert.True(t, ok)
	assert.Equal(t, "4", v)
}
