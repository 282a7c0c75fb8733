package zkclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrSessionGone: the session to close has expired, was closed already, or the
// password does not match.
var ErrSessionGone = errors.New("zkclient: session gone or password wrong")

// CloseSession re-attaches to the session (id, password) — a ConnectRequest that
// names it — and closes it, so its ephemeral nodes go at once instead of after
// the session timeout. Only for a session whose owner is known to be dead or to
// have given it up: the supervisor calls it after it has reaped a killed AM, and a
// Client for the session it presumed lost. It tries the servers in
// order, connecting with dial (nil: plain TCP) — the Dialer of the Clients of
// that ensemble, so that a TLS-only ensemble is reached over TLS and a server
// that requires SASL sees an authenticated connection (SASLConfig.Dialer);
// ErrSessionGone means there was nothing left to close.
func CloseSession(ctx context.Context, servers []string, dial Dialer, id int64, password []byte, timeout time.Duration) error {
	if len(servers) == 0 {
		return errors.New("zkclient: close session: no servers")
	}
	var errs []error
	for _, s := range servers {
		err := closeOn(ctx, dialerOf(dial), s, id, password, timeout)
		if err == nil || errors.Is(err, ErrSessionGone) {
			return err
		}
		errs = append(errs, fmt.Errorf("%s: %w", s, err))
	}
	return fmt.Errorf("zkclient: close session 0x%x: %w", id, errors.Join(errs...))
}

func closeOn(ctx context.Context, dial Dialer, server string, id int64, password []byte, timeout time.Duration) error {
	bound := dialTimeout
	if dl, ok := ctx.Deadline(); ok {
		bound = min(bound, time.Until(dl))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	conn, err := dial("tcp", server, bound)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(connDeadline(ctx.Deadline()))

	// The closeSession request goes out right behind the ConnectRequest, saving a
	// round trip: the server reads nothing more from a connection until it has
	// validated the session, and drops the connection, unread, when it refuses.
	const xid = 1
	out := append(connectRequest(id, password, timeout).done(), request(xid, opCloseSession).done()...)
	if _, err := conn.Write(out); err != nil {
		return err
	}
	got, _, err := connectResponse(conn)
	switch {
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: the server closed the connection", ErrSessionGone)
	case err != nil:
		return err
	case got != id:
		return fmt.Errorf("%w: the server answered session 0x%x", ErrSessionGone, got)
	}
	reply, err := readFrame(conn)
	if err != nil {
		return fmt.Errorf("zkclient: close session reply: %w", err)
	}
	if err := replyHeader(&decoder{b: reply}, xid); err != nil {
		return fmt.Errorf("zkclient: close session 0x%x: %w", id, err)
	}
	return nil
}
