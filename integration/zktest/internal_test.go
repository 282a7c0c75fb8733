package zktest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseModeDebianBanner(t *testing.T) {
	answer := "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n" +
		"Latency min/avg/max: 0/0.0/0\nReceived: 8\nSent: 7\nConnections: 1\nOutstanding: 0\n" +
		"Zxid: 0x0\nMode: follower\nNode count: 5\n"
	mode, err := parseMode(answer)
	require.NoError(t, err)
	assert.Equal(t, "follower", mode)

	_, err = parseMode("This ZooKeeper instance is not currently serving requests\n")
	assert.ErrorIs(t, err, ErrNotServing)

	_, err = parseMode("")
	assert.Error(t, err)
}

func TestSanitize(t *testing.T) {
	assert.Equal(t, "TestX_sub_case_", sanitize("TestX/sub case?"))
	assert.Equal(t, "test", sanitize(""))
	assert.Len(t, sanitize(string(make([]byte, 300))), 100)
}

func TestZooCfg(t *testing.T) {
	o, err := buildOptions([]Option{WithServers(3), WithTickTime(250e6), WithConfig("globalOutstandingLimit=10")})
	require.NoError(t, err)
	c := &Cluster{opts: o}
	for id := 1; id <= 3; id++ {
		c.servers = append(c.servers, &Server{c: c, id: id, dir: "/d/server", clientPort: 1000 * id, peerPort: 1000*id + 1, electPort: 1000*id + 2})
	}
	cfg := c.zooCfg(c.servers[1])
	for _, want := range []string{
		"tickTime=250\n", "clientPort=2000\n", "clientPortAddress=127.0.0.1\n", "admin.enableServer=false\n",
		"4lw.commands.whitelist=*\n", "maxClientCnxns=0\n", "forceSync=no\n", "dataDir=/d/server/data\n",
		"server.1=127.0.0.1:1001:1002\n", "server.3=127.0.0.1:3001:3002\n", "globalOutstandingLimit=10\n",
	} {
		assert.Contains(t, cfg, want)
	}

	_, err = buildOptions([]Option{WithServers(0)})
	assert.Error(t, err)
	_, err = buildOptions([]Option{WithTickTime(1500)})
	assert.Error(t, err)
}
