package zkha_test

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// cuttable dials real connections and can cut them all (SUSPENDED for the
// client on them) and refuse new ones until restored.
type cuttable struct {
	mu    sync.Mutex
	down  bool
	conns []net.Conn
}

func (c *cuttable) dial(network, address string, timeout time.Duration) (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, &net.OpError{Op: "dial", Net: network, Err: net.ErrClosed}
	}
	conn, err := net.DialTimeout(network, address, timeout)
	if err == nil {
		c.conns = append(c.conns, conn)
	}
	return conn, err
}

func (c *cuttable) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = true
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
}

func (c *cuttable) restore() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = false
}

// TestRetrievalReadsTheLeaderAgainAfterASuspension: only the retriever's
// connection drops (SUSPENDED clears its leader) and comes back in the same
// session while the leader keeps its connection_info unchanged. The retriever
// must report that leader again: its watch does not fire for a node that did not
// change, and a TaskManager that kept "no leader" refused the leader's commands
// as stale until the leader changed (the ~50 s stall seen under load).
func TestRetrievalReadsTheLeaderAgainAfterASuspension(t *testing.T) {
	root := zkc.Root(t)
	ct := startContender(t, newClient(t, zkc, root, 10*time.Second), "am", false)
	l := waitGrant(t, ct, 10*time.Second)
	link := &cuttable{}
	rcl := newClient(t, zkc, root, 10*time.Second, func(cfg *zkclient.Config) { cfg.Dialer = link.dial })
	r := startRetriever(t, rcl, false)
	requireLeader(t, r, func(i recovery.LeaderInfo) bool { return i.SessionID == l.SessionID() }, "leader known")

	link.cut()
	requireLeader(t, r, func(i recovery.LeaderInfo) bool { return !i.Known() }, "SUSPENDED clears the leader")
	link.restore()
	require.Eventually(t, func() bool { return rcl.State() == zkclient.Reconnected }, 15*time.Second, 5*time.Millisecond)
	require.NoError(t, l.Err(), "the leader kept its grant")
	require.Empty(t, ct.grants, "no new grant: the leader did not change")
	requireLeader(t, r, func(i recovery.LeaderInfo) bool { return i.SessionID == l.SessionID() }, "the same leader known again after the reconnection")
}
