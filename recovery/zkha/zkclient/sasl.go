package zkclient

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// SASL on the ZooKeeper wire protocol, as ZooKeeper's own client does it
// (ClientCnxn, ZooKeeperSaslClient): once the server has answered the
// ConnectRequest with a session, the client sends sasl requests (op 102) whose
// body is GetSASLRequest {buffer token}; each is answered with a reply whose
// body is SetSASLResponse {buffer token}, until the mechanism is complete. The
// server gives the connection the identity sasl:<authorization id>. A failed
// exchange is answered with the error AUTHFAILED (or, where the server requires
// SASL, SESSIONCLOSEDREQUIRESASLAUTH) and the connection is closed.
//
// go-zookeeper has no SASL. SASLDialer adds it below go-zookeeper, on the
// connection: the wrapper lets the ConnectRequest (go-zookeeper's first write)
// through, reads the ConnectResponse itself, runs the exchange, and only then
// completes that first write and hands the ConnectResponse to whoever reads the
// connection. Nothing else is written before the exchange completes, so no
// request ever goes out on a connection that is not authenticated, and every
// connection — each reconnect, the multiRead reader — authenticates anew, as
// the server requires (authentication belongs to the connection, not the
// session).

// opSASL is ZooDefs.OpCode.sasl.
const opSASL = 102

// codeSessionClosedRequireSASL is KeeperException.Code.SESSIONCLOSEDREQUIRESASLAUTH.
const codeSessionClosedRequireSASL = -124

// ErrSASLFailed marks an exchange the server refused (wrong credentials, an
// unknown user, a mechanism it does not offer) or the client could not complete
// (a server that failed the mutual authentication). It is not retried by
// Connect: the same credentials fail again.
var ErrSASLFailed = errors.New("zkclient: SASL authentication failed")

// ErrSASLRequired: the server refused a request because the connection has not
// authenticated with SASL (its enforce.auth.schemes includes sasl).
var ErrSASLRequired = errors.New("zkclient: the server requires SASL authentication (configure a JAAS file or a Kerberos login for the client)")

// unknownSASLRequired is how go-zookeeper v1.0.4 reports the error code
// SESSIONCLOSEDREQUIRESASLAUTH, which it does not know.
var unknownSASLRequired = fmt.Sprintf("unknown error: %d", codeSessionClosedRequireSASL)

// saslRequired turns go-zookeeper's report of SESSIONCLOSEDREQUIRESASLAUTH into
// ErrSASLRequired.
func saslRequired(err error) error {
	if err != nil && err.Error() == unknownSASLRequired {
		return fmt.Errorf("%w (%w)", ErrSASLRequired, err)
	}
	return err
}

// SASLMechanism authenticates connections with one set of credentials.
// Implementations are safe for concurrent use; each connection gets an exchange
// of its own.
type SASLMechanism interface {
	// Name is the SASL mechanism name, e.g. DIGEST-MD5 or GSSAPI.
	Name() string
	// Identity names the credentials for logs and errors (a user or principal,
	// never a secret).
	Identity() string
	// Start begins an exchange with the server at address (host:port).
	Start(address string) (SASLExchange, error)
}

// SASLExchange is one authentication on one connection. Step is first called
// with a nil challenge and returns the initial token (possibly empty); then it
// is called with each token the server answers. It returns done when the
// mechanism is complete; a non-nil response is sent even then, and the server's
// answer to it ends the exchange.
type SASLExchange interface {
	Step(challenge []byte) (response []byte, done bool, err error)
}

// saslHooks tell the client what happened on a connection.
type saslHooks struct {
	// failed learns that the server refused the credentials (ErrSASLFailed).
	failed func(err error)
	// bound limits the whole exchange on one connection.
	bound time.Duration
}

// SASLDialer returns a dialer that authenticates every connection dial makes
// (net.DialTimeout when nil) with mech, after the ConnectRequest. Compose it over
// a TLS dialer to run SASL inside TLS.
func SASLDialer(dial zk.Dialer, mech SASLMechanism) zk.Dialer {
	return saslDialer(dial, mech, saslHooks{})
}

// Dialer returns inner wrapped with the configured SASL login (inner itself
// when s is nil), for connections a Client does not make: the supervisor's
// session closer. It reads the JAAS file or keytab now.
func (s *SASLConfig) Dialer(inner zk.Dialer) (zk.Dialer, error) {
	if s == nil {
		return inner, nil
	}
	mech, err := s.mechanism()
	if err != nil {
		return nil, err
	}
	return SASLDialer(inner, mech), nil
}

func saslDialer(dial zk.Dialer, mech SASLMechanism, h saslHooks) zk.Dialer {
	if dial == nil {
		dial = net.DialTimeout
	}
	if h.bound <= 0 {
		h.bound = dialTimeout
	}
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		c, err := dial(network, address, timeout)
		if err != nil {
			return nil, err
		}
		return &saslConn{Conn: c, mech: mech, address: address, hooks: h}, nil
	}
}

// saslConn runs the exchange inside the first Write; see the comment at the top.
type saslConn struct {
	net.Conn
	mech    SASLMechanism
	address string
	hooks   saslHooks

	mu       sync.Mutex
	started  bool      // the first write has begun
	pending  []byte    // the ConnectResponse frame, for the reader
	rd, wd   time.Time // the caller's deadlines, restored after the exchange
	exchange bool      // the exchange runs: deadlines are only recorded
}

func (c *saslConn) SetDeadline(t time.Time) error {
	if c.record(&t, &t) {
		return nil
	}
	return c.Conn.SetDeadline(t)
}

func (c *saslConn) SetReadDeadline(t time.Time) error {
	if c.record(&t, nil) {
		return nil
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *saslConn) SetWriteDeadline(t time.Time) error {
	if c.record(nil, &t) {
		return nil
	}
	return c.Conn.SetWriteDeadline(t)
}

// record remembers the caller's deadlines; it reports true while the exchange
// runs, when they are applied only after it.
func (c *saslConn) record(rd, wd *time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rd != nil {
		c.rd = *rd
	}
	if wd != nil {
		c.wd = *wd
	}
	return c.exchange
}

func (c *saslConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	return c.Conn.Read(p)
}

func (c *saslConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	first := !c.started
	c.started = true
	if first {
		c.exchange = true
	}
	c.mu.Unlock()
	if !first {
		return c.Conn.Write(p)
	}
	err := c.handshake(p)
	c.mu.Lock()
	c.exchange = false
	rd, wd := c.rd, c.wd
	c.mu.Unlock()
	if err != nil {
		_ = c.Conn.Close()
		return 0, err
	}
	_ = c.Conn.SetReadDeadline(rd)
	_ = c.Conn.SetWriteDeadline(wd)
	return len(p), nil
}

// handshake sends the ConnectRequest at the start of p, reads the
// ConnectResponse, authenticates, and then sends the rest of p (a client may
// pipeline requests behind its ConnectRequest).
func (c *saslConn) handshake(p []byte) error {
	if len(p) < 4 || 4+int(binary.BigEndian.Uint32(p)) > len(p) {
		return fmt.Errorf("zkclient: sasl: the first write on %s is not a whole ConnectRequest", c.address)
	}
	n := 4 + int(binary.BigEndian.Uint32(p))
	c.mu.Lock()
	deadline := time.Now().Add(c.hooks.bound)
	if !c.wd.IsZero() && c.wd.Before(deadline) {
		deadline = c.wd
	}
	c.mu.Unlock()
	_ = c.Conn.SetDeadline(deadline)
	if _, err := c.Conn.Write(p[:n]); err != nil {
		return err
	}
	resp, err := readFrame(c.Conn)
	if errors.Is(err, io.EOF) {
		// The server closed the connection (it refused the session): the
		// caller reads the same end of file.
		return nil
	}
	if err != nil {
		return err
	}
	d := decoder{b: resp}
	d.int32()
	d.int32()
	session := d.int64()
	if d.err != nil {
		return fmt.Errorf("zkclient: sasl: short connect response from %s (%d bytes)", c.address, len(resp))
	}
	if session != 0 { // 0: the session expired; go-zookeeper learns it from the response
		if err := c.authenticate(); err != nil {
			if errors.Is(err, ErrSASLFailed) && c.hooks.failed != nil {
				c.hooks.failed(err)
			}
			return err
		}
	}
	frame := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(resp)), uint32(len(resp)))
	c.mu.Lock()
	c.pending = append(frame, resp...)
	c.mu.Unlock()
	if n < len(p) && session != 0 { // a refused session: the server reads nothing more
		if _, err := c.Conn.Write(p[n:]); err != nil {
			return err
		}
	}
	return nil
}

// authenticate runs the exchange: sasl requests with xids 1, 2, … until the
// mechanism is done and the server has answered its last token.
func (c *saslConn) authenticate() error {
	as := fmt.Sprintf("%s as %s with %s", c.address, c.mech.Identity(), c.mech.Name())
	ex, err := c.mech.Start(c.address)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrSASLFailed, as, err)
	}
	token, done, err := ex.Step(nil)
	for xid := int32(1); ; xid++ {
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrSASLFailed, as, err)
		}
		if token == nil && done {
			return nil
		}
		if token == nil {
			token = []byte{}
		}
		if _, err := c.Conn.Write(request(xid, opSASL).buffer(token).done()); err != nil {
			return fmt.Errorf("zkclient: sasl: %s: %w", as, err)
		}
		reply, err := readFrame(c.Conn)
		if err != nil {
			return fmt.Errorf("zkclient: sasl: %s: no answer: %w", as, err)
		}
		rd := decoder{b: reply}
		got, _, code := rd.int32(), rd.int64(), rd.int32()
		switch {
		case rd.err != nil:
			return fmt.Errorf("zkclient: sasl: %s: %w", as, rd.err)
		case got != xid:
			return fmt.Errorf("zkclient: sasl: %s: reply for xid %d, want %d", as, got, xid)
		case code == codeAuthFailed || code == codeSessionClosedRequireSASL:
			return fmt.Errorf("%w: %s: the server refused the credentials (%w)", ErrSASLFailed, as, zk.ErrAuthFailed)
		case code != 0:
			return fmt.Errorf("%w: %s: %w", ErrSASLFailed, as, codeError(code))
		}
		challenge := rd.buffer()
		if rd.err != nil {
			return fmt.Errorf("zkclient: sasl: %s: %w", as, rd.err)
		}
		if done {
			return nil
		}
		token, done, err = ex.Step(challenge)
	}
}
