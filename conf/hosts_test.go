package conf

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHostKeysDefaultToLoopback: with no key set everything binds and publishes
// 127.0.0.1; each bind key falls back to its advertised key and back.
func TestHostKeysDefaultToLoopback(t *testing.T) {
	c := mustLoadYAML(t, "")
	assert.Equal(t, "127.0.0.1", c.JobManagerRPCAddress())
	assert.Equal(t, "127.0.0.1", c.JobManagerBindHost())
	assert.Equal(t, "127.0.0.1", c.TaskManagerBindHost())
	assert.Equal(t, "127.0.0.1", c.TaskManagerHost())
	assert.Equal(t, "0", c.JobManagerPort().String())
	assert.Equal(t, c.RESTPort(), c.RESTBindPort(), "rest.bind-port unset: rest.port")
	assert.Empty(t, c.Warnings(), warningText(c))

	c = mustLoadYAML(t, "jobmanager.rpc.address: 10.0.0.1\ntaskmanager.host: 10.0.0.2\nrest.bind-port: 50100-50200\n"+
		"high-availability.jobmanager.port: 50010,50011,50020-50025\n")
	assert.Equal(t, "10.0.0.1", c.JobManagerBindHost(), "jobmanager.bind-host unset: jobmanager.rpc.address")
	assert.Equal(t, "10.0.0.2", c.TaskManagerBindHost(), "taskmanager.bind-host unset: taskmanager.host")
	assert.Equal(t, "50100-50200", c.RESTBindPort().String())
	assert.Equal(t, "50010,50011,50020-50025", c.JobManagerPort().String())
	assert.Empty(t, c.Warnings(), "none of these keys is ignored any more: %s", warningText(c))

	c = mustLoadYAML(t, "jobmanager.bind-host: 0.0.0.0\ntaskmanager.bind-host: 0.0.0.0\n")
	assert.Equal(t, "0.0.0.0", c.JobManagerBindHost())
	assert.Equal(t, "127.0.0.1", c.JobManagerRPCAddress(), "binding every interface publishes loopback unless told otherwise")
	assert.Equal(t, "", c.TaskManagerHost(), "a wildcard bind host names no address: found from the route to the leader")
}

// TestAdvertisedHostsAreNotWildcards: a published address must be one another
// host can connect to; the error names the key and the value.
func TestAdvertisedHostsAreNotWildcards(t *testing.T) {
	_, err, _ := loadYAML(t, "jobmanager.rpc.address: 0.0.0.0\ntaskmanager.host: '::'\njobmanager.bind-host: 'a b'\n")
	require.Error(t, err)
	got := map[string]string{}
	for _, p := range problemsOf(t, err) {
		got[p.Key] = p.Value + ": " + p.Msg
	}
	assert.Contains(t, got["jobmanager.rpc.address"], "0.0.0.0: is a wildcard address")
	assert.Contains(t, got["taskmanager.host"], ":: is a wildcard address")
	assert.Contains(t, got["jobmanager.bind-host"], "a b: is not a host name or an IP address")
}

// taskmanager.rpc.port is honoured (the TaskManager binds it), not ignored with a
// warning: a port spec, as high-availability.jobmanager.port.
func TestTaskManagerRPCPortIsAPortSpec(t *testing.T) {
	c := mustLoadYAML(t, "taskmanager.rpc.port: 50100,50110-50112\n")
	assert.Equal(t, "50100,50110-50112", c.TaskManagerRPCPort().String())
	assert.Empty(t, c.Warnings(), "taskmanager.rpc.port is not ignored any more: %s", warningText(c))

	c = mustLoadYAML(t, "")
	assert.Equal(t, "0", c.TaskManagerRPCPort().String(), "any free port by default")
}
