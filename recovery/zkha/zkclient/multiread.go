package zkclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// Coalesced reads: GetCoalesced and ChildrenCoalesced calls made at the same
// moment go out together as one multiRead request (ZooKeeper 3.6+) on a second
// connection with its own session, the reader. A new leader recovering thousands
// of jobs reads each job graph and checkpoint pointer once; as single requests
// each costs the server a full request cycle, in a multiRead a tree lookup.
//
// The reader connects to the server the client's own connection uses, and
// reconnects when that changes: a server's state only moves forward, so a read
// sent after one of the client's own requests completed sees at least what that
// request saw — the guarantee a single session gives. Whenever the reader cannot
// serve (an older server, a dropped connection, refused credentials), the batch
// is read with single requests instead, and the reader rests for readerRetry.

const (
	// maxReadBatch bounds the reads in one multiRead.
	maxReadBatch = 512
	// minReaderBatch is the smallest batch worth opening a reader for (a
	// session of its own costs a transaction); smaller batches go out as single
	// requests unless a reader is open already.
	minReaderBatch = 16
	// readerIdle: an idle reader closes its session after this long.
	readerIdle = time.Second
	// readerRetry: after a failure the reader is not tried again for this long.
	readerRetry = 10 * time.Second
)

type readReq struct {
	ctx  context.Context
	op   int32           // opGetData or opGetChildren
	path string          // as the caller gave it
	abs  string          // on the server
	done chan readResult // buffered: the flusher never waits for a caller
}

type readResult struct {
	data     []byte
	stat     *zk.Stat
	children []string
	err      error
}

// readBatcher queues coalesced reads and owns the reader connection.
type readBatcher struct {
	mu      sync.Mutex
	pending []*readReq
	running bool
	conn    *readerConn // nil when there is none
	resting time.Time   // no reader before this
	idle    *time.Timer
	closed  bool

	// What the reader served (multiRead requests, reads in them), for tests.
	batches, served atomic.Int64
}

// readerConn is the reader: a connection with its own session.
type readerConn struct {
	conn net.Conn
	gen  uint64 // the client connection it follows
	xid  int32
	to   time.Duration
}

// GetCoalesced reads a node's data as Get does; concurrent calls share multiRead
// requests. Use it for many independent reads issued at once.
func (c *Client) GetCoalesced(ctx context.Context, p string) ([]byte, *zk.Stat, error) {
	r := c.coalescedRead(ctx, opGetData, p)
	return r.data, r.stat, r.err
}

// ChildrenCoalesced lists a node's children as Children does; concurrent calls
// share multiRead requests.
func (c *Client) ChildrenCoalesced(ctx context.Context, p string) ([]string, error) {
	r := c.coalescedRead(ctx, opGetChildren, p)
	return r.children, r.err
}

func (c *Client) coalescedRead(ctx context.Context, op int32, p string) readResult {
	req := &readReq{ctx: ctx, op: op, path: p, abs: c.abs(p), done: make(chan readResult, 1)}
	b := &c.reads
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return readResult{err: fmt.Errorf("zkclient: read %s: %w", p, ErrClosed)}
	}
	b.pending = append(b.pending, req)
	start := !b.running
	b.running = true
	if b.idle != nil {
		b.idle.Stop()
		b.idle = nil
	}
	b.mu.Unlock()
	if start {
		go c.flushReads()
	}
	select {
	case r := <-req.done:
		return r
	case <-ctx.Done():
		return readResult{err: fmt.Errorf("zkclient: read %s: %w", p, ctx.Err())}
	}
}

// flushReads sends the queued reads, a multiRead at a time, until none are left;
// then it arms the idle timer that closes the reader.
func (c *Client) flushReads() {
	b := &c.reads
	for {
		b.mu.Lock()
		n := min(len(b.pending), maxReadBatch)
		if n == 0 {
			b.running = false
			if b.conn != nil && !b.closed {
				b.idle = time.AfterFunc(readerIdle, c.closeIdleReader)
			}
			b.mu.Unlock()
			return
		}
		reqs := b.pending[:n:n]
		b.pending = b.pending[n:]
		b.mu.Unlock()
		c.sendReads(reqs)
	}
}

// sendReads answers reqs through the reader, or with single requests when the
// reader cannot serve.
func (c *Client) sendReads(reqs []*readReq) {
	if rc := c.reader(len(reqs) >= minReaderBatch); rc != nil {
		results, err := rc.multiRead(reqs)
		if err == nil {
			c.reads.batches.Add(1)
			c.reads.served.Add(int64(len(reqs)))
			for i, r := range reqs {
				r.done <- results[i]
			}
			return
		}
		c.log.Warn().Err(err).Dur("resting", readerRetry).Msg("multiRead failed; reading with single requests")
		c.dropReader(true)
	}
	var wg sync.WaitGroup
	for _, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.done <- c.singleRead(r)
		}()
	}
	wg.Wait()
}

func (c *Client) singleRead(r *readReq) readResult {
	if r.op == opGetChildren {
		names, _, err := c.Children(r.ctx, r.path)
		return readResult{children: names, err: err}
	}
	data, st, err := c.Get(r.ctx, r.path)
	return readResult{data: data, stat: st, err: err}
}

// reader returns the reader, connecting it (when open is set) if there is none or
// the client's connection moved to another server; nil while it rests or cannot
// connect.
func (c *Client) reader(open bool) *readerConn {
	c.mu.Lock()
	gen, server := c.gen, c.server
	c.mu.Unlock()
	b := &c.reads
	b.mu.Lock()
	rc, resting := b.conn, time.Now().Before(b.resting)
	b.mu.Unlock()
	if rc != nil && rc.gen == gen {
		return rc
	}
	if rc != nil {
		c.dropReader(false)
	}
	if !open || resting || server == "" {
		return nil
	}
	rc, err := c.dialReader(server, gen)
	if err != nil {
		c.log.Warn().Err(err).Str("server", server).Dur("resting", readerRetry).Msg("no multiRead reader; reading with single requests")
		c.reads.mu.Lock()
		c.reads.resting = time.Now().Add(readerRetry)
		c.reads.mu.Unlock()
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		rc.close()
		return nil
	}
	b.conn = rc
	return rc
}

// dialReader opens a reader session on server and authenticates it as the
// client is.
func (c *Client) dialReader(server string, gen uint64) (*readerConn, error) {
	conn, err := dialerOf(c.cfg.Dialer)("tcp", server, dialTimeout)
	if err != nil {
		return nil, err
	}
	rc := &readerConn{conn: conn, gen: gen, to: c.cfg.SessionTimeout}
	_ = conn.SetDeadline(time.Now().Add(dialTimeout))
	if _, err := conn.Write(connectRequest(0, nil, c.cfg.SessionTimeout).done()); err != nil {
		conn.Close()
		return nil, fmt.Errorf("zkclient: reader connect: %w", err)
	}
	id, to, err := connectResponse(conn)
	if err == nil && id == 0 {
		err = errors.New("the server refused a new session")
	}
	if err == nil && c.cfg.Digest != "" {
		// AuthPacket {type, scheme, auth}, once the session is up: ZooKeeper's
		// Netty server (the one TLS needs) misreads a packet pipelined behind
		// the ConnectRequest, and refuses the session.
		_, err = conn.Write(request(xidAuth, opAuth).int32(0).string("digest").buffer([]byte(c.cfg.Digest)).done())
		var reply []byte
		if err == nil {
			if reply, err = readFrame(conn); err == nil {
				err = replyHeader(&decoder{b: reply}, xidAuth)
			}
		}
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("zkclient: reader connect: %w", err)
	}
	if to > 0 {
		rc.to = to
	}
	return rc, nil
}

// multiRead sends reqs as one multiRead and returns each one's result.
func (rc *readerConn) multiRead(reqs []*readReq) ([]readResult, error) {
	rc.xid++
	f := request(rc.xid, opMultiRead)
	for _, r := range reqs {
		// MultiHeader {type, done, err}, then GetDataRequest or GetChildrenRequest {path, watch}.
		f = f.int32(r.op).bool(false).int32(-1).string(r.abs).bool(false)
	}
	f = f.int32(-1).bool(true).int32(-1)
	_ = rc.conn.SetDeadline(time.Now().Add(rc.to))
	if _, err := rc.conn.Write(f.done()); err != nil {
		return nil, err
	}
	reply, err := readFrame(rc.conn)
	if err != nil {
		return nil, err
	}
	d := &decoder{b: reply}
	if err := replyHeader(d, rc.xid); err != nil {
		return nil, fmt.Errorf("zkclient: multiRead: %w", err)
	}
	out := make([]readResult, len(reqs))
	for i, r := range reqs {
		typ, done, code := d.int32(), d.bool(), d.int32()
		if d.err != nil || done {
			return nil, fmt.Errorf("zkclient: multiRead answered %d of %d reads", i, len(reqs))
		}
		if typ != opError && typ != r.op {
			return nil, fmt.Errorf("zkclient: multiRead: result of type %d for a read of type %d", typ, r.op)
		}
		switch typ {
		case opError:
			d.int32() // ErrorResponse {err}, the same code
			what := "get"
			if r.op == opGetChildren {
				what = "children"
			}
			out[i].err = fmt.Errorf("zkclient: %s %s: %w", what, r.path, codeError(code))
		case opGetData:
			out[i].data, out[i].stat = d.buffer(), d.stat()
		case opGetChildren:
			n := d.int32()
			if n < 0 || int(n) > len(d.b)/4 {
				return nil, fmt.Errorf("zkclient: multiRead: %d children", n)
			}
			names := make([]string, 0, n)
			for range n {
				names = append(names, d.string())
			}
			out[i].children = names
		}
	}
	if d.err != nil {
		return nil, fmt.Errorf("zkclient: multiRead: %w", d.err)
	}
	return out, nil
}

// close ends the reader's session (its close is not waited for) and connection.
func (rc *readerConn) close() {
	rc.xid++
	_ = rc.conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := rc.conn.Write(request(rc.xid, opCloseSession).done()); err == nil {
		_, _ = readFrame(rc.conn)
	}
	_ = rc.conn.Close()
}

// dropReader closes the reader; after a failure (rest) it is not reconnected for
// readerRetry.
func (c *Client) dropReader(rest bool) {
	b := &c.reads
	b.mu.Lock()
	rc := b.conn
	b.conn = nil
	if rest {
		b.resting = time.Now().Add(readerRetry)
	}
	b.mu.Unlock()
	if rc != nil {
		rc.close()
	}
}

// closeIdleReader closes the reader when no read came since the idle timer was
// armed.
func (c *Client) closeIdleReader() {
	b := &c.reads
	b.mu.Lock()
	if b.running || len(b.pending) > 0 {
		b.mu.Unlock()
		return
	}
	rc := b.conn
	b.conn, b.idle = nil, nil
	b.mu.Unlock()
	if rc != nil {
		rc.close()
	}
}

// closeReads fails nothing queued (each waiter has its own context) but closes
// the reader and refuses new coalesced reads.
func (c *Client) closeReads() {
	b := &c.reads
	b.mu.Lock()
	b.closed = true
	if b.idle != nil {
		b.idle.Stop()
	}
	rc := b.conn
	b.conn = nil
	b.mu.Unlock()
	if rc != nil {
		rc.close()
	}
}
