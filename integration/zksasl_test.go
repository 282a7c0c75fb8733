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
// AMKEEPER_ZK_JAAS_FILE, the cluster's znodes belong to sasl:amkeeper (acl
// creator), another SASL user can neither read nor delete them, the AM is
// killed, the supervisor closes its session over SASL (fast fencing), and the
// next attempt recovers the job with exact output.
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
	root := zkSASL.Root(t)

	c, id, client, _, st := jobSessionWith(t, 1, func(c *cli) {
		setHA(c, "high-availability.zookeeper.quorum", zkSASL.ConnectString())
		setHA(c, "high-availability.zookeeper.path.root", root)
		setHA(c, "high-availability.zookeeper.client.acl", "creator")
		c.env = append(c.env, "AMKEEPER_ZK_JAAS_FILE="+jaas)
	}, fastCounting)
	require.Eventually(t, func() bool { return len(committed(t, st, "counts")) >= 3 }, 60*time.Second, 20*time.Millisecond)

	cluster := root + "/" + c.haValue("high-availability.cluster-id")
	owner := zkSASL.ConnDialer(t, zkclient.SASLDialer(nil, zkclient.DigestMD5{User: "amkeeper", Password: "am-secret"}))
	names, _, err := owner.Children(cluster)
	require.NoError(t, err)
	require.NotEmpty(t, names)
	for _, n := range append(names, "") {
		p := strings.TrimSuffix(cluster+"/"+n, "/")
		acl, _, err := owner.GetACL(p)
		require.NoError(t, err, p)
		require.Equal(t, []zk.ACL{{Perms: zk.PermAll, Scheme: "sasl", ID: "amkeeper"}}, acl, p)
	}
	mallory := zkSASL.ConnDialer(t, zkclient.SASLDialer(nil, zkclient.DigestMD5{User: "mallory", Password: "m-secret"}))
	_, _, err = mallory.Children(cluster)
	require.ErrorIs(t, err, zk.ErrNoAuth)
	require.ErrorIs(t, mallory.Delete(cluster+"/"+names[0], -1), zk.ErrNoAuth)

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
	var fenced []string
	for _, f := range logs {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "closed the dead attempt's zookeeper session") {
				fenced = append(fenced, l)
			}
		}
	}
	require.Len(t, fenced, 1, "one fencing of attempt 1 in %v", logs)
	require.Contains(t, fenced[0], `"level":"info"`)
	require.NotContains(t, fenced[0], `"error"`)
	require.NotContains(t, strings.Join(fenced, ""), "am-secret")
}
