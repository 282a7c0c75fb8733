package zkclient

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

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
	tap := &connectResponseTap{Conn: client, report: func(int64, time.Duration, []byte) {}, renew: func() bool { return renew }}
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
