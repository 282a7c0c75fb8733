package conf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMasters(t *testing.T) {
	dir := writeDir(t, map[string]string{MastersFile: "# JobManagers\n" +
		"localhost:8081\n" +
		"\n" +
		"  jm2.example.com:8082   # standby\n" +
		"jm3\r\n" +
		"[::1]:8083\n" +
		"[fe80::2]\n"})
	path := filepath.Join(dir, MastersFile)
	ms, err := ParseMasters(path)
	require.NoError(t, err)
	assert.Equal(t, []Master{
		{Host: "localhost", WebUIPort: 8081, Line: 2},
		{Host: "jm2.example.com", WebUIPort: 8082, Line: 4},
		{Host: "jm3", WebUIPort: 0, Line: 5},
		{Host: "::1", WebUIPort: 8083, Line: 6},
		{Host: "fe80::2", WebUIPort: 0, Line: 7},
	}, ms)

	empty := writeDir(t, map[string]string{MastersFile: "# none yet\n"})
	ms, err = ParseMasters(filepath.Join(empty, MastersFile))
	require.NoError(t, err)
	assert.NotNil(t, ms, "an existing file gives a non-nil list")
	assert.Empty(t, ms)

	_, err = ParseMasters(filepath.Join(empty, "nope"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestParseMastersErrors(t *testing.T) {
	dir := writeDir(t, map[string]string{MastersFile: "good:8081\nbad:port\n:8082\nhost:99999\nh1:1:2\nspace host:1\ngood2\n"})
	path := filepath.Join(dir, MastersFile)
	ms, err := ParseMasters(path)
	require.Len(t, ms, 2, "good lines are kept")
	var ve *ValidationError
	require.True(t, errors.As(err, &ve))
	want := []string{
		path + `:2: "bad:port" is not host[:webUIPort]: port "port" is not a number`,
		path + `:3: ":8082" is not host[:webUIPort]: the host is empty`,
		path + `:4: "host:99999" is not host[:webUIPort]: port 99999 is out of range 1..65535`,
		path + `:5: "h1:1:2" is not host[:webUIPort]: an IPv6 address needs brackets: [address]:port`,
		path + `:6: "space host:1" is not host[:webUIPort]: host "space host" has a character ' ' that is not valid in a host name`,
	}
	require.Len(t, ve.Problems, len(want))
	for i, p := range ve.Problems {
		assert.Equal(t, want[i], p.Error())
	}
}

func TestParseZooCfg(t *testing.T) {
	dir := writeDir(t, map[string]string{ZooCfgFile: "# ZooKeeper\n" +
		"tickTime=2000\n" +
		"initLimit = 10\n" +
		"syncLimit: 5\n" +
		"dataDir /tmp/zookeeper\n" +
		"clientPort=2181\n" +
		"clientPortAddress=127.0.0.1\n" +
		"! another comment\n" +
		"server.1=zk1:2888:3888\n" +
		"server.2=zk2:2888:3888;2181\n" +
		"server.3=[::1]:2888:3888:observer;0.0.0.0:2182\n" +
		"autopurge.snapRetainCount=3\n" +
		"4lw.commands.whitelist=ruok,\\\n" +
		"    stat\n"})
	path := filepath.Join(dir, ZooCfgFile)
	z, err := ParseZooCfg(path)
	require.NoError(t, err)
	assert.Equal(t, path, z.Path)
	assert.Equal(t, 2*time.Second, z.TickTime)
	assert.Equal(t, 10, z.InitLimit)
	assert.Equal(t, 5, z.SyncLimit)
	assert.Equal(t, "/tmp/zookeeper", z.DataDir)
	assert.Equal(t, 2181, z.ClientPort)
	assert.Equal(t, "127.0.0.1", z.ClientPortAddress)
	assert.Equal(t, 4*time.Second, z.MinSessionTimeout)
	assert.Equal(t, 40*time.Second, z.MaxSessionTimeout)
	assert.Equal(t, []ZooServer{
		{ID: 1, Host: "zk1", PeerPort: 2888, LeaderPort: 3888, Role: "participant", Line: 9},
		{ID: 2, Host: "zk2", PeerPort: 2888, LeaderPort: 3888, ClientPort: 2181, Role: "participant", Line: 10},
		{ID: 3, Host: "::1", PeerPort: 2888, LeaderPort: 3888, ClientPort: 2182, Role: "observer", Line: 11},
	}, z.Servers)
	assert.Equal(t, map[string]string{"autopurge.snapRetainCount": "3", "4lw.commands.whitelist": "ruok,stat"}, z.Other)
	assert.Equal(t, 2, z.Line("tickTime"))
	assert.Equal(t, 13, z.Line("4lw.commands.whitelist"))
	assert.Equal(t, 40*time.Second, z.ClampSessionTimeout(time.Minute))
	assert.Equal(t, 4*time.Second, z.ClampSessionTimeout(time.Second))
	assert.Equal(t, 30*time.Second, z.ClampSessionTimeout(30*time.Second))
}

func TestZooCfgDefaults(t *testing.T) {
	z, problems := parseZooCfg("zoo.cfg", []byte("server.0=localhost:2888:3888\n"))
	require.Empty(t, problems)
	assert.Equal(t, 3*time.Second, z.TickTime)
	assert.Equal(t, 6*time.Second, z.MinSessionTimeout)
	assert.Equal(t, 60*time.Second, z.MaxSessionTimeout)
	assert.Zero(t, z.ClientPort)

	z, problems = parseZooCfg("zoo.cfg", []byte("tickTime=1000\nminSessionTimeout=-1\nmaxSessionTimeout=30000\n"))
	require.Empty(t, problems)
	assert.Equal(t, 2*time.Second, z.MinSessionTimeout, "-1 means the tickTime-derived default")
	assert.Equal(t, 30*time.Second, z.MaxSessionTimeout)
}

func TestParseZooCfgErrors(t *testing.T) {
	dir := writeDir(t, map[string]string{ZooCfgFile: "tickTime=two\n" +
		"server.x=zk1:2888:3888\n" +
		"server.1=zk1:2888\n" +
		"server.2=zk2:2888:99999\n" +
		"server.3=zk3:2888:3888\n" +
		"server.3=zk4:2888:3888\n" +
		"server.4=zk5:2888:3888:leader\n" +
		"clientPort=http\n" +
		"initLimit=-3\n" +
		"minSessionTimeout=50000\n" +
		"maxSessionTimeout=40000\n" +
		"server.5=zk6:2888:3888;http\n"})
	path := filepath.Join(dir, ZooCfgFile)
	z, err := ParseZooCfg(path)
	require.NotNil(t, z)
	var ve *ValidationError
	require.True(t, errors.As(err, &ve))
	want := []string{
		path + `:1: tickTime: "two" is not an integer (milliseconds)`,
		path + `:2: server.x: "zk1:2888:3888" has a bad server ID "x": want server.N with N a non-negative integer`,
		path + `:3: server.1: "zk1:2888" is not host:peerPort:leaderPort: want two ports`,
		path + `:4: server.2: "zk2:2888:99999" is not host:peerPort:leaderPort: leader port: port 99999 is out of range 1..65535`,
		path + `:6: server.3: "zk4:2888:3888" repeats server ID 3 (first at line 5)`,
		path + `:7: server.4: "zk5:2888:3888:leader" is not host:peerPort:leaderPort: role "leader": want participant or observer`,
		path + `:8: clientPort: "http" is not a port: port "http" is not a number`,
		path + `:9: initLimit: "-3" is not a positive integer (ticks)`,
		path + `:12: server.5: "zk6:2888:3888;http" is not host:peerPort:leaderPort: client port: port "http" is not a number`,
		path + `:10: minSessionTimeout: "50000" is greater than maxSessionTimeout (40000 ms): ZooKeeper refuses to start`,
	}
	var got []string
	for _, p := range ve.Problems {
		got = append(got, p.Error())
	}
	assert.Equal(t, want, got)
	assert.Len(t, z.Servers, 1)
	assert.Equal(t, 3*time.Second, z.TickTime, "an invalid tickTime leaves the default")
}

func TestLoadReadsMastersAndZooCfg(t *testing.T) {
	c, err := Load(Options{Dir: "testdata/seed002", LookupEnv: noEnv})
	require.NoError(t, err)
	assert.Equal(t, []Master{{Host: "localhost", WebUIPort: 8081, Line: 1}, {Host: "localhost", WebUIPort: 8082, Line: 2}}, c.Masters())
	z := c.ZooCfg()
	require.NotNil(t, z)
	assert.Equal(t, []ZooServer{{ID: 0, Host: "localhost", PeerPort: 2888, LeaderPort: 3888, Role: "participant", Line: 1}}, z.Servers)
	assert.Equal(t, filepath.Join("testdata", "seed002", ZooCfgFile), z.Path)
}

// TestClientPortZeroIsAFreePort: clientPort=0 is what zookeeper start reads as "pick a
// free port"; the one parser accepts it, so config and zookeeper start agree.
func TestClientPortZeroIsAFreePort(t *testing.T) {
	dir := writeDir(t, map[string]string{ZooCfgFile: "tickTime=500\nclientPort=0\n", FlinkConfFile: "high-availability.type: zookeeper\n" +
		"high-availability.zookeeper.quorum: localhost:2181\nhigh-availability.storageDir: file:///tmp/ha\n"})
	z, err := ParseZooCfg(filepath.Join(dir, ZooCfgFile))
	require.NoError(t, err)
	assert.True(t, z.FreeClientPort())
	assert.Equal(t, 0, z.ClientPort)
	_, err = Load(Options{Dir: dir, LookupEnv: noEnv})
	require.NoError(t, err)

	z, err = parseZooCfgText(t, "tickTime=500\n")
	require.NoError(t, err)
	assert.False(t, z.FreeClientPort(), "no clientPort line is not clientPort=0")
}

func parseZooCfgText(t *testing.T, text string) (*ZooCfg, error) {
	t.Helper()
	return ParseZooCfg(filepath.Join(writeDir(t, map[string]string{ZooCfgFile: text}), ZooCfgFile))
}

// The seed's yarn-site.xml block, as the YARN HA documentation gives it.
const seedYarnSite = `<?xml version="1.0"?>
<configuration>
<property>
  <name>yarn.resourcemanager.am.max-attempts</name>
  <value>4</value>
  <description>
    The maximum number of application master execution attempts.
  </description>
</property>
</configuration>
`

// TestYarnSiteMaxAttempts: yarn.resourcemanager.am.max-attempts comes from
// yarn-site.xml in YARN_CONF_DIR, else HADOOP_CONF_DIR (the ResourceManager's
// setting); flink-conf.yaml and -D override it with a warning naming the file.
func TestYarnSiteMaxAttempts(t *testing.T) {
	yarnDir := writeDir(t, map[string]string{"yarn-site.xml": seedYarnSite})
	hadoopDir := writeDir(t, map[string]string{"yarn-site.xml": strings.Replace(seedYarnSite, "<value>4<", "<value>7<", 1)})
	env := func(vars map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	}
	confDir := writeDir(t, map[string]string{FlinkConfFile: "yarn.application-attempts: 10\n"})

	c, err := Load(Options{Dir: confDir, LookupEnv: env(map[string]string{"YARN_CONF_DIR": yarnDir, "HADOOP_CONF_DIR": hadoopDir})})
	require.NoError(t, err)
	assert.Equal(t, 4, c.AMMaxAttempts(), "YARN_CONF_DIR first")
	e := entryOf(t, c, "yarn.resourcemanager.am.max-attempts")
	assert.Equal(t, filepath.Join(yarnDir, "yarn-site.xml")+":3", e.Origin.String())
	assert.Empty(t, c.Warnings())

	c, err = Load(Options{Dir: confDir, LookupEnv: env(map[string]string{"HADOOP_CONF_DIR": hadoopDir})})
	require.NoError(t, err)
	assert.Equal(t, 7, c.AMMaxAttempts(), "HADOOP_CONF_DIR when YARN_CONF_DIR is unset")

	c, err = Load(Options{Dir: confDir, LookupEnv: noEnv})
	require.NoError(t, err)
	assert.Equal(t, 2, c.AMMaxAttempts(), "YARN's default without a yarn-site.xml")

	c, err = Load(Options{Dir: confDir, Dynamic: []string{"yarn.resourcemanager.am.max-attempts=10"},
		LookupEnv: env(map[string]string{"YARN_CONF_DIR": yarnDir})})
	require.NoError(t, err)
	assert.Equal(t, 10, c.AMMaxAttempts(), "-D overrides yarn-site.xml")
	require.Len(t, c.Warnings(), 1)
	assert.Equal(t, `-D: yarn.resourcemanager.am.max-attempts: "10" overrides "4" from `+filepath.Join(yarnDir, "yarn-site.xml")+
		`:3: amkeeper's own setting wins over the ResourceManager's yarn-site.xml`, c.Warnings()[0].String())

	bad := writeDir(t, map[string]string{"yarn-site.xml": "<configuration><property><name>x</name>"})
	_, err = Load(Options{Dir: confDir, LookupEnv: env(map[string]string{"YARN_CONF_DIR": bad})})
	require.ErrorContains(t, err, filepath.Join(bad, "yarn-site.xml")+": not Hadoop configuration XML")
}

func entryOf(t *testing.T, c *Config, key string) Entry {
	t.Helper()
	for _, e := range c.Entries() {
		if e.Option.Key() == key {
			return e
		}
	}
	t.Fatalf("no entry %s", key)
	return Entry{}
}
