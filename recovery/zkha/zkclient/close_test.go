package zkclient_test

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// TestCloseSessionRemovesEphemeralsAtOnce: a session is closed by another party
// with its ID and password (as the supervisor does for an AM it has reaped); its
// ephemeral node goes at once, long before the 20 s session timeout.
func TestCloseSessionRemovesEphemeralsAtOnce(t *testing.T) {
	root := zkc.Root(t)
	owner := connect(t, zkc, root, func(c *zkclient.Config) { c.SessionTimeout = 20 * time.Second })
	ctx := ctxT(t)
	_, err := owner.Create(ctx, "/eph", nil, zk.FlagEphemeral)
	require.NoError(t, err)
	s := owner.Session()

	watcher := connect(t, zkc, root)
	require.NoError(t, zkclient.CloseSession(ctx, zkc.Addrs(), nil, s.ID, s.Password, s.Timeout))
	ok, _, err := watcher.Exists(ctx, "/eph")
	require.NoError(t, err)
	require.False(t, ok, "the closed session's ephemeral node is gone at once")

	// Nothing is left to close a second time.
	require.ErrorIs(t, zkclient.CloseSession(ctx, zkc.Addrs(), nil, s.ID, s.Password, s.Timeout), zkclient.ErrSessionGone)
}

func TestCloseSessionRefusesAWrongPassword(t *testing.T) {
	root := zkc.Root(t)
	owner := connect(t, zkc, root, func(c *zkclient.Config) { c.SessionTimeout = 20 * time.Second })
	ctx := ctxT(t)
	_, err := owner.Create(ctx, "/eph", nil, zk.FlagEphemeral)
	require.NoError(t, err)
	s := owner.Session()
	wrong := append([]byte(nil), s.Password...)
	wrong[0] ^= 0xff
	require.ErrorIs(t, zkclient.CloseSession(ctx, zkc.Addrs(), nil, s.ID, wrong, s.Timeout), zkclient.ErrSessionGone)
	ok, _, err := connect(t, zkc, root).Exists(ctx, "/eph")
	require.NoError(t, err)
	require.True(t, ok, "a wrong password closes nothing")
}

func TestCloseSessionOfAnExpiredSession(t *testing.T) {
	root := zkc.Root(t)
	owner := connect(t, zkc, root)
	s := owner.Session()
	owner.Close() // closed normally: the session no longer exists
	require.ErrorIs(t, zkclient.CloseSession(ctxT(t), zkc.Addrs(), nil, s.ID, s.Password, s.Timeout), zkclient.ErrSessionGone)
}
