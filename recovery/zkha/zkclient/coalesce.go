package zkclient

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-zookeeper/zk"
)

// maxCoalesced bounds the creates sent in one multi (a few tens of KB: well under
// the server's jute.maxbuffer).
const maxCoalesced = 256

// coalescer groups concurrent creates into multi-ops: while one multi is in
// flight, new creates queue, and all that queued go out as the next multi. A lone
// create is sent at once (no timer), so batching adds no latency; under load it
// turns N creates — N transactions, each through the server's commit pipeline —
// into N/256 of them.
type coalescer struct {
	mu      sync.Mutex
	pending []*coalescedCreate
	running bool
}

type coalescedCreate struct {
	path  string
	data  []byte
	flags int32
	done  chan error // buffered: the flusher never waits for a caller
}

// CreateCoalesced creates a node as Create does, but sends it in one multi-op with
// whatever other CreateCoalesced calls are waiting at the same moment. Use it for
// many independent creates issued at once, such as taking the locks of every job a
// new leader recovers. Each caller gets its own outcome: when one create of a
// multi fails (its node exists, say) that caller gets the error and the others are
// sent again without it. A connection loss during a multi is returned to all its
// callers, as Create would.
func (c *Client) CreateCoalesced(ctx context.Context, p string, data []byte, flags int32) error {
	req := &coalescedCreate{path: p, data: data, flags: flags, done: make(chan error, 1)}
	c.batch.mu.Lock()
	c.batch.pending = append(c.batch.pending, req)
	start := !c.batch.running
	c.batch.running = true
	c.batch.mu.Unlock()
	if start {
		go c.flushCoalesced()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err() // the create may still be applied, as with Create
	}
}

// flushCoalesced sends the queued creates, a multi at a time, until none are left.
func (c *Client) flushCoalesced() {
	for {
		c.batch.mu.Lock()
		n := min(len(c.batch.pending), maxCoalesced)
		if n == 0 {
			c.batch.running = false
			c.batch.mu.Unlock()
			return
		}
		reqs := c.batch.pending[:n:n]
		c.batch.pending = c.batch.pending[n:]
		c.batch.mu.Unlock()
		c.sendCoalesced(reqs)
	}
}

// sendCoalesced sends reqs as one multi (a lone one as a plain create). When an
// op fails, ZooKeeper applies none of them and says which failed: that caller gets
// the error, and the rest go out again without it.
func (c *Client) sendCoalesced(reqs []*coalescedCreate) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.SessionTimeout)
	defer cancel()
	if len(reqs) == 1 {
		r := reqs[0]
		_, err := c.Create(ctx, r.path, r.data, r.flags)
		r.done <- err
		return
	}
	for len(reqs) > 0 {
		ops := make([]Op, len(reqs))
		for i, r := range reqs {
			ops[i] = CreateOp{Path: r.path, Data: r.data, Flags: r.flags}
		}
		_, err := c.Multi(ctx, ops...)
		var me *MultiError
		if err != nil && errors.As(err, &me) && me.Index < len(reqs) && !errors.Is(me.Err, zk.ErrAPIError) {
			r := reqs[me.Index]
			r.done <- fmt.Errorf("zkclient: create %s: %w", r.path, me.Err)
			reqs = append(reqs[:me.Index:me.Index], reqs[me.Index+1:]...)
			continue
		}
		// Done, or nothing tells which creates were applied (a connection
		// loss): each caller learns what Create would have said.
		for _, r := range reqs {
			r.done <- err
		}
		return
	}
}
