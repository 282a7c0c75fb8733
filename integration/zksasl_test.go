package integration_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/integration/kdctest"
	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/zkserver"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// setHA replaces (or adds) a -D property of the cli's HA arguments.
func setHA(c *cli, key, value string) {
	for i := 1; i < len(c.ha); i += 2 {
		if strings.HasPrefix(c.ha[i], key+"=") {
			c.ha[i] = key + "=" + value
			return
		}
	}
	c.ha = append(c.ha, "-D", key+"="+value)
}

// TestSessionOnASASLDigestZooKeeper runs a job session against a ZooKeeper that
// refuses every request from a connection not authenticated with SASL: the AM,
// the TaskManagers and the CLI log in with DIGEST-MD5 from a JAAS file named in
// AMKEEPER_ZK_JAAS_FILE; see saslSession for the rest.
func TestSessionOnASASLDigestZooKeeper(t *testing.T) {
	srv, err := zkserver.WriteSASLDigest(t.TempDir(), map[string]string{"amkeeper": "am-secret", "mallory": "m-secret"}, true)
	require.NoError(t, err)
	zkSASL := zktest.Start(t, zktest.WithConfig(srv.ZooCfg...), zktest.WithJVMFlags(srv.JVMFlags...))
	jaas := filepath.Join(t.TempDir(), "jaas.conf")
	require.NoError(t, os.WriteFile(jaas, []byte(`Client {
  org.apache.zookeeper.server.auth.DigestLoginModule required
  username="amkeeper"
  password="am-secret";
};
`), 0o600))
	saslSession(t, zkSASL, "amkeeper",
		zkclient.SASLDialer(nil, zkclient.DigestMD5{User: "amkeeper", Password: "am-secret"}),
		zkclient.SASLDialer(nil, zkclient.DigestMD5{User: "mallory", Password: "m-secret"}),
		func(c *cli) { c.env = append(c.env, "AMKEEPER_ZK_JAAS_FILE="+jaas) }, "am-secret")
}

// TestSessionOnAKerberosZooKeeper is the same against a Kerberos ZooKeeper (a
// real MIT KDC with a throwaway realm): the session logs in with Flink's keys,
// security.kerberos.login.keytab/principal for the login context Client.
func TestSessionOnAKerberosZooKeeper(t *testing.T) {
	kdc := kdctest.Start(t)
	srv, err := zkserver.WriteSASLKerberos(t.TempDir(), kdc.AddKeytab("zookeeper/localhost"), "zookeeper/localhost@"+kdctest.Realm, kdc.Krb5Conf(), true)
	require.NoError(t, err)
	zkKrb := zktest.Start(t, zktest.WithConfig(srv.ZooCfg...), zktest.WithJVMFlags(srv.JVMFlags...))
	amKT, malloryKT := kdc.AddKeytab("amkeeper"), kdc.AddKeytab("mallory")
	dialer := func(principal, kt string) zk.Dialer {
		d, err := (&zkclient.SASLConfig{Kerberos: &zkclient.KerberosLogin{Principal: principal, Keytab: kt, Krb5Conf: kdc.Krb5Conf()}}).Dialer(nil)
		require.NoError(t, err)
		return d
	}
	saslSession(t, zkKrb, "amkeeper@"+kdctest.Realm, dialer("amkeeper", amKT), dialer("mallory", malloryKT), func(c *cli) {
		setHA(c, "security.kerberos.login.keytab", amKT)
		setHA(c, "security.kerberos.login.principal", "amkeeper@"+kdctest.Realm)
		setHA(c, "security.kerberos.login.contexts", "Client")
		setHA(c, "security.kerberos.krb5-conf.path", kdc.Krb5Conf())
	}, "")
}

// saslSession runs a job session against zkc with acl creator, its login set up
// by login: the cluster's znodes belong to sasl:<owner>, another SASL identity
// (other) can neither list nor delete them, the AM is killed, the supervisor
// closes its session over SASL (fast fencing, no error), and the next attempt
// recovers the job with exact output. secret, if set, must appear in no log.
func saslSession(t *testing.T, zkc *zktest.Cluster, owner string, ownerDial, otherDial zk.Dialer, login func(*cli), secret string) {
	root := zkc.Root(t)
	c, id, client, _, st := jobSessionWith(t, 1, func(c *cli) {
		setHA(c, "high-availability.zookeeper.quorum", zkc.ConnectString())
		setHA(c, "high-availability.zookeeper.path.root", root)
		setHA(c, "high-availability.zookeeper.client.acl", "creator")
		login(c)
	}, fastCounting)
	require.Eventually(t, func() bool { return len(committed(t, st, "counts")) >= 3 }, 60*time.Second, 20*time.Millisecond)

	cluster := root + "/" + c.haValue("high-availability.cluster-id")
	own := zkc.ConnDialer(t, ownerDial)
	names, _, err := own.Children(cluster)
	require.NoError(t, err)
	require.NotEmpty(t, names)
	for _, n := range append(names, "") {
		p := strings.TrimSuffix(cluster+"/"+n, "/")
		acl, _, err := own.GetACL(p)
		require.NoError(t, err, p)
		require.Equal(t, []zk.ACL{{Perms: zk.PermAll, Scheme: "sasl", ID: owner}}, acl, p)
	}
	other := zkc.ConnDialer(t, otherDial)
	_, _, err = other.Children(cluster)
	require.ErrorIs(t, err, zk.ErrNoAuth)
	require.ErrorIs(t, other.Delete(cluster+"/"+names[0], -1), zk.ErrNoAuth)

	n := len(committed(t, st, "counts"))
	_, err = client.KillAM(context.Background())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		st, err := client.Status(context.Background())
		return err == nil && st.Attempt == 2 && leaderOf(client) != ""
	}, 60*time.Second, 20*time.Millisecond, "attempt 2 leads")
	require.Eventually(t, func() bool { return len(committed(t, st, "counts")) >= n+3 }, 60*time.Second, 20*time.Millisecond,
		"the job runs on under the next AM")
	requireExactCounts(t, committed(t, st, "counts"), n+3)

	// The supervisor closed the dead AM's session through SASL, without an error.
	logs, _ := filepath.Glob(filepath.Join(appDirFor(c, id), "*.log"))
	more, _ := filepath.Glob(filepath.Join(appDirFor(c, id), "*", "*", "*.log"))
	var fenced []string
	for _, f := range append(logs, more...) {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		if secret != "" {
			require.NotContains(t, string(b), secret, f)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "closed the dead attempt's zookeeper session") {
				fenced = append(fenced, l)
			}
		}
	}
	require.Len(t, fenced, 1, "one fencing of attempt 1 in %v", logs)
	require.Contains(t, fenced[0], `"level":"info"`)
	require.NotContains(t, fenced[0], `"error"`)
}
