package zkha_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/embedded"
	"github.com/amkeeper/amkeeper/recovery/recoverytest"
	"github.com/amkeeper/amkeeper/recovery/zkha"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// TestForeignGuardIsCheckedOnlyByErr: a grant of another backend (the embedded
// one) adds no operation to a multi-op; a deposed one is refused before anything
// is sent.
func TestForeignGuardIsCheckedOnlyByErr(t *testing.T) {
	b, err := embedded.Open(t.TempDir(), logging.ForTest(t))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	grants := make(chan recovery.Grant, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = b.Election().Run(ctx, func(g recovery.Grant) { grants <- g; <-g.Done() })
	}()
	var g recovery.Grant
	select {
	case g = <-grants:
	case <-time.After(5 * time.Second):
		t.Fatal("embedded leadership not granted")
	}
	require.Empty(t, zkha.GuardOps(g))

	cl := hsConnect(t, zkc, zkc.Root(t))
	_, err = zkha.GuardedMulti(recoverytest.Context(t), cl, g, zkclient.CreateOp{Path: "/while-held"})
	require.NoError(t, err)
	cancel()
	<-done
	_, err = zkha.GuardedMulti(recoverytest.Context(t), cl, g, zkclient.CreateOp{Path: "/after-deposed"})
	require.ErrorIs(t, err, recovery.ErrNotLeader)
	ok, _, err := cl.Exists(recoverytest.Context(t), "/after-deposed")
	require.NoError(t, err)
	require.False(t, ok)
}
