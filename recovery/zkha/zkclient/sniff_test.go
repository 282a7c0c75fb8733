package zkclient

import (
	"encoding/binary"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
)

// connectRequestFrame encodes a ConnectRequest as go-zookeeper sends it.
func connectRequestFrame(session int64, passwd []byte) []byte {
	body := binary.BigEndian.AppendUint32(nil, 0)               // protocolVersion
	body = binary.BigEndian.AppendUint64(body, 0x1234)          // lastZxidSeen
	body = binary.BigEndian.AppendUint32(body, 2000)            // timeOut
	body = binary.BigEndian.AppendUint64(body, uint64(session)) // sessionId
	body = binary.BigEndian.AppendUint32(body, uint32(len(passwd)))
	body = append(body, passwd...)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// sendThroughTap writes frames through a tap and returns what the server side got.
func sendThroughTap(t *testing.T, renew bool, frames ...[]byte) []byte {
	client, server := net.Pipe()
	defer server.Close()
	tap := &connectResponseTap{Conn: client, report: func(net.Conn, int64, time.Duration, []byte) bool { return true }, renew: func() bool { return renew }}
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(server)
		got <- b
	}()
	for _, f := range frames {
		n, err := tap.Write(f)
		require.NoError(t, err)
		require.Equal(t, len(f), n)
	}
	require.NoError(t, client.Close())
	return <-got
}

func TestTapAsksForANewSessionOnlyWhenRenewing(t *testing.T) {
	passwd := []byte("0123456789abcdef")
	req := connectRequestFrame(0x1000abc, passwd)
	later := []byte{0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 11} // any later frame: untouched

	kept := sendThroughTap(t, false, req, later)
	require.Equal(t, append(append([]byte(nil), req...), later...), kept, "without renew the request re-attaches the session")

	renewed := sendThroughTap(t, true, req, later)
	require.Equal(t, append(connectRequestFrame(0, make([]byte, len(passwd))), later...), renewed,
		"renewing: session 0 and a zero password, everything else as sent")
	require.Equal(t, connectRequestFrame(0x1000abc, passwd), req, "the caller's buffer is not modified")
}

// connectResponseFrame encodes a ConnectResponse as the server sends it.
func connectResponseFrame(session int64, timeout time.Duration, passwd []byte) []byte {
	body := binary.BigEndian.AppendUint32(nil, 0)                              // protocolVersion
	body = binary.BigEndian.AppendUint32(body, uint32(timeout.Milliseconds())) // timeOut
	body = binary.BigEndian.AppendUint64(body, uint64(session))                // sessionId
	body = binary.BigEndian.AppendUint32(body, uint32(len(passwd)))
	body = append(body, passwd...)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// TestTapRefusedSessionNeverReachesTheClient: when report refuses the session of
// a ConnectResponse, the read that completes it returns no bytes and an error, and
// the connection is closed, so go-zookeeper's handshake fails before it has a
// session to send requests on.
func TestTapRefusedSessionNeverReachesTheClient(t *testing.T) {
	for _, accept := range []bool{true, false} {
		client, server := net.Pipe()
		var reported int64
		closed := 0
		tap := &connectResponseTap{Conn: client, closed: func(net.Conn) { closed++ }}
		tap.report = func(conn net.Conn, id int64, _ time.Duration, _ []byte) bool {
			require.Same(t, tap, conn, "the tap reports itself as the connection")
			reported = id
			return accept
		}
		frame := connectResponseFrame(0x1000abc, 2*time.Second, []byte("0123456789abcdef"))
		go func() { _, _ = server.Write(frame) }()

		// As go-zookeeper reads it: the length, then the body.
		head := make([]byte, 4)
		_, err := io.ReadFull(tap, head)
		require.NoError(t, err)
		body := make([]byte, len(frame)-4)
		n, err := io.ReadFull(tap, body)
		require.Equal(t, int64(0x1000abc), reported)
		if accept {
			require.NoError(t, err)
			require.Equal(t, frame[4:], body)
			require.Zero(t, closed)
		} else {
			require.ErrorIs(t, err, errSessionRefused)
			require.Zero(t, n, "no byte of a refused ConnectResponse reaches the client")
			require.Equal(t, 1, closed, "the connection is closed")
			_, err = server.Write([]byte{0})
			require.Error(t, err, "the server side sees the connection closed")
		}
		require.NoError(t, tap.Close())
		server.Close()
	}
}

// TestAbandonedSessionIsNeverTakenUpAgain: the session is presumed lost only while
// no connection holds it, and once abandoned a connection the server answers with
// it is refused; a new session is accepted.
func TestAbandonedSessionIsNeverTakenUpAgain(t *testing.T) {
	c := &Client{log: zerolog.Nop()}
	first, other := net.Pipe()
	defer first.Close()
	defer other.Close()
	passwd := []byte("0123456789abcdef")

	require.True(t, c.onConnectResponse(first, 0x11, 2*time.Second, passwd))
	require.False(t, c.abandon(), "a connection holds the session (re-attached as the lost timer fired): not presumed lost")
	require.False(t, c.renewing())

	c.connClosed(first)
	require.True(t, c.abandon(), "no connection holds the session: presumed lost")
	require.True(t, c.renewing(), "the next connection asks for a new session")
	require.True(t, c.isAbandoned(0x11))

	require.False(t, c.onConnectResponse(other, 0x11, 2*time.Second, passwd), "the server re-attached the abandoned session: refused")
	require.True(t, c.abandon(), "a refused connection does not hold the session")
	require.True(t, c.onConnectResponse(other, 0x22, 2*time.Second, passwd), "a new session is taken up")
	require.Equal(t, int64(0x22), c.Session().ID)
}

// TestTapBoundsTheHandshake: until the ConnectResponse has arrived, a read
// deadline go-zookeeper sets (ten receive timeouts, 6.7 session timeouts) is cut
// to the tap's handshake bound, so a server that accepted the connection and never
// answers does not hold the client; afterwards deadlines are go-zookeeper's.
func TestTapBoundsTheHandshake(t *testing.T) {
	accept := func(net.Conn, int64, time.Duration, []byte) bool { return true }

	client, server := net.Pipe()
	defer server.Close()
	tap := &connectResponseTap{Conn: client, report: accept, handshakeBy: time.Now().Add(50 * time.Millisecond)}
	defer tap.Close()
	start := time.Now()
	require.NoError(t, tap.SetReadDeadline(time.Now().Add(15*time.Second))) // go-zookeeper's, shorter
	_, err := tap.Read(make([]byte, 4))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "no answer")
	require.Less(t, time.Since(start), 10*time.Second, "cut to the handshake bound")

	client, server = net.Pipe()
	defer server.Close()
	tap = &connectResponseTap{Conn: client, report: accept, handshakeBy: time.Now().Add(time.Hour)}
	defer tap.Close()
	frame := connectResponseFrame(0x1000abc, 2*time.Second, []byte("0123456789abcdef"))
	go func() { _, _ = server.Write(append(frame, 1)) }()
	_, err = io.ReadFull(tap, make([]byte, len(frame)))
	require.NoError(t, err)
	tap.handshakeBy = time.Now().Add(-time.Minute) // as if the bound had passed since
	require.NoError(t, tap.SetReadDeadline(time.Time{}))
	_, err = tap.Read(make([]byte, 1))
	require.NoError(t, err, "once answered, the deadline is the caller's")
}
