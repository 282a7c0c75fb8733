package netaddrtest_test

import (
	"net"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/netaddr/netaddrtest"
)

// TestFreePortsAreDistinctAndFree: ports picked together are all different,
// and each can be bound once the pick returns.
func TestFreePortsAreDistinctAndFree(t *testing.T) {
	ports := netaddrtest.FreePorts(t, 64)
	seen := make(map[int]bool, len(ports))
	for _, p := range ports {
		require.False(t, seen[p], "port %d picked twice in %v", p, ports)
		seen[p] = true
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		require.NoError(t, err)
		require.NoError(t, l.Close())
	}
}

// TestBusyPortRefusesABind: the port stays held for the rest of the test.
func TestBusyPortRefusesABind(t *testing.T) {
	port := netaddrtest.BusyPort(t)
	_, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	require.ErrorIs(t, err, syscall.EADDRINUSE)
}
