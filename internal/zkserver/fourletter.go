package zkserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// ErrNotServing is returned by Mode while a server runs but does not serve requests
// (starting, electing a leader, or cut off from its quorum).
var ErrNotServing = errors.New("zkserver: server not serving requests")

// FourLetter sends a four-letter-word command ("srvr", "ruok", "mntr", "stat", …) to
// the ZooKeeper server at addr and returns its whole answer. The command must be in
// the server's 4lw.commands.whitelist. A deadline or cancellation of ctx ends the
// exchange with an error that wraps ctx's error.
func FourLetter(ctx context.Context, addr, cmd string) (string, error) {
	return fourLetter(ctx, addr, cmd, nil)
}

// FourLetterTLS is FourLetter to a TLS port (a server's secureClientPort), the
// connection made with tc.
func FourLetterTLS(ctx context.Context, addr, cmd string, tc *tls.Config) (string, error) {
	return fourLetter(ctx, addr, cmd, tc)
}

func fourLetter(ctx context.Context, addr, cmd string, tc *tls.Config) (string, error) {
	if len(cmd) != 4 {
		return "", fmt.Errorf("zkserver: four-letter word %q: want 4 letters", cmd)
	}
	var conn net.Conn
	var err error
	if tc != nil {
		conn, err = (&tls.Dialer{Config: tc}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return "", fmt.Errorf("zkserver: %s %s: %w", cmd, addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if _, err = io.WriteString(conn, cmd); err == nil {
		var b []byte
		if b, err = io.ReadAll(conn); err == nil {
			return string(b), nil
		}
	}
	switch {
	case ctx.Err() != nil:
		err = ctx.Err()
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = context.DeadlineExceeded // the socket deadline is ctx's deadline
	}
	return "", fmt.Errorf("zkserver: %s %s: %w", cmd, addr, err)
}

// Mode asks the server at addr with the srvr four-letter command and returns its mode:
// "standalone", "leader", "follower" or "observer".
func Mode(ctx context.Context, addr string) (string, error) {
	return ModeTLS(ctx, addr, nil)
}

// ModeTLS is Mode over TLS when tc is set (a TLS-only server), else plain.
func ModeTLS(ctx context.Context, addr string, tc *tls.Config) (string, error) {
	answer, err := fourLetter(ctx, addr, "srvr", tc)
	if err != nil {
		return "", err
	}
	return parseMode(answer)
}

// parseMode finds the Mode line of a srvr answer. (go-zookeeper's FLWSrvr cannot
// parse Debian's version banner, "3.8.0-${mvngit.commit.id}", hence our own.)
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
