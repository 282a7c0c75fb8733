package zkclient

import "context"

// ReaderServed reports how many multiRead requests the reader sent and how many
// reads they carried.
func (c *Client) ReaderServed() (batches, reads int64) {
	return c.reads.batches.Load(), c.reads.served.Load()
}

// ReaderOpen reports whether the reader holds a connection.
func (c *Client) ReaderOpen() bool {
	c.reads.mu.Lock()
	defer c.reads.mu.Unlock()
	return c.reads.conn != nil
}

// EnsureAbsRechecking creates abs (a server path) as Connect does under
// ACLCreator: nodes found on the way count as created by someone else since the
// check and are checked.
func (c *Client) EnsureAbsRechecking(ctx context.Context, abs string) error {
	return c.ensureAbs(ctx, abs, true)
}
