package conf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// defaultZKPort is the client port a quorum entry without a port gets, as Flink's
// shipped flink-conf.yaml documents.
const defaultZKPort = 2181

// parseHostList parses comma-separated host[:port] entries, filling in defPort, and
// returns them as host:port (IPv6 hosts in brackets).
func parseHostList(s string, defPort int) ([]string, error) {
	var out []string
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, errors.New("has an empty entry: want host:port entries separated by commas")
		}
		if i := strings.IndexByte(entry, '/'); i >= 0 {
			return nil, fmt.Errorf("has a chroot suffix %q in entry %q: ZooKeeper chroots are not supported here; "+
				"set high-availability.zookeeper.path.root instead", entry[i:], entry)
		}
		host, port, err := splitHostPort(entry, defPort)
		if err != nil {
			return nil, fmt.Errorf("has a bad entry %q: %w", entry, err)
		}
		out = append(out, net.JoinHostPort(host, strconv.Itoa(port)))
	}
	return out, nil
}

// splitHostPort splits host[:port] or [ipv6][:port]; a missing port is defPort. A
// port that is written must be in 1..65535.
func splitHostPort(entry string, defPort int) (string, int, error) {
	var host, portText string
	hasPort := false
	if strings.HasPrefix(entry, "[") {
		end := strings.IndexByte(entry, ']')
		if end < 0 {
			return "", 0, errors.New("missing ] after the IPv6 address")
		}
		host = entry[1:end]
		rest := entry[end+1:]
		switch {
		case rest == "":
		case strings.HasPrefix(rest, ":"):
			portText, hasPort = rest[1:], true
		default:
			return "", 0, fmt.Errorf("unexpected %q after the IPv6 address", rest)
		}
		if _, err := netip.ParseAddr(host); err != nil {
			return "", 0, fmt.Errorf("%q is not an IP address", host)
		}
	} else {
		switch strings.Count(entry, ":") {
		case 0:
			host = entry
		case 1:
			host, portText, _ = strings.Cut(entry, ":")
			hasPort = true
		default:
			return "", 0, errors.New("an IPv6 address needs brackets: [address]:port")
		}
		if host == "" {
			return "", 0, errors.New("the host is empty")
		}
		if err := checkHostName(host); err != nil {
			return "", 0, err
		}
	}
	if !hasPort {
		return host, defPort, nil
	}
	port, err := parsePort(portText)
	if err != nil {
		return "", 0, err
	}
	return host, port, nil
}

// parsePort parses a port in 1..65535.
func parsePort(s string) (int, error) {
	if s == "" {
		return 0, errors.New("the port is empty")
	}
	if leadingDigits(s) != s {
		return 0, fmt.Errorf("port %q is not a number", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %s is out of range 1..65535", s)
	}
	return n, nil
}

// checkHostName accepts DNS names and IPv4 addresses: letters, digits, '-', '.', '_',
// not starting with '-'. No host name starts with '-', and one that did would reach
// ssh (start-cluster, zookeeper start) as an option rather than as the host.
func checkHostName(host string) error {
	if strings.HasPrefix(host, "-") {
		return fmt.Errorf("host %q starts with '-', which no host name does (ssh would read it as an option): "+
			"want a host name of letters, digits, '-', '.' and '_' that starts with a letter or digit, or an IP address", host)
	}
	for _, r := range host {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_'
		if !ok {
			return fmt.Errorf("host %q has a character %q that is not valid in a host name", host, r)
		}
	}
	return nil
}
