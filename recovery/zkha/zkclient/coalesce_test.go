package zkclient_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"
)

func TestCreateCoalescedSharesMultisAndKeepsEachOutcome(t *testing.T) {
	cl := connect(t, zkc, zkc.Root(t))
	ctx := ctxT(t)
	_, err := cl.Create(ctx, "/taken", nil, 0)
	require.NoError(t, err)

	const n = 100
	errs := make([]error, n+2)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n + 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			switch i {
			case n:
				errs[i] = cl.CreateCoalesced(ctx, "/taken", nil, 0) // exists: fails its multi
			case n + 1:
				errs[i] = cl.CreateCoalesced(ctx, "/missing/child", nil, 0) // no parent
			default:
				errs[i] = cl.CreateCoalesced(ctx, fmt.Sprintf("/n%03d", i), []byte{byte(i)}, zk.FlagEphemeral)
			}
		}()
	}
	close(start)
	wg.Wait()

	require.ErrorIs(t, errs[n], zk.ErrNodeExists)
	require.ErrorIs(t, errs[n+1], zk.ErrNoNode)
	txns := map[int64]bool{}
	for i := range n {
		require.NoError(t, errs[i], "create %d", i)
		data, stat, err := cl.Get(ctx, fmt.Sprintf("/n%03d", i))
		require.NoError(t, err)
		require.Equal(t, []byte{byte(i)}, data)
		require.NotZero(t, stat.EphemeralOwner)
		txns[stat.Czxid] = true
	}
	// Nodes created by one multi share its transaction ID.
	require.Less(t, len(txns), n, "concurrent creates went out one transaction each")
}
