package netns_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/integration/netns"
)

// dialFrom connects from inside h to addr (bash's /dev/tcp) and sends a line:
// the test process listens on the bridge, since a Go listener of this process
// cannot enter a namespace.
func dialFrom(t *testing.T, h *netns.Host, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	cmd := h.Command(ctx, "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/%s && echo hello >&3", host, port))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func TestBedHostsReachEachOtherAndFaultsCutThem(t *testing.T) {
	bed := netns.New(t, "a", "b")
	a, b := bed.Host("a"), bed.Host("b")
	require.NotEqual(t, a.Addr, b.Addr)

	// The test process listens on the bridge: every host reaches it.
	l, err := net.Listen("tcp", net.JoinHostPort(bed.Gateway().String(), "0"))
	require.NoError(t, err)
	defer l.Close()
	got := make(chan string, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			got <- c.RemoteAddr().(*net.TCPAddr).IP.String() + " " + strings.TrimSpace(line)
			c.Close()
		}
	}()
	require.NoError(t, dialFrom(t, a, l.Addr().String()))
	require.Equal(t, a.Address()+" hello", <-got, "a connection from host a carries a's address")

	// Host a's own address is its own: a process there binds it, b reaches it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ping := func(from, to *netns.Host) error {
		out, err := from.Command(ctx, "ping", "-c1", "-W1", to.Address()).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	}
	require.NoError(t, ping(a, b))

	require.NoError(t, a.LinkDown())
	require.Error(t, ping(b, a), "a's cable is pulled")
	require.Error(t, dialFrom(t, a, l.Addr().String()))
	require.NoError(t, a.LinkUp())
	require.Eventually(t, func() bool { return ping(b, a) == nil }, 10*time.Second, 50*time.Millisecond, "a is back")

	require.NoError(t, netns.Partition(a, b))
	require.Error(t, ping(a, b), "partitioned")
	require.Error(t, ping(b, a), "both ways")
	require.NoError(t, dialFrom(t, a, l.Addr().String()), "only from b: a still reaches the bridge")
	require.NoError(t, a.Heal())
	require.NoError(t, ping(a, b))

	// 50% loss: of 40 pings some arrive and some do not.
	require.NoError(t, a.Drop(50))
	out, _ := a.Command(ctx, "ping", "-c40", "-i0.01", "-W1", b.Address()).CombinedOutput()
	require.Regexp(t, `40 packets transmitted, ([1-9]|[1-3][0-9]) received`, string(out))
	require.NoError(t, a.Heal())
}

// TestBedIsRemovedAndStaleBedsAreCleaned: a bed's namespaces and bridge go at
// the end of its test; one left by a dead process is removed by the next New.
func TestBedIsRemovedAndStaleBedsAreCleaned(t *testing.T) {
	var ns, bridge string
	t.Run("bed", func(t *testing.T) {
		bed := netns.New(t, "x")
		ns = bed.Host("x").NS
		bridge = "amkb" + strings.TrimPrefix(strings.Split(ns, "-")[0], "amk")
	})
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	require.NoError(t, err)
	require.NotContains(t, string(out), ns+" ", "namespace removed")
	// The bridge's N is free again: another bed (a concurrent test binary) may
	// hold it by now, but not under this process.
	if out, err := exec.Command("ip", "-o", "link", "show", bridge).CombinedOutput(); err == nil {
		require.NotContains(t, string(out), fmt.Sprintf("pid=%d ", os.Getpid()), "bridge removed")
	}

	// A stale bed: a bridge and namespace recorded as made by a process that
	// has exited.
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	stale := "amkb249"
	_ = exec.Command("ip", "link", "delete", stale).Run()
	require.NoError(t, exec.Command("ip", "link", "add", stale, "type", "bridge").Run())
	require.NoError(t, exec.Command("ip", "link", "set", stale, "alias", fmt.Sprintf("amkeeper-netns pid=%d start=1", dead.Process.Pid)).Run())
	require.NoError(t, exec.Command("ip", "netns", "add", "amk249-old").Run())
	netns.New(t, "y")
	require.Error(t, exec.Command("ip", "link", "show", stale).Run(), "stale bridge removed")
	out, err = exec.Command("ip", "netns", "list").CombinedOutput()
	require.NoError(t, err)
	require.NotContains(t, string(out), "amk249-old", "stale namespace removed")
}

// TestListenInsideAHost: a listener the test process opens with Host.Listen is
// on the host: reached at the host's address (from another host and from the
// test process; a's address exists only inside a), and cut off with the host's
// cable.
func TestListenInsideAHost(t *testing.T) {
	bed := netns.New(t, "a", "b")
	a, b := bed.Host("a"), bed.Host("b")
	l, err := a.Listen("tcp", net.JoinHostPort(a.Address(), "0"))
	require.NoError(t, err)
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("hello from a\n"))
			_ = c.Close()
		}
	}()
	require.True(t, a.Reachable(port, 2*time.Second), "the test process reaches it at a's address")
	out, err := b.Command(context.Background(), "bash", "-c",
		"exec 3<>/dev/tcp/"+a.Address()+"/"+strconv.Itoa(port)+"; cat <&3").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, "hello from a\n", string(out), "host b reaches it")
	require.NoError(t, a.LinkDown())
	require.False(t, a.Reachable(port, 500*time.Millisecond), "a's cable pulled: cut off")
	require.NoError(t, a.LinkUp())
}
