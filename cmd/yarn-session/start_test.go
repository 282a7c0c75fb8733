package main

import (
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
)

// TestPickRESTPort: a session picks a free port (one it can bind) only when
// neither rest.port nor rest.bind-port is set; a set key is left to the AMs.
func TestPickRESTPort(t *testing.T) {
	load := func(dyn ...string) *conf.Config {
		c, err := conf.Load(conf.Options{Dynamic: dyn, LookupEnv: func(string) (string, bool) { return "", false }})
		require.NoError(t, err)
		return c
	}
	port, err := pickRESTPort(load())
	require.NoError(t, err)
	require.NotZero(t, port)
	require.NotEqual(t, 8081, port, "not rest.port's default")
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	require.NoError(t, err, "the port picked is free on rest.bind-address")
	l.Close()

	for _, dyn := range []string{"rest.port=0", "rest.port=8081", "rest.bind-port=50100-50200"} {
		port, err := pickRESTPort(load(dyn))
		require.NoError(t, err)
		require.Zero(t, port, dyn)
	}
	_, err = pickRESTPort(load("rest.bind-address=192.0.2.1"))
	require.ErrorContains(t, err, "pick a free REST port on 192.0.2.1 (rest.bind-address): listen tcp 192.0.2.1:0: bind: ")
}
