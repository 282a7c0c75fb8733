package zkclient_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/zkserver"
	"github.com/amkeeper/amkeeper/internal/zktls"
	"github.com/amkeeper/amkeeper/internal/zktls/tlstest"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// saslDigestServer starts a server that lets bob and alice in with DIGEST-MD5
// and, with require, refuses every request of a connection that has not
// authenticated with SASL.
func saslDigestServer(t *testing.T, require bool) *zktest.Cluster {
	t.Helper()
	srv, err := zkserver.WriteSASLDigest(t.TempDir(), map[string]string{"bob": "bob-secret", "alice": "alice-secret"}, require)
	if err != nil {
		t.Fatal(err)
	}
	return zktest.Start(t, zktest.WithConfig(srv.ZooCfg...), zktest.WithJVMFlags(srv.JVMFlags...))
}

// clientJAAS writes a client JAAS file (0600) with a Client section for user.
func clientJAAS(t *testing.T, user, password string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jaas.conf")
	content := fmt.Sprintf(`/* the ZooKeeper client's login */
Client {
  org.apache.zookeeper.server.auth.DigestLoginModule required
  username="%s"
  password="%s";
};
`, user, password)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func withSASL(jaas string) func(*zkclient.Config) {
	return func(c *zkclient.Config) { c.SASL = &zkclient.SASLConfig{JAASFile: jaas} }
}

// TestSASLDigestCreatorNodesBelongToTheSASLUser: against a server that refuses
// unauthenticated requests, a client with DIGEST-MD5 credentials works, its
// nodes under acl creator carry sasl:bob, and another SASL user cannot read
// them.
func TestSASLDigestCreatorNodesBelongToTheSASLUser(t *testing.T) {
	c := saslDigestServer(t, true)
	root := c.Root(t)
	cl := connect(t, c, root, withSASL(clientJAAS(t, "bob", "bob-secret")), func(cfg *zkclient.Config) { cfg.ACL = zkclient.ACLCreator })
	ctx := ctxT(t)

	_, err := cl.Create(ctx, "/owned", []byte("bob's"), 0)
	require.NoError(t, err)
	data, _, err := cl.Get(ctx, "/owned")
	require.NoError(t, err)
	require.Equal(t, "bob's", string(data))

	bob := c.ConnDialer(t, zkclient.SASLDialer(nil, zkclient.DigestMD5{User: "bob", Password: "bob-secret"}))
	acl, _, err := bob.GetACL(root + "/owned")
	require.NoError(t, err)
	require.Equal(t, []zk.ACL{{Perms: zk.PermAll, Scheme: "sasl", ID: "bob"}}, acl)

	alice := c.ConnDialer(t, zkclient.SASLDialer(nil, zkclient.DigestMD5{User: "alice", Password: "alice-secret"}))
	_, _, err = alice.GetACL(root + "/owned")
	require.ErrorIs(t, err, zk.ErrNoAuth)
	_, _, err = alice.Get(root + "/owned")
	require.ErrorIs(t, err, zk.ErrNoAuth)
	require.ErrorIs(t, alice.Delete(root+"/owned", -1), zk.ErrNoAuth)
}

// TestSASLCreatorACLCheckKnowsItsOwnNodes: under acl creator with SASL, the ACL
// check at Connect takes nodes owned by the SASL identity (sasl:bob) as ours —
// a second process of the application (a TaskManager, the next attempt) finds
// the first one's nodes and connects — while another SASL user's world-open
// node is refused, with a fix that logs in with SASL rather than a digest.
func TestSASLCreatorACLCheckKnowsItsOwnNodes(t *testing.T) {
	c := saslDigestServer(t, true)
	root := c.Root(t)
	bobJAAS := clientJAAS(t, "bob", "bob-secret")
	creator := func(cfg *zkclient.Config) { cfg.ACL = zkclient.ACLCreator }
	first := connect(t, c, root+"/cluster", withSASL(bobJAAS), creator)
	_, err := first.Create(ctxT(t), "/leader", nil, 0)
	require.NoError(t, err)
	second := connect(t, c, root+"/cluster", withSASL(bobJAAS), creator)
	_, _, err = second.Get(ctxT(t), "/leader")
	require.NoError(t, err)

	alice := c.ConnDialer(t, zkclient.SASLDialer(nil, zkclient.DigestMD5{User: "alice", Password: "alice-secret"}))
	squat := "/alice" // a path root of alice's (this server is the test's own), open to all
	_, err = alice.Create(squat, nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	cfg := zkclient.Config{Servers: c.Addrs(), Root: squat + "/cluster", ACLCheckFrom: squat, SessionTimeout: 2 * time.Second,
		ConnectionTimeout: 20 * time.Second, ACL: zkclient.ACLCreator, SASL: &zkclient.SASLConfig{JAASFile: bobJAAS}}
	cl, err := zkclient.Connect(ctxT(t), cfg)
	if cl != nil {
		cl.Close()
	}
	require.ErrorIs(t, err, zkclient.ErrOpenACL)
	require.ErrorContains(t, err, "node "+squat+" has ACL world:anyone:cdrwa")
	require.ErrorContains(t, err, "then log in with SASL as bob")
}

// TestSASLDigestWrongPasswordIsRefusedAtOnce: a wrong password fails Connect with
// ErrSASLFailed, naming the user, well before the connection timeout, instead of
// retrying until it.
func TestSASLDigestWrongPasswordIsRefusedAtOnce(t *testing.T) {
	c := saslDigestServer(t, false)
	cfg := zkclient.Config{Servers: c.Addrs(), Root: c.Root(t), SessionTimeout: 2 * time.Second, ConnectionTimeout: 20 * time.Second,
		SASL: &zkclient.SASLConfig{JAASFile: clientJAAS(t, "bob", "not-bobs-password")}}
	begin := time.Now()
	cl, err := zkclient.Connect(ctxT(t), cfg)
	if cl != nil {
		cl.Close()
	}
	require.ErrorIs(t, err, zkclient.ErrSASLFailed)
	require.ErrorIs(t, err, zk.ErrAuthFailed)
	require.ErrorContains(t, err, "as bob with DIGEST-MD5")
	require.NotContains(t, err.Error(), "not-bobs-password")
	require.Less(t, time.Since(begin), 10*time.Second)
}

// TestSASLRequiredRefusesClientsWithoutCredentials: the server requires SASL; a
// client without credentials gets a session but no request through.
func TestSASLRequiredRefusesClientsWithoutCredentials(t *testing.T) {
	c := saslDigestServer(t, true)
	cfg := zkclient.Config{Servers: c.Addrs(), Root: c.Root(t), SessionTimeout: 2 * time.Second, ConnectionTimeout: 5 * time.Second}
	cl, err := zkclient.Connect(ctxT(t), cfg)
	if cl != nil {
		cl.Close()
	}
	require.Error(t, err)
	require.ErrorContains(t, err, "create root")
	require.ErrorIs(t, err, zkclient.ErrSASLRequired)

	// The same without a root: the session is there, the first read is refused.
	raw := c.Conn(t)
	_, _, err = raw.Exists("/")
	require.Error(t, err)
}

// TestSASLEveryConnectionAuthenticates: after the server restarts, the client's
// new connection authenticates again before anything is sent (the server
// refuses unauthenticated requests), and the multiRead reader's connection
// authenticates too.
func TestSASLEveryConnectionAuthenticates(t *testing.T) {
	c := saslDigestServer(t, true)
	root := c.Root(t)
	cl := connect(t, c, root, withSASL(clientJAAS(t, "bob", "bob-secret")), func(cfg *zkclient.Config) {
		cfg.ACL = zkclient.ACLCreator
		cfg.SessionTimeout = 10 * time.Second
	})
	ctx := ctxT(t)
	_, err := cl.Create(ctx, "/before", nil, 0)
	require.NoError(t, err)

	events := cl.Listen()
	defer events.Close()
	require.NoError(t, c.Server(0).Restart())
	for {
		e, err := events.Next(ctx)
		require.NoError(t, err)
		if e.State == zkclient.Reconnected {
			break
		}
	}
	_, err = cl.Create(ctx, "/after", nil, 0)
	require.NoError(t, err)

	// Enough reads at once to open the reader.
	const n = 32
	errs := make(chan error, n)
	for range n {
		go func() {
			_, _, err := cl.GetCoalesced(ctx, "/after")
			errs <- err
		}()
	}
	for range n {
		require.NoError(t, <-errs)
	}
	batches, reads := cl.ReaderServed()
	require.Positive(t, batches, "the multiRead reader served nothing")
	require.Positive(t, reads)
}

// TestSASLJAASFileProblemsAreNamed: a JAAS file readable by others, without the
// login context's section, or with an unknown login module is refused before
// any connection, with the file and what would be valid.
func TestSASLJAASFileProblemsAreNamed(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), mode))
		require.NoError(t, os.Chmod(p, mode))
		return p
	}
	digest := "Client {\n org.apache.zookeeper.server.auth.DigestLoginModule required username=\"bob\" password=\"pw\";\n};\n"
	cases := []struct {
		name string
		sasl zkclient.SASLConfig
		want string
	}{
		{"readable by others", zkclient.SASLConfig{JAASFile: write("open.conf", digest, 0o644)}, "mode 0644) and it holds a password: run chmod 600"},
		{"no such section", zkclient.SASLConfig{JAASFile: write("other.conf", digest, 0o600), LoginContext: "ZkClient"},
			"has no section ZkClient (it has: Client); set zookeeper.sasl.login-context-name"},
		{"unknown module", zkclient.SASLConfig{JAASFile: write("ldap.conf", "Client { com.example.LdapLoginModule required; };", 0o600)},
			"login module com.example.LdapLoginModule is not supported"},
		{"syntax", zkclient.SASLConfig{JAASFile: write("bad.conf", "Client { org.apache.zookeeper.server.auth.DigestLoginModule required username=\"bob\"", 0o600)},
			"unexpected end of file"},
		{"missing file", zkclient.SASLConfig{JAASFile: filepath.Join(dir, "none.conf")}, "no such file"},
		// A password after a colon instead of "=": the error names the line, never the value.
		{"password misplaced", zkclient.SASLConfig{JAASFile: write("colon.conf", "Client {\n org.apache.zookeeper.server.auth.DigestLoginModule required\n username=\"bob\"\n password: \"TopSecretPw\";\n};\n", 0o600)},
			`line 4: got a quoted value, want "="`},
		{"password as a section name", zkclient.SASLConfig{JAASFile: write("lost.conf", "TopSecretPw; Client { };", 0o600)},
			`line 1: got ";", want "{"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sasl := tc.sasl
			_, err := zkclient.Connect(context.Background(), zkclient.Config{Servers: []string{"127.0.0.1:1"}, SASL: &sasl})
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, sasl.JAASFile)
			require.NotContains(t, err.Error(), "TopSecretPw")
			require.False(t, errors.Is(err, zkclient.ErrSASLFailed))
		})
	}
}

// TestSASLCloseSessionAuthenticatesToo: where the server refuses requests from
// connections that have not authenticated, a session is closed (fast fencing)
// only over a SASL connection: plain, the close is refused and the session
// lives on.
func TestSASLCloseSessionAuthenticatesToo(t *testing.T) {
	c := saslDigestServer(t, true)
	jaas := clientJAAS(t, "bob", "bob-secret")
	root := c.Root(t)
	cl := connect(t, c, root, withSASL(jaas))
	ctx := ctxT(t)
	_, err := cl.Create(ctx, "/ephemeral", nil, zk.FlagEphemeral)
	require.NoError(t, err)
	s := cl.Session()

	err = zkclient.CloseSession(ctx, c.Addrs(), nil, s.ID, s.Password, 0)
	require.Error(t, err)
	require.False(t, errors.Is(err, zkclient.ErrSessionGone))
	ok, _, err := cl.Exists(ctx, "/ephemeral")
	require.NoError(t, err)
	require.True(t, ok, "a refused close must leave the session alone")

	dial, err := (&zkclient.SASLConfig{JAASFile: jaas}).Dialer(nil)
	require.NoError(t, err)
	require.NoError(t, zkclient.CloseSession(ctx, c.Addrs(), dial, s.ID, s.Password, 0))
	other := connect(t, c, root, withSASL(jaas))
	require.Eventually(t, func() bool {
		ok, _, err := other.Exists(ctx, "/ephemeral")
		return err == nil && !ok
	}, 10*time.Second, 10*time.Millisecond, "the closed session's ephemeral node is gone")
}

// TestSASLOverTLS: a server that speaks TLS only and requires SASL: the SASL
// exchange runs inside the TLS connection the configured dialer makes (the two
// compose); nodes under acl creator belong to every identity of the connection,
// sasl:bob and the client certificate's x509:CN=…, and the ACL check of the
// next process takes both as its own; a TLS client without SASL credentials gets
// no request through.
func TestSASLOverTLS(t *testing.T) {
	certs := tlstest.Generate(t, t.TempDir())
	srv, err := zkserver.WriteSASLDigest(t.TempDir(), map[string]string{"bob": "bob-secret"}, true)
	require.NoError(t, err)
	c := zktest.Start(t, zktest.WithTLS(certs.Server, certs.CA), zktest.WithConfig(srv.ZooCfg...), zktest.WithJVMFlags(srv.JVMFlags...))
	tlsCfg, err := zktls.Config{
		TrustStore:           zktls.Store{Key: "zookeeper.ssl.trustStore.location", Location: certs.CA},
		KeyStore:             zktls.Store{Key: "zookeeper.ssl.keyStore.location", Location: certs.Client},
		HostnameVerification: true,
	}.TLS()
	require.NoError(t, err)
	dial, certID := zktls.Dialer(tlsCfg), zktls.Identity(tlsCfg)
	require.NotEmpty(t, certID)
	root := c.Root(t)
	jaas := clientJAAS(t, "bob", "bob-secret")
	secure := func(cfg *zkclient.Config) {
		cfg.Dialer, cfg.CertIdentity, cfg.ACL = dial, certID, zkclient.ACLCreator
	}

	cl := connect(t, c, root, withSASL(jaas), secure)
	ctx := ctxT(t)
	_, err = cl.Create(ctx, "/owned", nil, 0)
	require.NoError(t, err)
	acl, _, err := c.ConnDialer(t, zkclient.SASLDialer(dial, zkclient.DigestMD5{User: "bob", Password: "bob-secret"})).GetACL(root + "/owned")
	require.NoError(t, err)
	require.ElementsMatch(t, []zk.ACL{{Perms: zk.PermAll, Scheme: "sasl", ID: "bob"}, {Perms: zk.PermAll, Scheme: "x509", ID: certID}}, acl)

	next := connect(t, c, root, withSASL(jaas), secure) // the ACL check passes: both entries are ours
	_, _, err = next.Get(ctx, "/owned")
	require.NoError(t, err)

	plain := connect(t, c, "", func(cfg *zkclient.Config) { cfg.Dialer = dial })
	_, _, err = plain.Get(ctx, root+"/owned")
	require.ErrorIs(t, err, zkclient.ErrSASLRequired)
}
