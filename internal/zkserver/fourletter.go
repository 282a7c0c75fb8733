package zkserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
)

// ErrNotServing is returned by Mode while a server runs but does not serve requests
// (starting, electing a leader, or cut off from its quorum).
var ErrNotServing = errors.New("zkserver: server not serving requests")

// Mode asks the server at addr with the srvr four-letter command and returns its mode:
// "standalone", "leader", "follower" or "observer". A deadline or cancellation of ctx
// ends the exchange with an error wrapping ctx's error.
func Mode(ctx context.Context, addr string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("zkserver: srvr %s: %w", addr, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	var answer []byte
	if _, err = io.WriteString(conn, "srvr"); err == nil {
		answer, err = io.ReadAll(conn)
	}
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		return "", fmt.Errorf("zkserver: srvr %s: %w", addr, err)
	}
	return parseMode(string(answer))
}

// parseMode finds the Mode line of a srvr answer. (go-zookeeper's FLWSrvr cannot
// parse Debian's version banner, hence our own.)
func parseMode(answer string) (string, error) {
	for _, line := range strings.Split(answer, "\n") {
		if mode, ok := strings.CutPrefix(strings.TrimSpace(line), "Mode:"); ok {
			return strings.TrimSpace(mode), nil
		}
	}
	if strings.Contains(answer, "not currently serving") {
		return "", ErrNotServing
	}
	if strings.Contains(answer, "not in the whitelist") {
		return "", fmt.Errorf("zkserver: srvr refused: add srvr to %s", keyWhitelist)
	}
	if len(answer) > 200 {
		answer = answer[:200] + "…"
	}
	return "", fmt.Errorf("zkserver: no Mode line in srvr answer %q", answer)
}

// serving reports whether a srvr mode means the server answers clients.
func serving(mode string) bool {
	switch mode {
	case "standalone", "leader", "follower", "observer":
		return true
	}
	return false
}
