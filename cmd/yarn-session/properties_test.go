package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPropertiesLeaveSecretsOut: the .yarn-properties file, in the shared temp
// directory, records the session's -D items but none of a secret key (the
// ZooKeeper digest, a TLS password); every other item is kept as given.
func TestPropertiesLeaveSecretsOut(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	sp := spec{AppID: "application_1_0001", TaskManagers: 2, Slots: 3, Dynamic: []string{
		"high-availability.cluster-id=prod",
		"amkeeper.zookeeper.digest=flink:hunter2",
		" security.ssl.rest.keystore-password =hunter3",
		"rest.port=0",
	}}
	require.NoError(t, writeProperties(sp))
	b, err := os.ReadFile(propertiesPath())
	require.NoError(t, err)
	assert.Equal(t, "#Generated YARN properties file\napplicationID=application_1_0001\nparallelism=6\n"+
		"dynamicPropertiesString=high-availability.cluster-id=prod@@rest.port=0\n", string(b))
}
