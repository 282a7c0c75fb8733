package zkclient

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// ErrSessionGone: the session to close has expired, was closed already, or the
// password does not match.
var ErrSessionGone = errors.New("zkclient: session gone or password wrong")

// opCloseSession is ZooKeeper's closeSession request type.
const opCloseSession = -11

// CloseSession re-attaches to the session (id, password) — a ConnectRequest that
// names it — and closes it, so its ephemeral nodes go at once instead of after
// the session timeout. Only for a session whose owner is known to be dead or to
// have given it up: the supervisor calls it after it has reaped a killed AM, and a
// Client for the session it presumed lost. It tries the servers in
// order; ErrSessionGone means there was nothing left to close.
func CloseSession(ctx context.Context, servers []string, id int64, password []byte, timeout time.Duration) error {
	if len(servers) == 0 {
		return errors.New("zkclient: close session: no servers")
	}
	var errs []error
	for _, s := range servers {
		err := closeOn(ctx, s, id, password, timeout)
		if err == nil || errors.Is(err, ErrSessionGone) {
			return err
		}
		errs = append(errs, fmt.Errorf("%s: %w", s, err))
	}
	return fmt.Errorf("zkclient: close session 0x%x: %w", id, errors.Join(errs...))
}

func closeOn(ctx context.Context, server string, id int64, password []byte, timeout time.Duration) error {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", server)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)

	// ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly.
	req := make([]byte, 0, 4+4+8+4+8+4+len(password)+1)
	req = binary.BigEndian.AppendUint32(req, 0) // length, filled in below
	req = binary.BigEndian.AppendUint32(req, 0)
	req = binary.BigEndian.AppendUint64(req, 0)
	req = binary.BigEndian.AppendUint32(req, uint32(timeout.Milliseconds()))
	req = binary.BigEndian.AppendUint64(req, uint64(id))
	req = binary.BigEndian.AppendUint32(req, uint32(len(password)))
	req = append(req, password...)
	req = append(req, 0)
	binary.BigEndian.PutUint32(req, uint32(len(req)-4))
	if _, err := conn.Write(req); err != nil {
		return err
	}
	resp, err := readFrame(conn)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: the server closed the connection", ErrSessionGone)
		}
		return err
	}
	if len(resp) < 16 {
		return fmt.Errorf("zkclient: short connect response (%d bytes)", len(resp))
	}
	if got := int64(binary.BigEndian.Uint64(resp[8:16])); got != id {
		return fmt.Errorf("%w: the server answered session 0x%x", ErrSessionGone, got)
	}
	// closeSession: RequestHeader {xid, type}, no body.
	cls := binary.BigEndian.AppendUint32(nil, 8)
	cls = binary.BigEndian.AppendUint32(cls, 1)
	op := int32(opCloseSession)
	cls = binary.BigEndian.AppendUint32(cls, uint32(op))
	if _, err := conn.Write(cls); err != nil {
		return err
	}
	reply, err := readFrame(conn)
	if err != nil {
		return fmt.Errorf("zkclient: close session reply: %w", err)
	}
	if len(reply) < 16 {
		return fmt.Errorf("zkclient: short close reply (%d bytes)", len(reply))
	}
	if code := int32(binary.BigEndian.Uint32(reply[12:16])); code != 0 {
		return fmt.Errorf("zkclient: close session 0x%x: server error %d", id, code)
	}
	return nil
}

// readFrame reads one length-prefixed frame (bounded: replies here are small).
func readFrame(r io.Reader) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > 1<<16 {
		return nil, fmt.Errorf("zkclient: frame of %d bytes", size)
	}
	b := make([]byte, size)
	_, err := io.ReadFull(r, b)
	return b, err
}
