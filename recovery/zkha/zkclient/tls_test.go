package zkclient_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/zktls"
	"github.com/amkeeper/amkeeper/internal/zktls/tlstest"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// TestTLSOnlyServer runs against a server that accepts TLS only: every
// connection of a Client (its session, its multiRead reader, the close of
// another session) goes through Config.Dialer, and a client that cannot speak
// TLS to it, or does not trust its certificate, fails with an error that says so.
func TestTLSOnlyServer(t *testing.T) {
	certs := tlstest.Generate(t, t.TempDir())
	tc := zktest.Start(t, zktest.WithTLS(certs.Server, certs.CA))
	dialer := func(t *testing.T, trust string, withCert bool) zkclient.Dialer {
		cfg := zktls.Config{
			TrustStore:           zktls.Store{Key: "zookeeper.ssl.trustStore.location", Location: trust},
			HostnameVerification: true,
		}
		if withCert {
			cfg.KeyStore = zktls.Store{Key: "zookeeper.ssl.keyStore.location", Location: certs.Client}
		}
		c, err := cfg.TLS()
		require.NoError(t, err)
		return zktls.Dialer(c)
	}
	secure := func(t *testing.T) func(*zkclient.Config) {
		d := dialer(t, certs.CA, true)
		return func(c *zkclient.Config) { c.Dialer = d }
	}
	refused := func(t *testing.T, dial zkclient.Dialer) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cl, err := zkclient.Connect(ctx, zkclient.Config{Servers: tc.Addrs(), SessionTimeout: 2 * time.Second,
			ConnectionTimeout: 2 * time.Second, Dialer: dial, Logger: logging.ForTest(t)})
		if err == nil {
			cl.Close()
		}
		require.ErrorIs(t, err, zkclient.ErrNotConnected)
		return err
	}

	t.Run("session, reader and closer", func(t *testing.T) {
		root := tc.Root(t)
		// Digest credentials over TLS: the secure option for a Go client.
		owner := connect(t, tc, root, secure(t), func(c *zkclient.Config) {
			c.ACL, c.Digest = zkclient.ACLCreator, "amkeeper:s3cret"
		})
		const n = 200
		createNodes(t, owner, n)
		readAll(t, owner, n)
		_, reads := owner.ReaderServed()
		require.Greater(t, reads, int64(n/2), "the multiRead reader connected over TLS and served")

		ctx := ctxT(t)
		victim := connect(t, tc, root, secure(t), func(c *zkclient.Config) {
			c.SessionTimeout, c.Digest = 10*time.Second, "amkeeper:s3cret"
		})
		_, err := victim.Create(ctx, "/eph", nil, zk.FlagEphemeral)
		require.NoError(t, err)
		s := victim.Session()
		// Plain TCP, as the closer dialed before it took the Dialer: the session
		// survives.
		require.Error(t, zkclient.CloseSession(ctx, tc.Addrs(), nil, s.ID, s.Password, s.Timeout))
		ok, _, err := owner.Exists(ctx, "/eph")
		require.NoError(t, err)
		require.True(t, ok, "a plain closer cannot reach a TLS-only port")
		require.NoError(t, zkclient.CloseSession(ctx, tc.Addrs(), dialer(t, certs.CA, true), s.ID, s.Password, s.Timeout))
		ok, _, err = owner.Exists(ctx, "/eph")
		require.NoError(t, err)
		require.False(t, ok, "the session closer reached the TLS port and closed the session at once")
	})

	t.Run("wrong CA", func(t *testing.T) {
		err := refused(t, dialer(t, certs.OtherCA, true))
		require.ErrorContains(t, err, "certificate signed by unknown authority")
		require.ErrorContains(t, err, "not signed by a CA in zookeeper.ssl.trustStore.location")
	})

	t.Run("plain TCP", func(t *testing.T) {
		err := refused(t, nil)
		require.ErrorContains(t, err, "without answering the handshake (a TLS-only port? then set zookeeper.client.secure: true)")
	})

	t.Run("no client certificate", func(t *testing.T) {
		err := refused(t, dialer(t, certs.CA, false))
		require.ErrorContains(t, err, "remote error: tls: bad certificate (the server refused the TLS handshake: it needs a client certificate its trust store accepts, zookeeper.ssl.keyStore.location)")
	})
}
