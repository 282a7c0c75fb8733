package zktest_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/zktls/tlstest"
)

// TestTLSOnlyServer: WithTLS starts a server that serves over TLS only: the
// harness's own TLS connection gets a session and answers srvr, and a plain
// connection to the same port gets no ZooKeeper answer at all.
func TestTLSOnlyServer(t *testing.T) {
	certs := tlstest.Generate(t, t.TempDir())
	c := zktest.Start(t, zktest.WithTLS(certs.Server, certs.CA))
	require.NotNil(t, c.TLS())

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	mode, err := c.Server(0).Mode(ctx)
	require.NoError(t, err)
	require.Equal(t, "standalone", mode)

	conn := c.Conn(t)
	_, err = conn.Create("/tls", []byte("x"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	// Plain TCP: the port accepts the connection, but a ZooKeeper ConnectRequest
	// gets no ConnectResponse, only a closed connection.
	plain, err := net.DialTimeout("tcp", c.Addrs()[0], time.Second)
	require.NoError(t, err)
	defer plain.Close()
	require.NoError(t, plain.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = plain.Write([]byte("srvr"))
	require.NoError(t, err)
	buf := make([]byte, 64)
	n, err := plain.Read(buf)
	require.Error(t, err, "a plain client must get nothing from a TLS-only port, got %q", buf[:n])
	require.Zero(t, n)
}
