package netaddr_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/netaddr"
	"github.com/amkeeper/amkeeper/internal/netaddr/netaddrtest"
)

var keys = netaddr.Keys{Host: "jobmanager.bind-host", Port: "high-availability.jobmanager.port"}

func TestListenTriesThePortsInOrder(t *testing.T) {
	takenPort, freePort := netaddrtest.BusyPort(t), netaddrtest.FreePort(t)

	spec, err := conf.ParsePortSpec(fmt.Sprintf("%d,%d", takenPort, freePort))
	require.NoError(t, err)
	l, err := netaddr.Listen("127.0.0.1", spec, keys)
	require.NoError(t, err)
	defer l.Close()
	require.Equal(t, "127.0.0.1:"+strconv.Itoa(freePort), l.Addr().String())

	only, err := conf.ParsePortSpec(strconv.Itoa(takenPort))
	require.NoError(t, err)
	_, err = netaddr.Listen("127.0.0.1", only, keys)
	require.ErrorContains(t, err, fmt.Sprintf(`no free port in high-availability.jobmanager.port "%d" on jobmanager.bind-host "127.0.0.1"`, takenPort))
}

func TestListenNamesAForeignHost(t *testing.T) {
	_, err := netaddr.Listen("192.0.2.1", conf.PortSpec{}, keys)
	require.ErrorContains(t, err, `jobmanager.bind-host "192.0.2.1" is not an address of this host`)
}

func TestRouteToLoopback(t *testing.T) {
	host, err := netaddr.RouteTo("http://127.0.0.1:50010")
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", host)
}
