package conf

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestZooKeeperTLSKeys: ZooKeeper's own client keys are read from flink-conf.yaml
// (and -D) under their ZooKeeper names, with ZooKeeper's defaults.
func TestZooKeeperTLSKeys(t *testing.T) {
	c := mustLoadYAML(t, zkBase+
		"zookeeper.client.secure: true\n"+
		"zookeeper.ssl.keyStore.location: /etc/amkeeper/zk-client.pem\n"+
		"zookeeper.ssl.trustStore.location: /etc/amkeeper/zk-ca.pem\n"+
		"zookeeper.ssl.trustStore.type: PEM\n",
		"zookeeper.ssl.hostnameVerification=false")
	require.Equal(t, ZooKeeperTLS{
		Secure: true, KeyStore: "/etc/amkeeper/zk-client.pem",
		TrustStore: "/etc/amkeeper/zk-ca.pem", TrustStoreType: "PEM",
	}, c.ZooKeeperTLS())
	require.Empty(t, c.Warnings())

	def := mustLoadYAML(t, zkBase).ZooKeeperTLS()
	require.Equal(t, ZooKeeperTLS{HostnameVerification: true}, def, "plain TCP, hostname verification on by default")
}

// TestZooKeeperTLSChecks: a relative store path is refused (the processes run in
// directories of their own); keys with no effect are warned about by name.
func TestZooKeeperTLSChecks(t *testing.T) {
	_, err, _ := loadYAML(t, zkBase+"zookeeper.client.secure: true\nzookeeper.ssl.trustStore.location: certs/ca.pem\n")
	ps := problemsOf(t, err)
	require.Len(t, ps, 1)
	require.Equal(t, "zookeeper.ssl.trustStore.location", ps[0].Key)
	require.Contains(t, ps[0].Msg, "is not an absolute path")

	c := mustLoadYAML(t, zkBase+"zookeeper.ssl.keyStore.location: /k.pem\nzookeeper.ssl.keyStore.password: hunter2\n")
	var msgs []string
	for _, w := range c.Warnings() {
		msgs = append(msgs, w.String())
		require.NotContains(t, w.String(), "hunter2", "a password is never shown")
	}
	require.Len(t, msgs, 2, "%q", msgs)
	all := strings.Join(msgs, "\n")
	require.Contains(t, all, "flink-conf.yaml:5: zookeeper.ssl.keyStore.password: is not used: amkeeper reads PEM stores with unencrypted keys only")
	require.Contains(t, all, "flink-conf.yaml:4: zookeeper.client.secure: is false, so zookeeper.ssl.keyStore.location, zookeeper.ssl.keyStore.password are not used")
}
