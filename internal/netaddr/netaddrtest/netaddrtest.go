// Package netaddrtest picks loopback ports for tests: ports free a moment ago,
// for a server a test configures before it starts (ZooKeeper's quorum ports, a
// fixed REST port), and ports a listener holds, for a bind that must fail.
//
// A picked port is only free when it is picked: nothing keeps another process
// from taking it before the test binds it. Ports picked together are distinct.
package netaddrtest

import (
	"fmt"
	"net"
	"testing"
)

// Pick returns n distinct loopback ports that were free a moment ago. Every
// port stays held by its listener until the last is picked: a port closed at
// once may be handed out again by the next pick (it was: "39425,39425").
func Pick(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("netaddrtest: pick a free loopback port (%d of %d): %w", len(ports)+1, n, err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// FreePorts is Pick for a test, which it fails if no port can be picked.
func FreePorts(tb testing.TB, n int) []int {
	tb.Helper()
	ports, err := Pick(n)
	if err != nil {
		tb.Fatal(err)
	}
	return ports
}

// FreePort returns one loopback port that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	return FreePorts(tb, 1)[0]
}

// BusyPort returns a loopback port that a listener holds (accepting, never
// answering) until the test ends.
func BusyPort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("netaddrtest: hold a loopback port: %v", err)
	}
	tb.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}
