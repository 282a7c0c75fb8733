package zkclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/internal/logging"
)

// Sentinel errors. Errors from ZooKeeper itself are go-zookeeper's (zk.ErrNoNode,
// zk.ErrNodeExists, zk.ErrBadVersion, …), wrapped with the operation and path, so
// errors.Is works on both.
var (
	// ErrClosed: the client (or listener) was closed.
	ErrClosed = errors.New("zkclient: closed")
	// ErrConnectionLoss: the connection dropped while the request was in flight;
	// for a write, whether the server applied it is unknown.
	ErrConnectionLoss = errors.New("zkclient: connection loss, outcome unknown")
	// ErrNotConnected: the operation requires a live connection and there is none.
	ErrNotConnected = errors.New("zkclient: not connected")
)

// ACLMode selects the ACL of nodes the client creates.
type ACLMode string

const (
	// ACLOpen gives everyone every permission (world:anyone), Flink's "open".
	ACLOpen ACLMode = "open"
	// ACLCreator restricts nodes to the client's identity, Flink's "creator":
	// the SASL identity when Config.SASL is set (ZooKeeper's auth scheme), else
	// the digest identity in Config.Digest.
	ACLCreator ACLMode = "creator"
)

// Config configures a Client. Zero durations take the defaults noted.
type Config struct {
	// Servers are host:port addresses of the ensemble.
	Servers []string
	// Root is the chroot: every path a Client is given is below it. It is created
	// on Connect. "" or "/" means the real root.
	Root string
	// SessionTimeout is the requested session timeout (default 60 s). The server
	// clamps it to [2, 20] × tickTime; Session().Timeout is the negotiated value.
	SessionTimeout time.Duration
	// ConnectionTimeout bounds the wait for the first session (default 15 s), and
	// the handshake of every connection (with SessionTimeout / len(Servers)).
	ConnectionTimeout time.Duration
	// RetryWait is the pause between retries of a read after a connection loss
	// (default 5 s, Flink's high-availability.zookeeper.client.retry-wait).
	RetryWait time.Duration
	// MaxRetries is how many times a read is retried (default 3).
	MaxRetries int
	// ACL is the ACL mode for created nodes (default ACLOpen).
	ACL ACLMode
	// ACLCheckFrom is, under ACLCreator, the topmost node whose ACL Connect checks
	// (high-availability.zookeeper.path.root): it, the nodes between it and Root,
	// and every node below Root must grant nobody else more than read. Nodes above
	// it are the operator's and are not checked. Default (or not above Root): Root.
	ACLCheckFrom string
	// Digest is "user:password" for digest authentication; required for
	// ACLCreator, optional otherwise. Never logged.
	Digest string
	// Dialer, when set, makes every connection: the client's, its multiRead
	// reader's and the close of an abandoned session (default plain TCP; see
	// Dialer).
	Dialer Dialer
	// CertIdentity is the subject ("CN=…") of the client certificate Dialer
	// presents, "" for none. ZooKeeper counts it among the connection's
	// identities: under SASL, nodes created with ACLCreator carry x509:<it> as
	// well as sasl:<id>, and the ACL check takes both as this client's own.
	CertIdentity string
	// SASL, when set, authenticates every connection with SASL (DIGEST-MD5 or
	// GSSAPI) before anything else is sent on it, over whatever Dialer makes; a
	// connection whose exchange fails is never used. Under ACLCreator, nodes
	// belong to the SASL identity (sasl:<user or principal>).
	SASL *SASLConfig
	// Logger receives one line per state change.
	Logger zerolog.Logger
}

func (c *Config) setDefaults() {
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = 60 * time.Second
	}
	if c.ConnectionTimeout <= 0 {
		c.ConnectionTimeout = 15 * time.Second
	}
	if c.RetryWait <= 0 {
		c.RetryWait = 5 * time.Second
	}
	if c.MaxRetries < 0 {
		c.MaxRetries = 0
	}
	if c.ACL == "" {
		c.ACL = ACLOpen
	}
	c.Root = cleanRoot(c.Root)
}

func cleanRoot(root string) string {
	root = path.Clean("/" + strings.Trim(root, "/"))
	if root == "/" {
		return ""
	}
	return root
}

// Session identifies a ZooKeeper session. Whoever holds the ID and password can
// close or take over the session: treat Password as a secret.
type Session struct {
	ID       int64
	Password []byte
	Timeout  time.Duration // negotiated with the server
}

// String never prints the password.
func (s Session) String() string { return fmt.Sprintf("0x%x", s.ID) }

// Client is a ZooKeeper connection with a context on every call, connection-state
// listeners, read retries, a chroot and ACLs.
type Client struct {
	cfg  Config
	conn *zk.Conn
	acl  []zk.ACL
	// ours are the ACL entries that name this client's own identity (the
	// digest user, or the SASL identity): the ACL check accepts nothing else.
	ours []zk.ACL
	// login says how an operator authenticates as that identity in zkCli.
	login string
	log   zerolog.Logger

	mu        sync.Mutex
	session   Session // last session the server granted
	state     State
	listeners map[*Listener]struct{}
	lostTimer *time.Timer
	closed    bool
	// abandoned is the session presumed lost on this client's own clock. Until a
	// new session replaces it, every connection asks for a new one, a connection
	// the server answers with it anyway is refused, and once a new session is held
	// the abandoned one is closed so that its ephemeral nodes go at once.
	abandoned Session
	// held is the connection whose handshake granted the session last, until it
	// closes: while it is set the session is not presumed lost.
	held    net.Conn
	server  string // the address go-zookeeper dialed last
	gen     uint64 // connections dialed so far
	lastErr error  // why the last dial or handshake failed, for Connect's error

	batch coalescer   // CreateCoalesced
	reads readBatcher // GetCoalesced, ChildrenCoalesced

	raw       chan zk.Event // session events from go-zookeeper's callback, in order
	quit      chan struct{} // closed by Close
	loopDone  chan struct{}
	closeOnce sync.Once
}

// Connect dials the ensemble and waits, at most ConnectionTimeout and while ctx
// lasts, for a session. With SASL, every connection authenticates before it is
// used, and a refused exchange fails Connect at once (ErrSASLFailed). It then
// authenticates with the digest, if any, checks the ACLs under ACLCreator (see
// ACLError), and creates Root. When the check refuses, nothing has been created.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	cfg.setDefaults()
	if len(cfg.Servers) == 0 {
		return nil, errors.New("zkclient: connect: no servers (set high-availability.zookeeper.quorum)")
	}
	c := &Client{
		cfg:       cfg,
		log:       cfg.Logger.With().Str(logging.ZKPath, cfg.Root).Logger(),
		listeners: make(map[*Listener]struct{}),
		raw:       make(chan zk.Event, 64),
		quit:      make(chan struct{}),
		loopDone:  make(chan struct{}),
	}
	acl, err := buildACL(cfg)
	if err != nil {
		return nil, err
	}
	c.acl = acl
	c.ours, c.login = acl, "addauth digest "+c.digestUser()+":<password>"
	// Every server gets its turn within a session timeout, as in ZooKeeper's own
	// client, and a stalled attempt leaves time for another before the session
	// expires.
	handshake := min(cfg.ConnectionTimeout, cfg.SessionTimeout/time.Duration(len(cfg.Servers)))

	wait, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if cfg.SASL != nil {
		mech, err := cfg.SASL.mechanism()
		if err != nil {
			return nil, err
		}
		c.ours, c.login = saslOwners(mech.Identity(), cfg.CertIdentity), "log in with SASL as "+mech.Identity()+" (zkCli.sh with the same JAAS Client section)"
		// The wrapped dialer is the client's from now on: the multiRead reader
		// authenticates the same way.
		c.cfg.Dialer = saslDialer(cfg.Dialer, mech, saslHooks{bound: handshake, failed: func(err error) {
			c.log.Error().Err(err).Msg("zookeeper SASL authentication failed; the connection is dropped")
			cancel(err)
		}})
	}

	first := c.Listen()
	defer first.Close()

	conn, _, err := zk.Connect(cfg.Servers, cfg.SessionTimeout,
		zk.WithLogger(zkLogger{c.log}),
		zk.WithLogInfo(false),
		zk.WithDialer(tapDialer(c.cfg.Dialer, tapHooks{
			report: c.onConnectResponse, renew: c.renewing, opened: c.opened, closed: c.connClosed, failed: c.connFailed,
			handshake: handshake,
		})),
		zk.WithEventCallback(c.onEvent),
	)
	if err != nil {
		return nil, fmt.Errorf("zkclient: connect %s: %w", strings.Join(cfg.Servers, ","), err)
	}
	c.conn = conn
	go c.loop()

	wait, cancelWait := context.WithTimeout(wait, cfg.ConnectionTimeout)
	defer cancelWait()
	if _, err := first.Next(wait); err != nil {
		c.Close()
		if cause := context.Cause(wait); errors.Is(cause, ErrSASLFailed) {
			return nil, fmt.Errorf("zkclient: connect %s: %w", strings.Join(cfg.Servers, ","), cause)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("zkclient: connect %s: %w", strings.Join(cfg.Servers, ","), ctx.Err())
		}
		last := ""
		if err := c.connError(); err != nil {
			last = "; last attempt: " + err.Error()
		}
		return nil, fmt.Errorf("zkclient: connect %s: no session within %s (high-availability.zookeeper.client.connection-timeout)%s: %w",
			strings.Join(cfg.Servers, ","), cfg.ConnectionTimeout, last, ErrNotConnected)
	}
	if cfg.Digest != "" {
		if err := c.call(ctx, false, "auth", "", func() error {
			return c.conn.AddAuth("digest", []byte(cfg.Digest))
		}); err != nil {
			c.Close()
			return nil, fmt.Errorf("zkclient: digest authentication: %w", err)
		}
	}
	if cfg.ACL == ACLCreator {
		if err := c.verifyACLs(ctx); err != nil {
			c.Close()
			return nil, err
		}
	}
	if cfg.Root != "" {
		// Under ACLCreator the nodes on the way are checked again: one may have
		// been created by someone else since verifyACLs.
		if err := c.ensureAbs(ctx, cfg.Root, cfg.ACL == ACLCreator); err != nil {
			c.Close()
			return nil, fmt.Errorf("zkclient: create root %s: %w", cfg.Root, err)
		}
	}
	return c, nil
}

func buildACL(cfg Config) ([]zk.ACL, error) {
	switch cfg.ACL {
	case ACLOpen:
		return zk.WorldACL(zk.PermAll), nil
	case ACLCreator:
		if cfg.SASL != nil {
			// ZooKeeper's "auth" scheme: the identities the session authenticated
			// with, sasl:<id> among them (Flink's CREATOR_ALL_ACL).
			return zk.AuthACL(zk.PermAll), nil
		}
		user, pass, ok := strings.Cut(cfg.Digest, ":")
		if !ok || user == "" {
			return nil, errors.New("zkclient: acl creator needs credentials: SASL (a JAAS file or a Kerberos login) or digest user:password (amkeeper.zookeeper.digest or AMKEEPER_ZK_DIGEST)")
		}
		return zk.DigestACL(zk.PermAll, user, pass), nil
	}
	return nil, fmt.Errorf("zkclient: acl mode %q: want open or creator", cfg.ACL)
}

// onConnectResponse runs on go-zookeeper's connection goroutine for every
// handshake, before go-zookeeper takes the session up; it records the session
// the server granted on conn. It refuses (false) the session this client has
// abandoned: a ConnectRequest that re-attaches it may have gone out before the
// session was presumed lost, and the server may not have expired it yet. Refused,
// the connection is dropped before go-zookeeper sends anything on it (requests
// queued meanwhile would otherwise be served by that session, and see its
// ephemeral nodes alive after Lost was reported), and the next connection asks
// for a new session.
func (c *Client) onConnectResponse(conn net.Conn, id int64, timeout time.Duration, passwd []byte) bool {
	if id == 0 {
		return true // the server refused the session: it expired
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if id == c.abandoned.ID {
		c.log.Warn().Str("session", c.abandoned.String()).Msg("the server re-attached the abandoned session: refusing it; reconnecting for a new one")
		return false
	}
	c.session = Session{ID: id, Password: passwd, Timeout: timeout}
	c.held = conn
	return true
}

// connFailed learns why a dial or handshake failed.
func (c *Client) connFailed(err error) {
	c.mu.Lock()
	c.lastErr = err
	c.mu.Unlock()
}

func (c *Client) connError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// connClosed learns that a connection go-zookeeper dialed is closed.
func (c *Client) connClosed(conn net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held == conn {
		c.held = nil
	}
}

// abandon presumes the session lost, unless a connection holds it: one that
// re-attached it just as the lost timer fired (its event is on its way). It
// decides under c.mu, as onConnectResponse does, so a session is either
// re-attached or abandoned, never both.
func (c *Client) abandon() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held != nil {
		return false
	}
	c.abandoned = c.session
	return true
}

// renewing reports whether the next connection must ask for a new session.
func (c *Client) renewing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.abandoned.ID != 0
}

func (c *Client) opened(_ net.Conn, server string) {
	c.mu.Lock()
	c.server = server
	c.gen++
	c.mu.Unlock()
}

// isAbandoned reports whether id is the abandoned session. A session event for it
// is stale: the session was abandoned only after the connection that held it
// closed, and no connection takes it up again.
func (c *Client) isAbandoned(id int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.abandoned.ID != 0 && c.abandoned.ID == id
}

// closeAbandoned ends the session given up on (once a new one is held): the
// server may not have expired it yet, and its ephemeral nodes — a latch node, locks
// — must not outlive the Lost this client reported.
func (c *Client) closeAbandoned(current int64) {
	c.mu.Lock()
	old := c.abandoned
	if old.ID == 0 || old.ID == current {
		c.mu.Unlock()
		return
	}
	c.abandoned = Session{}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.ConnectionTimeout)
	defer cancel()
	err := CloseSession(ctx, c.cfg.Servers, c.cfg.Dialer, old.ID, old.Password, c.cfg.ConnectionTimeout)
	if errors.Is(err, ErrSessionGone) {
		c.log.Info().Str("session", old.String()).Msg("abandoned session already expired")
		return
	}
	if err != nil {
		c.log.Warn().Err(err).Str("session", old.String()).Msg("could not close the abandoned session; the server expires it")
		return
	}
	c.log.Info().Str("session", old.String()).Msg("abandoned session closed")
}

// onEvent runs on go-zookeeper's goroutines and must not block.
func (c *Client) onEvent(e zk.Event) {
	if e.Type != zk.EventSession {
		return
	}
	select {
	case c.raw <- e:
	case <-c.quit:
	}
}

// loop turns go-zookeeper's session events into Curator-style states.
func (c *Client) loop() {
	defer close(c.loopDone)
	var lost <-chan time.Time
	heldSession := int64(0) // the session held before the last disconnect
	hadSession := false
	for {
		select {
		case e := <-c.raw:
			switch e.State {
			case zk.StateHasSession:
				lost = nil
				c.stopLostTimer()
				id := c.conn.SessionID()
				if c.isAbandoned(id) {
					continue // stay Lost until a new session is held
				}
				c.closeAbandoned(id)
				switch c.State() {
				case 0:
					c.transition(Event{State: Connected, SessionID: id})
				case Suspended, Lost:
					c.transition(Event{State: Reconnected, SessionID: id, NewSession: id != heldSession})
				}
				heldSession, hadSession = id, true
			case zk.StateDisconnected:
				if hadSession && c.State() != Suspended && c.State() != Lost {
					c.transition(Event{State: Suspended, SessionID: heldSession})
					lost = c.startLostTimer()
				}
			case zk.StateExpired:
				lost = nil
				c.stopLostTimer()
				if c.State() != Lost {
					c.transition(Event{State: Lost})
				}
			case zk.StateAuthFailed:
				c.log.Error().Msg("zookeeper authentication failed")
			}
		case <-lost:
			lost = nil
			if c.State() != Suspended {
				break
			}
			if !c.abandon() {
				lost = c.startLostTimer() // re-attached just now: its event follows
				break
			}
			c.log.Warn().Dur("session_timeout", c.Session().Timeout).
				Msg("disconnected for a whole session timeout: presuming the session expired; the next connection asks for a new one")
			c.transition(Event{State: Lost})
		case <-c.quit:
			return
		}
	}
}

func (c *Client) startLostTimer() <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	timeout := c.session.Timeout
	if timeout <= 0 {
		timeout = c.cfg.SessionTimeout
	}
	c.lostTimer = time.NewTimer(timeout)
	return c.lostTimer.C
}

func (c *Client) stopLostTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lostTimer != nil {
		c.lostTimer.Stop()
		c.lostTimer = nil
	}
}

func (c *Client) transition(e Event) {
	c.mu.Lock()
	c.state = e.State
	ls := make([]*Listener, 0, len(c.listeners))
	for l := range c.listeners {
		ls = append(ls, l)
	}
	c.mu.Unlock()
	ev := c.log.Info()
	if e.State == Suspended || e.State == Lost {
		ev = c.log.Warn()
	}
	ev.Str("state", e.State.String()).Str("session", fmt.Sprintf("0x%x", e.SessionID)).
		Bool("new_session", e.NewSession).Msg("zookeeper connection state")
	for _, l := range ls {
		l.push(e)
	}
}

// State returns the current connection state (0 before the first session).
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Connected reports whether the client has a live session right now.
func (c *Client) Connected() bool {
	s := c.State()
	return s == Connected || s == Reconnected
}

// Session returns the session the server granted last.
func (c *Client) Session() Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.session
	s.Password = append([]byte(nil), s.Password...)
	return s
}

// Listen returns a listener for every state change from now on.
func (c *Client) Listen() *Listener {
	l := newListener(func(l *Listener) {
		c.mu.Lock()
		delete(c.listeners, l)
		c.mu.Unlock()
	})
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		l.Close()
		return l
	}
	c.listeners[l] = struct{}{}
	c.mu.Unlock()
	return l
}

// Server returns the address of the server the client is connected to (or last
// tried).
func (c *Client) Server() string { return c.conn.Server() }

// Root returns the chroot path.
func (c *Client) Root() string { return c.cfg.Root }

// Close ends the session (its ephemeral nodes go at once) and stops every
// listener. It is idempotent and bounded.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		ls := c.listeners
		c.listeners = map[*Listener]struct{}{}
		c.mu.Unlock()
		c.stopLostTimer()
		c.closeReads()
		close(c.quit)
		if c.conn != nil {
			c.conn.Close()
			<-c.loopDone
		}
		for l := range ls {
			l.push(Event{State: Closed})
			l.Close()
		}
	})
	return nil
}

// abs maps a chrooted path to the server's path.
func (c *Client) abs(p string) string {
	if p == "" || p == "/" {
		if c.cfg.Root == "" {
			return "/"
		}
		return c.cfg.Root
	}
	return c.cfg.Root + p
}

// rel maps a server path back into the chroot.
func (c *Client) rel(p string) string {
	if c.cfg.Root == "" {
		return p
	}
	r := strings.TrimPrefix(p, c.cfg.Root)
	if r == "" {
		return "/"
	}
	return r
}

// call runs fn under ctx. go-zookeeper has no cancellation: when ctx ends first the
// request is abandoned (and may still be applied). Reads (retry=true) are retried
// after a connection loss.
func (c *Client) call(ctx context.Context, retry bool, op, p string, fn func() error) error {
	_, err := do(ctx, c, retry, op, p, func() (struct{}, error) { return struct{}{}, fn() })
	return err
}

// result carries one go-zookeeper call's outcome across goroutines, so an
// abandoned call never writes memory its caller reads.
type result[T any] struct {
	v   T
	err error
}

func do[T any](ctx context.Context, c *Client, retry bool, op, p string, fn func() (T, error)) (T, error) {
	attempts := 1
	if retry {
		attempts += c.cfg.MaxRetries
	}
	var r result[T]
	for i := 0; i < attempts; i++ {
		if i > 0 {
			t := time.NewTimer(c.cfg.RetryWait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				var zero T
				return zero, fmt.Errorf("zkclient: %s %s: %w (after %v)", op, p, ctx.Err(), r.err)
			}
		}
		r = once(ctx, c, fn)
		r.err = saslRequired(r.err)
		if !errors.Is(r.err, zk.ErrConnectionClosed) {
			break
		}
	}
	if r.err == nil {
		return r.v, nil
	}
	var zero T
	switch {
	case errors.Is(r.err, zk.ErrConnectionClosed) && c.isClosed(), errors.Is(r.err, zk.ErrClosing):
		return zero, fmt.Errorf("zkclient: %s %s: %w", op, p, ErrClosed)
	case errors.Is(r.err, zk.ErrConnectionClosed):
		return zero, fmt.Errorf("zkclient: %s %s: %w: %w", op, p, ErrConnectionLoss, r.err)
	case errors.Is(r.err, zk.ErrNoServer):
		// Flushed from the send queue when no server could be reached: never sent.
		return zero, fmt.Errorf("zkclient: %s %s: %w: %w", op, p, ErrNotConnected, r.err)
	}
	return r.v, fmt.Errorf("zkclient: %s %s: %w", op, p, r.err)
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func once[T any](ctx context.Context, c *Client, fn func() (T, error)) result[T] {
	if err := ctx.Err(); err != nil {
		return result[T]{err: err}
	}
	if c.isClosed() {
		return result[T]{err: ErrClosed}
	}
	done := make(chan result[T], 1)
	go func() {
		v, err := fn()
		done <- result[T]{v, err}
	}()
	select {
	case r := <-done:
		return r
	case <-ctx.Done():
		return result[T]{err: ctx.Err()}
	}
}

type getResult struct {
	data  []byte
	stat  *zk.Stat
	watch <-chan zk.Event
}

// Get reads a node's data.
func (c *Client) Get(ctx context.Context, p string) ([]byte, *zk.Stat, error) {
	r, err := do(ctx, c, true, "get", p, func() (getResult, error) {
		data, st, err := c.conn.Get(c.abs(p))
		return getResult{data: data, stat: st}, err
	})
	return r.data, r.stat, err
}

// GetW reads a node's data and sets a watch on it.
func (c *Client) GetW(ctx context.Context, p string) ([]byte, *zk.Stat, <-chan zk.Event, error) {
	r, err := do(ctx, c, true, "get", p, func() (getResult, error) {
		data, st, w, err := c.conn.GetW(c.abs(p))
		return getResult{data, st, w}, err
	})
	return r.data, r.stat, r.watch, err
}

type existsResult struct {
	ok    bool
	stat  *zk.Stat
	watch <-chan zk.Event
}

// Exists reports whether a node exists, with its stat.
func (c *Client) Exists(ctx context.Context, p string) (bool, *zk.Stat, error) {
	r, err := do(ctx, c, true, "exists", p, func() (existsResult, error) {
		ok, st, err := c.conn.Exists(c.abs(p))
		return existsResult{ok: ok, stat: st}, err
	})
	return r.ok, r.stat, err
}

// ExistsW is Exists and sets a watch that fires on creation, change or deletion.
func (c *Client) ExistsW(ctx context.Context, p string) (bool, *zk.Stat, <-chan zk.Event, error) {
	r, err := do(ctx, c, true, "exists", p, func() (existsResult, error) {
		ok, st, w, err := c.conn.ExistsW(c.abs(p))
		return existsResult{ok, st, w}, err
	})
	return r.ok, r.stat, r.watch, err
}

type childrenResult struct {
	names []string
	stat  *zk.Stat
	watch <-chan zk.Event
}

// Children lists a node's children (names, not paths), unsorted.
func (c *Client) Children(ctx context.Context, p string) ([]string, *zk.Stat, error) {
	r, err := do(ctx, c, true, "children", p, func() (childrenResult, error) {
		names, st, err := c.conn.Children(c.abs(p))
		return childrenResult{names: names, stat: st}, err
	})
	return r.names, r.stat, err
}

// ChildrenW lists children and sets a watch for changes to the list.
func (c *Client) ChildrenW(ctx context.Context, p string) ([]string, *zk.Stat, <-chan zk.Event, error) {
	r, err := do(ctx, c, true, "children", p, func() (childrenResult, error) {
		names, st, w, err := c.conn.ChildrenW(c.abs(p))
		return childrenResult{names, st, w}, err
	})
	return r.names, r.stat, r.watch, err
}

// Create creates a node with the client's ACL and returns its path (inside the
// chroot; sequential nodes get their suffix).
func (c *Client) Create(ctx context.Context, p string, data []byte, flags int32) (string, error) {
	created, err := do(ctx, c, false, "create", p, func() (string, error) {
		return c.conn.Create(c.abs(p), data, flags, c.acl)
	})
	if err != nil {
		return "", err
	}
	return c.rel(created), nil
}

// Set writes a node's data if its version matches (-1: any version).
func (c *Client) Set(ctx context.Context, p string, data []byte, version int32) (*zk.Stat, error) {
	return do(ctx, c, false, "set", p, func() (*zk.Stat, error) {
		return c.conn.Set(c.abs(p), data, version)
	})
}

// Delete removes a node if its version matches (-1: any version).
func (c *Client) Delete(ctx context.Context, p string, version int32) error {
	return c.call(ctx, false, "delete", p, func() error {
		return c.conn.Delete(c.abs(p), version)
	})
}

// errCreatedByOthers: a node ensureAbs found missing was there when it created it
// (or, rechecking, a node it found there).
var errCreatedByOthers = errors.New("zkclient: created meanwhile by another client")

// EnsurePath creates p and its missing parents as empty persistent nodes, with
// the client's ACL from the start. Under ACLCreator, a node another client
// created meanwhile is checked as Connect checks (*ACLError when open to others).
func (c *Client) EnsurePath(ctx context.Context, p string) error {
	return c.ensureAbs(ctx, c.abs(p), false)
}

func (c *Client) ensureAbs(ctx context.Context, abs string, recheck bool) error {
	if abs == "/" || abs == "" {
		return nil
	}
	// Usually the path is there already: one read settles it.
	if !recheck {
		ok, err := do(ctx, c, true, "ensure", abs, func() (bool, error) {
			ok, _, err := c.conn.Exists(abs)
			return ok, err
		})
		if err != nil || ok {
			return err
		}
	}
	parts := strings.Split(strings.Trim(abs, "/"), "/")
	cur := ""
	for _, part := range parts {
		cur += "/" + part
		node := cur
		err := c.call(ctx, true, "ensure", node, func() error {
			ok, _, err := c.conn.Exists(node)
			if err != nil {
				return err
			}
			if ok {
				if recheck {
					return errCreatedByOthers
				}
				return nil
			}
			_, err = c.conn.Create(node, nil, 0, c.acl)
			if errors.Is(err, zk.ErrNodeExists) {
				return errCreatedByOthers
			}
			return err
		})
		if errors.Is(err, errCreatedByOthers) {
			err = nil
			if c.guarded(node) {
				err = c.checkCreatedByOthers(ctx, node)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Op is one operation of a Multi, with a path inside the chroot.
type Op interface{ isOp() }

// CreateOp creates a node (with the client's ACL).
type CreateOp struct {
	Path  string
	Data  []byte
	Flags int32
}

// SetOp sets a node's data if its version matches (-1: any).
type SetOp struct {
	Path    string
	Data    []byte
	Version int32
}

// DeleteOp deletes a node if its version matches (-1: any).
type DeleteOp struct {
	Path    string
	Version int32
}

// CheckOp fails the whole Multi unless the node exists with this version.
type CheckOp struct {
	Path    string
	Version int32
}

func (CreateOp) isOp() {}
func (SetOp) isOp()    {}
func (DeleteOp) isOp() {}
func (CheckOp) isOp()  {}

// MultiError says which operation of a Multi failed and why; the others were
// not applied (ZooKeeper multi-ops are atomic).
type MultiError struct {
	Index int
	Op    Op
	Err   error
}

func (e *MultiError) Error() string {
	return fmt.Sprintf("op %d (%T %s): %v", e.Index, e.Op, opPath(e.Op), e.Err)
}

func (e *MultiError) Unwrap() error { return e.Err }

func opPath(o Op) string {
	switch o := o.(type) {
	case CreateOp:
		return o.Path
	case SetOp:
		return o.Path
	case DeleteOp:
		return o.Path
	case CheckOp:
		return o.Path
	}
	return ""
}

// Multi applies ops atomically: all or none. On failure the error is a
// *MultiError naming the first failing op (errors.Is sees ZooKeeper's error).
// Created paths are returned inside the chroot, in op order ("" for other ops).
func (c *Client) Multi(ctx context.Context, ops ...Op) ([]string, error) {
	reqs := make([]interface{}, len(ops))
	for i, o := range ops {
		switch o := o.(type) {
		case CreateOp:
			reqs[i] = &zk.CreateRequest{Path: c.abs(o.Path), Data: o.Data, Acl: c.acl, Flags: o.Flags}
		case SetOp:
			reqs[i] = &zk.SetDataRequest{Path: c.abs(o.Path), Data: o.Data, Version: o.Version}
		case DeleteOp:
			reqs[i] = &zk.DeleteRequest{Path: c.abs(o.Path), Version: o.Version}
		case CheckOp:
			reqs[i] = &zk.CheckVersionRequest{Path: c.abs(o.Path), Version: o.Version}
		default:
			return nil, fmt.Errorf("zkclient: multi: unknown op %T", o)
		}
	}
	res, err := do(ctx, c, false, "multi", opPath(ops[0]), func() ([]zk.MultiResponse, error) {
		return c.conn.Multi(reqs...)
	})
	if err != nil && len(res) == 0 {
		return nil, err
	}
	out := make([]string, len(ops))
	for i, r := range res {
		// On failure ZooKeeper reports OK for the ops before the failing one and
		// "runtime inconsistency" for those after it: the first error is the cause.
		if r.Error != nil && i < len(ops) {
			return nil, fmt.Errorf("zkclient: multi: %w", &MultiError{Index: i, Op: ops[i], Err: r.Error})
		}
		if r.String != "" {
			out[i] = c.rel(r.String)
		}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// zkLogger routes go-zookeeper's printf logging into zerolog at debug level.
type zkLogger struct{ log zerolog.Logger }

func (l zkLogger) Printf(format string, args ...interface{}) {
	l.log.Debug().Msgf("zk: "+format, args...)
}

var _ io.Closer = (*Client)(nil)
