package hdfspeer

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"strings"
	"sync"
	"testing"
	"time"
)

// Peer is a running namenode and datanode, and optionally a standby namenode.
// Its methods are safe for concurrent use.
type Peer struct {
	t         testing.TB // nil for a peer made with New
	logf      func(format string, args ...any)
	blockSize int64

	nnAddr, standbyAddr string
	dnPort              int
	standby             bool // WithStandby
	host                Host // WithHost; nil: loopback in this process's namespace

	mu             sync.Mutex // guards everything below
	root           *inode
	nextID         uint64
	nextBlock      uint64
	blockIndex     map[uint64]*block
	finalized      map[uint64][]byte // block bytes the datanode holds
	failComplete   int
	dropWriteAfter int64
	calls          map[string]int
	caller         string // the effective user of the call being answered
	nn, dn, sb     *server
	closed         bool
}

// Option configures Start.
type Option func(*Peer)

// WithBlockSize sets the block size the namenode announces. Default: 1 MiB, so that
// objects of a few MiB span several blocks.
func WithBlockSize(n int64) Option { return func(p *Peer) { p.blockSize = n } }

// WithStandby adds a second namenode listener that answers every call with
// StandbyException. URI then names it first, as an HA pair, so that the client has
// to fail over to the active namenode.
func WithStandby() Option { return func(p *Peer) { p.standby = true } }

// Host is a machine the peer serves on; integration/netns.Host is one.
type Host interface {
	// Address is the host's address: the peer listens there and names it as the
	// datanode's.
	Address() string
	// Listen opens a listener of this process on the host.
	Listen(network, address string) (net.Listener, error)
}

// WithHost serves the namenode and datanode on host (its address, its network)
// instead of this process's loopback: faults of that host reach the peer.
func WithHost(h Host) Option { return func(p *Peer) { p.host = h } }

// bindAddr is the address the peer listens on and publishes.
func (p *Peer) bindAddr() string {
	if p.host != nil {
		return p.host.Address()
	}
	return "127.0.0.1"
}

// listen opens a listener where the peer serves.
func (p *Peer) listen(addr string, handle func(net.Conn) error) (*server, error) {
	lf := net.Listen
	if p.host != nil {
		lf = p.host.Listen
	}
	return serve(lf, addr, handle, p.logf)
}

// Start starts a peer on 127.0.0.1 (or WithHost's host) and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Peer {
	t.Helper()
	p, err := start(t.Logf, opts)
	if err != nil {
		t.Fatalf("%v", err)
	}
	p.t = t
	t.Cleanup(p.Close)
	return p
}

// New starts a peer outside a test (a benchmark command); logf reports what a
// connection's handling fails with. The caller closes it.
func New(logf func(format string, args ...any), opts ...Option) (*Peer, error) {
	return start(logf, opts)
}

func start(logf func(format string, args ...any), opts []Option) (*Peer, error) {
	p := &Peer{
		logf:           logf,
		blockSize:      defaultBlockSize,
		root:           &inode{dir: true, children: map[string]*inode{}, id: 16385, owner: "hdfs", perm: 0o777, mtime: time.Now()},
		nextID:         16385,
		nextBlock:      1 << 30,
		blockIndex:     map[uint64]*block{},
		finalized:      map[uint64][]byte{},
		dropWriteAfter: -1,
		calls:          map[string]int{},
	}
	for _, opt := range opts {
		opt(p)
	}
	var err error
	if p.dn, err = p.listen(net.JoinHostPort(p.bindAddr(), "0"), p.serveData); err != nil {
		return nil, fmt.Errorf("hdfspeer: datanode: %w", err)
	}
	p.dnPort = p.dn.ln.Addr().(*net.TCPAddr).Port
	if p.nn, err = p.listen(net.JoinHostPort(p.bindAddr(), "0"), func(c net.Conn) error { return p.serveIPC(c, false) }); err != nil {
		p.Close()
		return nil, fmt.Errorf("hdfspeer: namenode: %w", err)
	}
	p.nnAddr = p.nn.ln.Addr().String()
	if p.standby {
		if p.sb, err = p.listen(net.JoinHostPort(p.bindAddr(), "0"), func(c net.Conn) error { return p.serveIPC(c, true) }); err != nil {
			p.Close()
			return nil, fmt.Errorf("hdfspeer: standby namenode: %w", err)
		}
		p.standbyAddr = p.sb.ln.Addr().String()
	}
	return p, nil
}

// Addr returns the host:port of the (active) namenode.
func (p *Peer) Addr() string { return p.nnAddr }

// StandbyAddr returns the host:port of the standby namenode, "" without WithStandby.
func (p *Peer) StandbyAddr() string { return p.standbyAddr }

// URI returns hdfs://<namenodes>/<path> for an absolute path: the namenode alone, or
// with WithStandby the standby first and the active second.
func (p *Peer) URI(pth string) string {
	auth := p.nnAddr
	if p.standbyAddr != "" {
		auth = p.standbyAddr + "," + p.nnAddr
	}
	if !strings.HasPrefix(pth, "/") {
		pth = "/" + pth
	}
	return "hdfs://" + auth + pth
}

// Stop stops the namenode: its listener closes and every client connection drops.
// The namespace and the datanode stay. Stopping a stopped namenode does nothing.
func (p *Peer) Stop() {
	p.mu.Lock()
	nn := p.nn
	p.nn = nil
	p.mu.Unlock()
	if nn != nil {
		nn.close()
	}
}

// Restart stops the namenode if it runs and starts it again on the same address,
// with the namespace it had. It fails the test (a peer made with New: logs)
// when the address cannot be had again.
func (p *Peer) Restart() {
	if p.t != nil {
		p.t.Helper()
	}
	p.Stop()
	var err error
	var nn *server
	for range 50 { // the port was ours a moment ago; wait out a racing user
		if nn, err = p.listen(p.nnAddr, func(c net.Conn) error { return p.serveIPC(c, false) }); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		if p.t == nil {
			p.logf("hdfspeer: restart the namenode on %s: %v", p.nnAddr, err)
			return
		}
		p.t.Fatalf("hdfspeer: restart the namenode on %s: %v", p.nnAddr, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		nn.close()
		return
	}
	p.nn = nn
}

// FailComplete makes the next n complete calls answer false ("not yet replicated"),
// whoever makes them.
func (p *Peer) FailComplete(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failComplete = n
}

// DropWriteAfter makes the datanode drop the next WRITE_BLOCK connection once it has
// received n data bytes on it, without acknowledging the packet that reached n.
// The block is not finalized.
func (p *Peer) DropWriteAfter(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropWriteAfter = n
}

// Calls returns how many times the active namenode answered method.
func (p *Peer) Calls(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[method]
}

// ReadFile returns the bytes of the file at the absolute path, as the datanode holds
// them, behind the client's back.
func (p *Peer) ReadFile(name string) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, _ := p.lookup(path.Clean(name))
	if n == nil || n.dir {
		return nil, fmt.Errorf("hdfspeer: read %s: %w", name, os.ErrNotExist)
	}
	var b []byte
	for _, blk := range n.blocks {
		b = append(b, p.finalized[blk.id]...)
	}
	return b, nil
}

// WriteFile replaces the content of the existing file at the absolute path with data,
// in one block, behind the client's back (a faulty disk, a foreign writer).
func (p *Peer) WriteFile(name string, data []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, _ := p.lookup(path.Clean(name))
	if n == nil || n.dir {
		return fmt.Errorf("hdfspeer: write %s: %w", name, os.ErrNotExist)
	}
	p.forget(n)
	n.blocks = nil
	if len(data) > 0 {
		p.nextBlock++
		b := &block{id: p.nextBlock, genStamp: 1001, numBytes: int64(len(data))}
		p.blockIndex[b.id] = b
		p.finalized[b.id] = append([]byte(nil), data...)
		n.blocks = []*block{b}
	}
	n.mtime = time.Now()
	return nil
}

// List returns the names in the directory at the absolute path, sorted; nil for a
// missing path or a file.
func (p *Peer) List(dir string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, _ := p.lookup(path.Clean(dir))
	if n == nil || !n.dir {
		return nil
	}
	return sortedChildren(n)
}

// Owner returns the owner of the file or directory at the absolute path: the
// effective user of the client that created it; "" if there is none.
func (p *Peer) Owner(name string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, _ := p.lookup(path.Clean(name))
	if n == nil {
		return ""
	}
	return n.owner
}

// Close stops everything; it is idempotent and runs when the test ends.
func (p *Peer) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	servers := []*server{p.nn, p.sb, p.dn}
	p.nn, p.sb, p.dn = nil, nil, nil
	p.mu.Unlock()
	for _, s := range servers {
		if s != nil {
			s.close()
		}
	}
}

// server accepts connections and serves each in a goroutine; close stops it and
// waits for every connection's goroutine.
type server struct {
	ln    net.Listener
	logf  func(format string, args ...any)
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	done  bool
	wg    sync.WaitGroup
}

func serve(lf func(network, address string) (net.Listener, error), addr string, handle func(net.Conn) error, logf func(format string, args ...any)) (*server, error) {
	ln, err := lf("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &server{ln: ln, logf: logf, conns: map[net.Conn]struct{}{}}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.done {
				s.mu.Unlock()
				_ = c.Close()
				return
			}
			s.conns[c] = struct{}{}
			s.wg.Add(1)
			s.mu.Unlock()
			go func() {
				defer s.wg.Done()
				defer func() {
					s.mu.Lock()
					delete(s.conns, c)
					s.mu.Unlock()
					_ = c.Close()
				}()
				if err := handle(c); err != nil && !errors.Is(err, net.ErrClosed) {
					s.logf("hdfspeer %s: %v", ln.Addr(), err)
				}
			}()
		}
	})
	return s, nil
}

func (s *server) close() {
	s.mu.Lock()
	s.done = true
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	_ = s.ln.Close()
	s.wg.Wait()
}
