package conf

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSecurityKeysWarn: the one security key not honoured warns; the
// security.ssl.* passwords warn that they are unused, and a family's stores set
// while it is off warn, naming the keys and where they were set and never a
// value; unset, they say nothing.
func TestSecurityKeysWarn(t *testing.T) {
	c := mustLoadYAML(t, "security.ssl.internal.enabled: false\n"+
		"security.ssl.rest.keystore: /etc/amkeeper/rest.pem\n"+
		"security.ssl.rest.truststore-password: hunter2\n",
		"high-availability.zookeeper.client.authorization=digest:u:p")
	var got []string
	for _, w := range c.Warnings() {
		got = append(got, w.String())
		assert.NotContains(t, w.String(), "hunter2")
	}
	require.Len(t, got, 3, "%q", got)
	assert.Contains(t, got[0], "flink-conf.yaml:2: security.ssl.rest.enabled: is false, so security.ssl.rest.keystore are not used: set security.ssl.rest.enabled: true")
	assert.Contains(t, got[1], "flink-conf.yaml:3: security.ssl.rest.truststore-password: is not used: amkeeper reads PEM stores with unencrypted keys only")
	assert.Contains(t, got[2], "-D: high-availability.zookeeper.client.authorization: is recognised but not honoured yet")
	assert.Equal(t, "******", c.Entry(SSLRESTTrustPass).Display())

	_, err, _ := loadYAML(t, "security.ssl.internal.keystore: certs/tm.pem\n")
	assert.Contains(t, problemsOf(t, err)[0].Error(), "security.ssl.internal.keystore")

	assert.Empty(t, mustLoadYAML(t, "high-availability.type: NONE\n").Warnings(), "unset keys say nothing")
	assert.Equal(t, SSL{Enabled: true, ClientAuth: true, KeyStore: "/k.pem", TrustStore: "/ca.pem"},
		mustLoadYAML(t, "security.ssl.rest.enabled: true\nsecurity.ssl.rest.authentication-enabled: true\n"+
			"security.ssl.rest.keystore: /k.pem\nsecurity.ssl.rest.truststore: /ca.pem\n").SSLREST())
}

// TestEverySecurityKeyIsAccountedFor: no key of the security families is accepted
// silently: a recognised one not honoured warns (listed by NotHonoured), any other
// key under security. is reported as unknown.
func TestEverySecurityKeyIsAccountedFor(t *testing.T) {
	var security []*Option // the security keys not honoured yet
	for _, o := range NotHonoured() {
		if slices.Contains(securityRegistry, o) {
			security = append(security, o)
		}
	}
	assert.Equal(t, []*Option{ZKClientAuthz}, security)
	c := mustLoadYAML(t, "security.ssl.protocol: TLSv1.3\n")
	require.Len(t, c.Warnings(), 1)
	assert.Contains(t, c.Warnings()[0].String(), "security.ssl.protocol: is not a key amkeeper knows")
}
