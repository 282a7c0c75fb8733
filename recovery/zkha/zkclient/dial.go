package zkclient

import (
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/go-zookeeper/zk"
)

// Dialer makes every connection to ZooKeeper: a Client's own (through
// go-zookeeper), its multiRead reader's and CloseSession's. nil means plain TCP;
// for TLS, recovery/zkha sets one built by internal/zktls. Anything that must
// happen at a connection's start wraps the Dialer it is given, so the pieces
// compose. It is go-zookeeper's zk.Dialer.
type Dialer = zk.Dialer

// dialerOf returns d, or plain TCP when d is nil.
func dialerOf(d Dialer) Dialer {
	if d == nil {
		return net.DialTimeout
	}
	return d
}

// errNoHandshake: a connection closed by the server before it answered the
// ConnectRequest. A TLS-only port does that to a plain client.
var errNoHandshake = errors.New("the server closed the connection without answering the handshake (a TLS-only port? then set zookeeper.client.secure: true)")

// handshakeError describes why a connection ended during the handshake.
func handshakeError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errNoHandshake
	}
	return fmt.Errorf("handshake: %w", err)
}
