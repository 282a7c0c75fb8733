package zktest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
