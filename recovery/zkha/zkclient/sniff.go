package zkclient

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// connectResponseTap wraps a connection and decodes the first frame the server
// sends on it: the ConnectResponse {protocolVersion int32, timeOut int32,
// sessionId int64, passwd buffer}. go-zookeeper keeps the session password private;
// this is how the owner of a session learns it, without touching the client.
//
// It can also turn the first frame the client sends, the ConnectRequest
// {protocolVersion int32, lastZxidSeen int64, timeOut int32, sessionId int64,
// passwd buffer}, into a request for a new session (sessionId 0, a zero password)
// when renew says so: go-zookeeper cannot be told to give a session up, and a
// session this client has presumed lost must not come back.
//
// report may refuse the session the server granted: the read that completes the
// ConnectResponse then fails and the connection is closed, so go-zookeeper never
// takes the session up and sends nothing on it.
//
// Until the ConnectResponse is complete, no read deadline is later than
// handshakeBy (when set). go-zookeeper allows ten receive timeouts (6.7 session
// timeouts) for the answer; a server that accepted the connection but never
// answers would hold the client that long. ZooKeeper 3.8.0 does that to a
// connection that arrives while it starts: it fails to close it.
type connectResponseTap struct {
	net.Conn
	mu          sync.Mutex
	buf         []byte
	done        bool
	report      func(conn net.Conn, sessionID int64, timeout time.Duration, passwd []byte) bool
	handshakeBy time.Time

	wrote  bool
	renew  func() bool
	closed func(conn net.Conn) // learns that the connection is closed; may be nil
	failed func(err error)     // learns why the handshake failed; may be nil
}

// errSessionRefused fails the handshake of a connection whose session report refused.
var errSessionRefused = errors.New("zkclient: the server granted a session this client has given up")

// connectRequest offsets within the frame (after the 4-byte length).
const (
	connectRequestSession  = 4 + 4 + 8 + 4
	connectRequestPassword = connectRequestSession + 8
)

func (t *connectResponseTap) Write(p []byte) (int, error) {
	t.mu.Lock()
	first := !t.wrote
	t.wrote = true
	t.mu.Unlock()
	if !first || t.renew == nil || !t.renew() || len(p) < connectRequestPassword+4 {
		return t.Conn.Write(p)
	}
	q := append([]byte(nil), p...)
	plen := int(int32(binary.BigEndian.Uint32(q[connectRequestPassword:])))
	if plen < 0 || connectRequestPassword+4+plen > len(q) {
		return t.Conn.Write(p) // not a ConnectRequest this tap understands
	}
	clear(q[connectRequestSession : connectRequestSession+8])
	clear(q[connectRequestPassword+4 : connectRequestPassword+4+plen])
	if _, err := t.Conn.Write(q); err != nil {
		return 0, err
	}
	return len(p), nil
}

// maxConnectResponse bounds what the tap buffers: a ConnectResponse is 4+4+8+4+16
// bytes plus an optional read-only flag; anything larger is not one.
const maxConnectResponse = 1 << 10

func (t *connectResponseTap) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	if err != nil && t.failed != nil {
		t.mu.Lock()
		done := t.done
		t.mu.Unlock()
		if !done {
			t.failed(handshakeError(err))
		}
	}
	if n > 0 && !t.observe(p[:n]) {
		// None of these bytes reach go-zookeeper: its handshake fails before it
		// has a session.
		_ = t.Close()
		return 0, errSessionRefused
	}
	return n, err
}

func (t *connectResponseTap) SetReadDeadline(d time.Time) error {
	t.mu.Lock()
	if !t.done && !t.handshakeBy.IsZero() && (d.IsZero() || d.After(t.handshakeBy)) {
		d = t.handshakeBy
	}
	t.mu.Unlock()
	return t.Conn.SetReadDeadline(d)
}

func (t *connectResponseTap) Close() error {
	if t.closed != nil {
		t.closed(t)
	}
	return t.Conn.Close()
}

// observe reports false when it completed a ConnectResponse whose session report
// refused.
func (t *connectResponseTap) observe(b []byte) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return true
	}
	t.buf = append(t.buf, b...)
	if len(t.buf) < 4 {
		return true
	}
	frame := int(binary.BigEndian.Uint32(t.buf[:4]))
	if frame > maxConnectResponse || frame < 20 {
		t.done, t.buf = true, nil
		return true
	}
	if len(t.buf) < 4+frame {
		return true
	}
	body := t.buf[4 : 4+frame]
	t.done, t.buf = true, nil
	timeout := time.Duration(int32(binary.BigEndian.Uint32(body[4:8]))) * time.Millisecond
	session := int64(binary.BigEndian.Uint64(body[8:16]))
	plen := int(int32(binary.BigEndian.Uint32(body[16:20])))
	if plen < 0 || 20+plen > len(body) {
		return true
	}
	passwd := append([]byte(nil), body[20:20+plen]...)
	return t.report(t, session, timeout, passwd)
}

// tapHooks is what the taps of a client's connections report to and ask; see
// connectResponseTap. opened, when set, learns each new connection and the
// address it was dialed to; closed, when set, learns when it is closed.
// handshake, when set, bounds the wait for the ConnectResponse. failed, when
// set, learns why a dial or a handshake failed.
type tapHooks struct {
	report    func(conn net.Conn, sessionID int64, timeout time.Duration, passwd []byte) bool
	renew     func() bool
	opened    func(conn net.Conn, server string)
	closed    func(conn net.Conn)
	failed    func(err error)
	handshake time.Duration
}

// tapDialer returns a zk.Dialer that taps every connection it makes.
func tapDialer(dial zk.Dialer, h tapHooks) zk.Dialer {
	dial = dialerOf(dial)
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		c, err := dial(network, address, timeout)
		if err != nil {
			if h.failed != nil {
				h.failed(err)
			}
			return nil, err
		}
		t := &connectResponseTap{Conn: c, report: h.report, renew: h.renew, closed: h.closed, failed: h.failed}
		if h.handshake > 0 {
			t.handshakeBy = time.Now().Add(h.handshake)
		}
		if h.opened != nil {
			h.opened(t, address)
		}
		return t, nil
	}
}
