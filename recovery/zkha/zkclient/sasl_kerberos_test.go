package zkclient_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/integration/kdctest"
	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/zkserver"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// kerberosServer starts a KDC with a throwaway realm and a ZooKeeper server that
// logs in as zookeeper/localhost from a keytab and refuses requests from
// connections not authenticated with SASL.
func kerberosServer(t *testing.T) (*kdctest.KDC, *zktest.Cluster) {
	t.Helper()
	kdc := kdctest.Start(t)
	kt := kdc.AddKeytab("zookeeper/localhost")
	srv, err := zkserver.WriteSASLKerberos(t.TempDir(), kt, "zookeeper/localhost@"+kdctest.Realm, kdc.Krb5Conf(), true)
	require.NoError(t, err)
	return kdc, zktest.Start(t, zktest.WithConfig(srv.ZooCfg...), zktest.WithJVMFlags(srv.JVMFlags...))
}

// TestKerberosKeytabAndTicketCache: against a Kerberos ZooKeeper that requires
// SASL, a client logged in from a keytab works and its acl creator nodes carry
// sasl:<principal>; a client logged in from a kinit ticket cache works too and
// cannot touch them; a principal the KDC no longer knows is refused at once.
func TestKerberosKeytabAndTicketCache(t *testing.T) {
	kdc, c := kerberosServer(t)
	root := c.Root(t)
	amKT := kdc.AddKeytab("amkeeper")
	keytabLogin := &zkclient.KerberosLogin{Principal: "amkeeper@" + kdctest.Realm, Keytab: amKT, Krb5Conf: kdc.Krb5Conf()}
	cl := connect(t, c, root, func(cfg *zkclient.Config) {
		cfg.SASL = &zkclient.SASLConfig{Kerberos: keytabLogin}
		cfg.ACL = zkclient.ACLCreator
	})
	ctx := ctxT(t)
	_, err := cl.Create(ctx, "/owned", []byte("am"), 0)
	require.NoError(t, err)

	dial, err := (&zkclient.SASLConfig{Kerberos: keytabLogin}).Dialer(nil)
	require.NoError(t, err)
	acl, _, err := c.ConnDialer(t, dial).GetACL(root + "/owned")
	require.NoError(t, err)
	require.Equal(t, []zk.ACL{{Perms: zk.PermAll, Scheme: "sasl", ID: "amkeeper@" + kdctest.Realm}}, acl)

	kdc.AddPassword("alice", "alice-pw")
	cache := kdc.Kinit("alice", "alice-pw")
	alice := connect(t, c, "", func(cfg *zkclient.Config) {
		cfg.SASL = &zkclient.SASLConfig{Kerberos: &zkclient.KerberosLogin{UseTicketCache: true, TicketCache: cache, Krb5Conf: kdc.Krb5Conf()}}
	})
	_, err = alice.Create(ctx, "/alices", nil, 0) // this test's own server: / is open
	require.NoError(t, err)
	_, _, err = alice.Get(ctx, root+"/owned")
	require.ErrorIs(t, err, zk.ErrNoAuth)

	// The same tickets in a cache another user planted (owned by nobody) are refused.
	b, err := os.ReadFile(cache)
	require.NoError(t, err)
	planted := filepath.Join(t.TempDir(), "krb5cc_planted")
	require.NoError(t, os.WriteFile(planted, b, 0o600))
	require.NoError(t, os.Chown(planted, 65534, 65534))
	_, err = zkclient.Connect(ctx, zkclient.Config{Servers: c.Addrs(), ConnectionTimeout: 5 * time.Second,
		SASL: &zkclient.SASLConfig{Kerberos: &zkclient.KerberosLogin{UseTicketCache: true, TicketCache: planted, Krb5Conf: kdc.Krb5Conf()}}})
	require.ErrorContains(t, err, "ticket cache "+planted+" belongs to uid 65534")

	// The same login from a JAAS file's Krb5LoginModule section.
	jaas := filepath.Join(t.TempDir(), "jaas.conf")
	require.NoError(t, os.WriteFile(jaas, []byte(fmt.Sprintf(`ZkClient {
  com.sun.security.auth.module.Krb5LoginModule required
  useKeyTab=true keyTab="%s" storeKey=true useTicketCache=false
  principal="amkeeper@%s";
};
`, amKT, kdctest.Realm)), 0o600))
	fromJAAS := connect(t, c, root, func(cfg *zkclient.Config) {
		cfg.SASL = &zkclient.SASLConfig{JAASFile: jaas, LoginContext: "ZkClient", Krb5Conf: kdc.Krb5Conf()}
	})
	data, _, err := fromJAAS.Get(ctx, "/owned")
	require.NoError(t, err)
	require.Equal(t, "am", string(data))

	eveKT := kdc.AddKeytab("eve")
	kdc.Remove("eve")
	begin := time.Now()
	_, err = zkclient.Connect(ctx, zkclient.Config{Servers: c.Addrs(), Root: root, SessionTimeout: 2 * time.Second, ConnectionTimeout: 20 * time.Second,
		SASL: &zkclient.SASLConfig{Kerberos: &zkclient.KerberosLogin{Principal: "eve", Keytab: eveKT, Krb5Conf: kdc.Krb5Conf()}}})
	require.ErrorIs(t, err, zkclient.ErrSASLFailed)
	require.ErrorContains(t, err, "as eve@"+kdctest.Realm+" with GSSAPI")
	require.Less(t, time.Since(begin), 10*time.Second)
}
