package conf

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestZooKeeperSASLSettings(t *testing.T) {
	// Nothing configured: no SASL.
	c := mustLoadYAML(t, zkBase)
	assert.False(t, c.ZooKeeperSASL().Enabled)
	assert.Equal(t, "Client", c.ZooKeeperSASL().LoginContext)
	assert.Equal(t, "zookeeper", c.ZooKeeperSASL().ServiceName)

	// A JAAS file from the environment turns it on and satisfies acl creator.
	dir := writeDir(t, map[string]string{FlinkConfFile: zkBase + "high-availability.zookeeper.client.acl: creator\n"})
	c, err := Load(Options{Dir: dir, LookupEnv: envOf(map[string]string{"AMKEEPER_ZK_JAAS_FILE": "/etc/amkeeper/jaas.conf"})})
	require.NoError(t, err)
	s := c.ZooKeeperSASL()
	assert.True(t, s.Enabled)
	assert.False(t, s.Kerberos)
	assert.Equal(t, "/etc/amkeeper/jaas.conf", s.JAASFile)
	assert.Equal(t, "env AMKEEPER_ZK_JAAS_FILE", c.Entry(ZKSASLJAASFile).Origin.String())

	// Kerberos for the Client context, Flink's way.
	c = mustLoadYAML(t, zkBase+"security.kerberos.login.keytab: /k/am.keytab\nsecurity.kerberos.login.principal: am@EXAMPLE.COM\n"+
		"security.kerberos.login.contexts: Client,KafkaClient\nzookeeper.sasl.service-name: zk\n")
	s = c.ZooKeeperSASL()
	assert.True(t, s.Enabled)
	assert.True(t, s.Kerberos)
	assert.Equal(t, "/k/am.keytab", s.Keytab)
	assert.Equal(t, "am@EXAMPLE.COM", s.Principal)
	assert.Equal(t, "zk", s.ServiceName)
	assert.Empty(t, c.Warnings())

	// zookeeper.sasl.disable wins, and says so.
	c = mustLoadYAML(t, zkBase+"zookeeper.sasl.disable: true\namkeeper.zookeeper.sasl.jaas-file: /j\n")
	assert.False(t, c.ZooKeeperSASL().Enabled)
	require.Len(t, c.Warnings(), 1)
	assert.Contains(t, c.Warnings()[0].String(), "zookeeper.sasl.disable: is true: the ZooKeeper client does not authenticate with SASL")
}

func TestZooKeeperSASLProblems(t *testing.T) {
	// A keytab without its principal.
	_, err, _ := loadYAML(t, zkBase+"security.kerberos.login.keytab: /k\nsecurity.kerberos.login.contexts: Client\n")
	ps := problemsOf(t, err)
	require.Len(t, ps, 1)
	assert.Equal(t, "security.kerberos.login.principal", ps[0].Key)
	assert.Contains(t, ps[0].Msg, "is required with security.kerberos.login.keytab")

	// No keytab and no ticket cache.
	_, err, _ = loadYAML(t, zkBase+"security.kerberos.login.use-ticket-cache: false\nsecurity.kerberos.login.contexts: Client\n")
	ps = problemsOf(t, err)
	require.Len(t, ps, 1)
	assert.Equal(t, "security.kerberos.login.keytab", ps[0].Key)

	// Kerberos keys that ZooKeeper does not use are not accepted silently.
	c := mustLoadYAML(t, zkBase+"security.kerberos.login.keytab: /k\nsecurity.kerberos.login.principal: p@R\n")
	assert.False(t, c.ZooKeeperSASL().Enabled)
	require.Len(t, c.Warnings(), 2)
	assert.Contains(t, c.Warnings()[0].String(), "is set but not used: the ZooKeeper login context Client is not in security.kerberos.login.contexts")

	// acl creator without any credentials still names both ways.
	_, err, _ = loadYAML(t, zkBase+"high-availability.zookeeper.client.acl: creator\n")
	ps = problemsOf(t, err)
	require.Len(t, ps, 1)
	assert.Contains(t, ps[0].Msg, "or configure SASL")
}
