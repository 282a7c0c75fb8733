package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSelectFaults(t *testing.T) {
	ensemble, hosts, err := selectFaults("tm-partition, ensemble,host-loss")
	require.NoError(t, err)
	assert.True(t, ensemble)
	var names []string
	for _, f := range hosts {
		names = append(names, f.name)
	}
	assert.Equal(t, []string{"host-loss", "tm-partition"}, names, "in the bench's order")

	ensemble, hosts, err = selectFaults("hdfs-partition")
	require.NoError(t, err)
	assert.False(t, ensemble)
	require.Len(t, hosts, 1)
	assert.True(t, hosts[0].hdfs)
	assert.True(t, hosts[0].outage)
}

func TestFaultsFlagIsValidated(t *testing.T) {
	for _, list := range []string{"host-lost", "", "ensemble,"} {
		_, msg, code := runApp(t, defaultOptions(), "--log-level", "warn", "faults", "--faults", list)
		assert.Equal(t, exitUsage, code, "%q", list)
		assert.Contains(t, msg, "--faults: unknown fault", "%q", list)
		assert.Contains(t, msg, "valid: ensemble, host-loss, leader-partition, tm-partition, hdfs-partition", "%q", list)
	}
}
