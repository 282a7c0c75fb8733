package conf

import (
	"net/netip"
	"strings"
)

// GroupHosts holds the keys that decide what each process binds and what it
// publishes, so masters and TaskManagers can run on different hosts.
const GroupHosts Group = "Addresses and ports"

const hostsIntro = "What each process binds and what it publishes (in ZooKeeper, to TaskManagers and to clients). " +
	"Every default is loopback: nothing listens beyond this host unless one of these keys says so. The application " +
	"secret and TLS guard every listener whatever address it binds. docs/deployment.md says which ports to open."

// The address keys, as Flink names them.
var (
	JobManagerRPCAddress = &Option{
		key: "jobmanager.rpc.address", typ: TypeString, group: GroupHosts, def: "127.0.0.1", check: checkAdvertised,
		desc: "The address the application master publishes for its RPC endpoint (where TaskManagers register " +
			"and heartbeat): ZooKeeper's leader information names jobmanager.rpc.address:<bound port>. " +
			"It also binds there unless jobmanager.bind-host is set. A host name or an address, not a wildcard.",
	}
	JobManagerBindHost = &Option{
		key: "jobmanager.bind-host", typ: TypeString, group: GroupHosts, check: checkBindHost,
		defDoc: "jobmanager.rpc.address",
		desc: "The address the application master's RPC endpoint binds (0.0.0.0: every interface), on the first free " +
			"port of high-availability.jobmanager.port. It must be an address of this host.",
	}
	TaskManagerHost = &Option{
		key: "taskmanager.host", typ: TypeString, group: GroupHosts, check: checkAdvertised,
		defDoc: "taskmanager.bind-host; for a wildcard bind host, the address of the interface that reaches the leader",
		desc: "The address a TaskManager publishes to the leader for its commands (with its bound port). " +
			"A host name or an address, not a wildcard.",
	}
	TaskManagerBindHost = &Option{
		key: "taskmanager.bind-host", typ: TypeString, group: GroupHosts, check: checkBindHost,
		defDoc: "taskmanager.host, else 127.0.0.1",
		desc: "The address a TaskManager's command endpoint binds (0.0.0.0: every interface), on the first free " +
			"port of taskmanager.rpc.port. It must be an address of this host.",
	}
	TaskManagerRPCPort = &Option{
		key: "taskmanager.rpc.port", typ: TypePortSpec, group: GroupHosts, def: "0",
		desc: "The port (or ports to try, in order) of a TaskManager's command endpoint, where the leader deploys " +
			"tasks and triggers checkpoints: a port, a range or a comma-separated list such as 50100-50200; the " +
			"first free one is bound on taskmanager.bind-host and published to the leader. 0 picks a free port. " +
			"Give several TaskManagers on one host a range. Open these ports from the masters to the worker hosts.",
	}
	RESTBindPort = &Option{
		key: "rest.bind-port", typ: TypePortSpec, group: GroupREST, defDoc: "rest.port",
		desc: "As in Flink: the port (or ports to try, in order, e.g. 50100-50200) the REST endpoint binds, when it " +
			"differs from rest.port, the port clients are told; the AM publishes the port it bound. A port in " +
			"conf/masters overrides both for that master.",
	}
)

// checkAdvertised accepts what another host can connect to: a host name or an
// IP address, not a wildcard.
func checkAdvertised(v any) string {
	s, _ := v.(string)
	if msg := checkHost(s); msg != "" {
		return msg
	}
	if IsWildcardHost(s) {
		return "is a wildcard address, which no other host can connect to: want this host's name or address " +
			"(bind every interface with the matching bind-host key)"
	}
	return ""
}

// checkBindHost accepts a host name, an IP address or a wildcard.
func checkBindHost(v any) string {
	s, _ := v.(string)
	return checkHost(s)
}

func checkHost(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "is empty: want a host name or an IP address"
	}
	if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return ""
	}
	if err := checkHostName(s); err != nil {
		return "is not a host name or an IP address: " + err.Error()
	}
	return ""
}

// IsWildcardHost reports whether host is an unspecified address (0.0.0.0, ::),
// which binds every interface and names none.
func IsWildcardHost(host string) bool {
	a, err := netip.ParseAddr(strings.Trim(strings.TrimSpace(host), "[]"))
	return err == nil && a.IsUnspecified()
}

// JobManagerRPCAddress is jobmanager.rpc.address, the address the AM publishes
// for the TaskManagers.
func (c *Config) JobManagerRPCAddress() string { return c.String(JobManagerRPCAddress) }

// JobManagerBindHost is jobmanager.bind-host, or jobmanager.rpc.address when it
// is unset.
func (c *Config) JobManagerBindHost() string {
	if v := c.String(JobManagerBindHost); v != "" {
		return v
	}
	return c.JobManagerRPCAddress()
}

// TaskManagerBindHost is taskmanager.bind-host, else taskmanager.host, else
// 127.0.0.1.
func (c *Config) TaskManagerBindHost() string {
	if v := c.String(TaskManagerBindHost); v != "" {
		return v
	}
	if v := c.String(TaskManagerHost); v != "" {
		return v
	}
	return "127.0.0.1"
}

// TaskManagerRPCPort is taskmanager.rpc.port: the ports a TaskManager's command
// endpoint tries.
func (c *Config) TaskManagerRPCPort() PortSpec { return c.Ports(TaskManagerRPCPort) }

// TaskManagerHost is taskmanager.host, else the bind host; "" when neither names
// an address another host can connect to (a wildcard bind host): the TaskManager
// then publishes the address of the interface that reaches the leader.
func (c *Config) TaskManagerHost() string {
	if v := c.String(TaskManagerHost); v != "" {
		return v
	}
	if b := c.TaskManagerBindHost(); !IsWildcardHost(b) {
		return b
	}
	return ""
}

// RESTBindPort is the port spec the REST endpoint binds: rest.bind-port, else
// rest.port.
func (c *Config) RESTBindPort() PortSpec {
	if c.parsed(RESTBindPort) != nil {
		return c.Ports(RESTBindPort)
	}
	return c.RESTPort()
}
