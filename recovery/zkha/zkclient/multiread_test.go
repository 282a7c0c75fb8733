package zkclient_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// readAll issues n coalesced reads of /d/<i> and a listing of /d at once, as a
// recovering leader does, and checks every answer.
func readAll(t *testing.T, cl *zkclient.Client, n int) {
	t.Helper()
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make([]error, n+2)
	start := make(chan struct{})
	for i := range n + 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			switch i {
			case n:
				names, err := cl.ChildrenCoalesced(ctx, "/d")
				if err == nil && len(names) != n {
					err = fmt.Errorf("listed %d children, want %d", len(names), n)
				}
				errs[i] = err
			case n + 1:
				_, _, err := cl.GetCoalesced(ctx, "/d/missing")
				if !errors.Is(err, zk.ErrNoNode) {
					err = fmt.Errorf("missing node: got %v, want ErrNoNode", err)
				} else {
					err = nil
				}
				errs[i] = err
			default:
				data, st, err := cl.GetCoalesced(ctx, fmt.Sprintf("/d/%04d", i))
				if err == nil && (string(data) != fmt.Sprint("value ", i) || st == nil || st.DataLength != int32(len(data))) {
					err = fmt.Errorf("node %d: data %q, stat %+v", i, data, st)
				}
				errs[i] = err
			}
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "read %d", i)
	}
}

func createNodes(t *testing.T, cl *zkclient.Client, n int) {
	t.Helper()
	ctx := ctxT(t)
	_, err := cl.Create(ctx, "/d", nil, 0)
	require.NoError(t, err)
	for i := range n {
		_, err := cl.Create(ctx, fmt.Sprintf("/d/%04d", i), fmt.Append(nil, "value ", i), 0)
		require.NoError(t, err)
	}
}

// TestCoalescedReadsShareMultiReads: concurrent reads under a chroot come back
// right, each with its own outcome, in far fewer requests than reads; the idle
// reader then closes its session.
func TestCoalescedReadsShareMultiReads(t *testing.T) {
	cl := connect(t, zkc, zkc.Root(t))
	const n = 300
	createNodes(t, cl, n)
	readAll(t, cl, n)
	// The first read may go out alone, as a single request; those queued behind
	// it share multiReads.
	batches, reads := cl.ReaderServed()
	require.Greater(t, reads, int64(n/2), "reads went out as single requests")
	require.Less(t, batches, int64(n/4), "reads were not batched")

	require.Eventually(t, func() bool { return !cl.ReaderOpen() }, 10*time.Second, 20*time.Millisecond, "the idle reader closes")
	readAll(t, cl, n) // and opens again when needed
	_, again := cl.ReaderServed()
	require.Greater(t, again-reads, int64(n/2))
}

// TestCoalescedReadsAuthenticate: the reader authenticates as the client does,
// so nodes only the client's identity may read come back; another identity's
// reader is refused per read, as its single reads would be.
func TestCoalescedReadsAuthenticate(t *testing.T) {
	root := zkc.Root(t)
	owner := connect(t, zkc, root, func(cfg *zkclient.Config) {
		cfg.ACL = zkclient.ACLCreator
		cfg.Digest = "amkeeper:s3cret"
	})
	const n = 100
	createNodes(t, owner, n)
	readAll(t, owner, n)
	_, reads := owner.ReaderServed()
	require.Greater(t, reads, int64(n/2))

	other := connect(t, zkc, root, func(cfg *zkclient.Config) { cfg.Digest = "mallory:guess" })
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = other.GetCoalesced(ctx, fmt.Sprintf("/d/%04d", i))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.ErrorIs(t, err, zk.ErrNoAuth)
	}
	_, reads = other.ReaderServed()
	require.Greater(t, reads, int64(0), "the refusals came through the reader")
}

// TestCoalescedReadsFollowTheClientsServer: when the client's connection is
// re-dialed, the reader is too, so that it never reads from a server behind the
// client; and a reader that cannot connect costs nothing but speed.
func TestCoalescedReadsFollowTheClientsServer(t *testing.T) {
	var dials atomic.Int32
	var refuse atomic.Bool
	var mu sync.Mutex
	var conns []net.Conn
	cl := connect(t, zkc, zkc.Root(t), func(cfg *zkclient.Config) {
		cfg.Dialer = func(network, address string, timeout time.Duration) (net.Conn, error) {
			dials.Add(1)
			if refuse.Load() {
				return nil, fmt.Errorf("refused by the test")
			}
			c, err := net.DialTimeout(network, address, timeout)
			if err == nil {
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
			return c, err
		}
	})
	const n = 100
	createNodes(t, cl, n)
	readAll(t, cl, n)
	require.EqualValues(t, 2, dials.Load(), "the client's connection and the reader")

	// Drop the client's connection: it reconnects (same session), and the next
	// coalesced read re-dials the reader.
	mu.Lock()
	require.NoError(t, conns[0].Close())
	mu.Unlock()
	ctx := ctxT(t)
	require.Eventually(t, func() bool { return dials.Load() == 3 && cl.Connected() }, 10*time.Second, 10*time.Millisecond)
	_, _, err := cl.Get(ctx, "/d/0001")
	require.NoError(t, err)
	readAll(t, cl, n)
	require.EqualValues(t, 4, dials.Load(), "the reader followed the client's new connection")

	// Kill the reader's connection under it: that batch is read with single
	// requests, and the reader rests instead of being re-dialed at once.
	mu.Lock()
	require.NoError(t, conns[len(conns)-1].Close())
	mu.Unlock()
	_, before := cl.ReaderServed()
	readAll(t, cl, n)
	_, after := cl.ReaderServed()
	require.Equal(t, before, after, "the broken reader served nothing")
	require.EqualValues(t, 4, dials.Load())
	require.False(t, cl.ReaderOpen())

	// No reader at all (refused dials): single requests answer.
	refuse.Store(true)
	readAll(t, cl, n)
}

func TestCoalescedReadsAfterCloseFail(t *testing.T) {
	cl := connect(t, zkc, zkc.Root(t))
	require.NoError(t, cl.Close())
	_, _, err := cl.GetCoalesced(context.Background(), "/x")
	require.ErrorIs(t, err, zkclient.ErrClosed)
}
