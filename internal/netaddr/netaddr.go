package netaddr

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"syscall"

	"github.com/amkeeper/amkeeper/conf"
)

// Keys names the configuration keys that chose a listener's host and ports,
// for errors.
type Keys struct {
	Host, Port string
}

// Listen binds TCP on host at the first free port of spec, trying the ports in
// order (0: any free port).
func Listen(host string, spec conf.PortSpec, keys Keys) (net.Listener, error) {
	var lastErr error
	for port := range spec.Ports() {
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err == nil {
			return l, nil
		}
		if errors.Is(err, syscall.EADDRNOTAVAIL) {
			return nil, fmt.Errorf("%s %q is not an address of this host: bind a local address or 0.0.0.0: %w", keys.Host, host, err)
		}
		lastErr = err
	}
	if lastErr == nil {
		lastErr = errors.New("the spec has no port")
	}
	return nil, fmt.Errorf("no free port in %s %q on %s %q: %w", keys.Port, spec, keys.Host, host, lastErr)
}

// RouteTo returns the local address the kernel would use to reach target
// (host:port, or a URL with one): the address to publish when binding a
// wildcard. A UDP socket is connected for the lookup; no packet is sent.
func RouteTo(target string) (string, error) {
	hostport := target
	if u, err := url.Parse(target); err == nil && u.Host != "" {
		hostport = u.Host
	}
	c, err := net.Dial("udp", hostport)
	if err != nil {
		return "", fmt.Errorf("netaddr: no route to %s: %w", hostport, err)
	}
	defer c.Close()
	host, _, err := net.SplitHostPort(c.LocalAddr().String())
	if err != nil {
		return "", fmt.Errorf("netaddr: the local address of the route to %s: %w", hostport, err)
	}
	return host, nil
}
