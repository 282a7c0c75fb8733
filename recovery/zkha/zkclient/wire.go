package zkclient

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/go-zookeeper/zk"
)

// The few pieces of ZooKeeper's wire protocol (jute encoding) that the clients in
// this package speak themselves, where go-zookeeper has no API: re-attaching to
// a session to close it, and multiRead.

// Request types and special xids (ZooDefs.OpCode, ClientCnxn).
const (
	opGetData      = 4
	opGetChildren  = 8
	opMultiRead    = 22
	opAuth         = 100
	opCloseSession = -11
	opError        = -1
	xidAuth        = -4
)

// Error codes (KeeperException.Code) this package tells apart.
const (
	codeNoNode     = -101
	codeNoAuth     = -102
	codeAuthFailed = -115
)

// codeError maps a server error code to go-zookeeper's error, so errors.Is works
// the same for answers from either client.
func codeError(code int32) error {
	switch code {
	case 0:
		return nil
	case codeNoNode:
		return zk.ErrNoNode
	case codeNoAuth:
		return zk.ErrNoAuth
	case codeAuthFailed:
		return zk.ErrAuthFailed
	case codeSessionClosedRequireSASL:
		return ErrSASLRequired
	}
	return fmt.Errorf("zkclient: server error %d", code)
}

// maxFrame bounds a reply this package reads: a multiRead batch of small nodes is
// a few hundred KB; anything near this is a protocol error.
const maxFrame = 64 << 20

// frame is an outgoing packet: a 4-byte length, then the body.
type frame []byte

func newFrame() frame { return frame(make([]byte, 4, 256)) }

func (f frame) int32(v int32) frame   { return binary.BigEndian.AppendUint32(f, uint32(v)) }
func (f frame) int64(v int64) frame   { return binary.BigEndian.AppendUint64(f, uint64(v)) }
func (f frame) bool(v bool) frame     { return append(f, boolByte(v)) }
func (f frame) buffer(b []byte) frame { return append(f.int32(int32(len(b))), b...) }
func (f frame) string(s string) frame { return append(f.int32(int32(len(s))), s...) }

// done fills in the length.
func (f frame) done() []byte {
	binary.BigEndian.PutUint32(f, uint32(len(f)-4))
	return f
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// connectRequest asks for session id (0: a new one) with its password.
// ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly.
func connectRequest(id int64, password []byte, timeout time.Duration) frame {
	if password == nil {
		password = make([]byte, 16)
	}
	return newFrame().int32(0).int64(0).int32(int32(timeout.Milliseconds())).int64(id).buffer(password).bool(false)
}

// request starts a request frame: RequestHeader {xid, type}.
func request(xid, op int32) frame { return newFrame().int32(xid).int32(op) }

// decoder reads jute fields from a reply; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("zkclient: reply shorter than its fields")

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = errShort
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) int32() int32 {
	if b := d.take(4); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

func (d *decoder) int64() int64 {
	if b := d.take(8); b != nil {
		return int64(binary.BigEndian.Uint64(b))
	}
	return 0
}

func (d *decoder) bool() bool {
	if b := d.take(1); b != nil {
		return b[0] != 0
	}
	return false
}

// buffer reads a length-prefixed byte string; -1 is nil. The result is a copy.
func (d *decoder) buffer() []byte {
	n := d.int32()
	if n == -1 || d.err != nil {
		return nil
	}
	return append([]byte{}, d.take(int(n))...)
}

func (d *decoder) string() string { return string(d.take(int(d.int32()))) }

// stat reads a Stat (czxid, mzxid, ctime, mtime, version, cversion, aversion,
// ephemeralOwner, dataLength, numChildren, pzxid).
func (d *decoder) stat() *zk.Stat {
	return &zk.Stat{Czxid: d.int64(), Mzxid: d.int64(), Ctime: d.int64(), Mtime: d.int64(),
		Version: d.int32(), Cversion: d.int32(), Aversion: d.int32(), EphemeralOwner: d.int64(),
		DataLength: d.int32(), NumChildren: d.int32(), Pzxid: d.int64()}
}

// readFrame reads one length-prefixed frame.
func readFrame(r io.Reader) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxFrame {
		return nil, fmt.Errorf("zkclient: frame of %d bytes", size)
	}
	b := make([]byte, size)
	_, err := io.ReadFull(r, b)
	return b, err
}

// connectResponse reads the server's answer to a ConnectRequest: the session it
// granted (0 when it refused: expired, or a wrong password) and the negotiated
// timeout. A server that refuses may instead close the connection (io.EOF).
func connectResponse(conn net.Conn) (id int64, timeout time.Duration, err error) {
	b, err := readFrame(conn)
	if err != nil {
		return 0, 0, err
	}
	// ConnectResponse: protocolVersion, timeOut, sessionId, passwd, [readOnly].
	d := decoder{b: b}
	d.int32()
	ms := d.int32()
	id = d.int64()
	if d.err != nil {
		return 0, 0, fmt.Errorf("zkclient: short connect response (%d bytes)", len(b))
	}
	return id, time.Duration(ms) * time.Millisecond, nil
}

// replyHeader reads ReplyHeader {xid, zxid, err} and checks the xid.
func replyHeader(d *decoder, xid int32) error {
	got, _, code := d.int32(), d.int64(), d.int32()
	switch {
	case d.err != nil:
		return d.err
	case got != xid:
		return fmt.Errorf("zkclient: reply for xid %d, want %d", got, xid)
	}
	return codeError(code)
}

// dialTimeout is the dial bound of the clients in this package.
const dialTimeout = 5 * time.Second

// connDeadline is the deadline for a short exchange: 5 s, or ctx's if sooner.
func connDeadline(ctxDeadline time.Time, hasDeadline bool) time.Time {
	deadline := time.Now().Add(dialTimeout)
	if hasDeadline && ctxDeadline.Before(deadline) {
		deadline = ctxDeadline
	}
	return deadline
}
