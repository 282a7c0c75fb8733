package conf

import (
	"slices"
	"strings"
	"time"
)

// The generic accessors return an option's typed value: the configured one, else the
// default, else the zero value. Asked for an option of another type they return the
// zero value (String returns the text of any option). They never fail: Load has
// already reported invalid values, and replaced them with the defaults.

func (c *Config) parsed(o *Option) any {
	if s := c.values[o]; s != nil {
		return s.parsed
	}
	return nil
}

// String returns a string, enum or URI option's value; for other types, the
// effective text as written.
func (c *Config) String(o *Option) string {
	if v, ok := c.parsed(o).(string); ok {
		return v
	}
	if s := c.values[o]; s != nil && s.valid {
		return strings.TrimSpace(s.text)
	}
	return ""
}

// Int returns an int option's value.
func (c *Config) Int(o *Option) int {
	v, _ := c.parsed(o).(int)
	return v
}

// Bool returns a bool option's value.
func (c *Config) Bool(o *Option) bool {
	v, _ := c.parsed(o).(bool)
	return v
}

// Duration returns a duration option's value.
func (c *Config) Duration(o *Option) time.Duration {
	v, _ := c.parsed(o).(time.Duration)
	return v
}

// Ports returns a port-spec option's value (the any-port spec when unset).
func (c *Config) Ports(o *Option) PortSpec {
	v, _ := c.parsed(o).(PortSpec)
	return v
}

// MemorySize returns a memory-size option's value in bytes.
func (c *Config) MemorySize(o *Option) int64 {
	v, _ := c.parsed(o).(int64)
	return v
}

// Hosts returns a host-list option's entries as host:port.
func (c *Config) Hosts(o *Option) []string {
	v, _ := c.parsed(o).([]string)
	return slices.Clone(v)
}

// HAMode is high-availability.type.
func (c *Config) HAMode() HAMode {
	if v, _ := c.parsed(HAType).(string); v != "" {
		return HAMode(v)
	}
	return HANone
}

// StorageDir is high-availability.storageDir ("" when unset).
func (c *Config) StorageDir() string { return c.String(HAStorageDir) }

// Quorum is high-availability.zookeeper.quorum as host:port entries, ports filled in.
func (c *Config) Quorum() []string { return c.Hosts(ZKQuorum) }

// QuorumString is the quorum as a ZooKeeper connect string: host:port,host:port.
func (c *Config) QuorumString() string { return strings.Join(c.Quorum(), ",") }

// PathRoot is high-availability.zookeeper.path.root with one leading slash and no
// trailing slash: "/flink".
func (c *Config) PathRoot() string { return "/" + strings.Trim(c.String(ZKPathRoot), "/") }

// ClusterID is high-availability.cluster-id without leading or trailing slashes, ready
// to join to paths: "/cluster_one" gives "cluster_one".
func (c *Config) ClusterID() string { return strings.Trim(c.String(HAClusterID), "/") }

// ClusterPath is the znode under which this cluster's nodes live: PathRoot joined
// with ClusterID, "/flink/cluster_one".
func (c *Config) ClusterPath() string {
	root := c.PathRoot()
	if root == "/" {
		return "/" + c.ClusterID()
	}
	return root + "/" + c.ClusterID()
}

// SessionTimeout is high-availability.zookeeper.client.session-timeout.
func (c *Config) SessionTimeout() time.Duration { return c.Duration(ZKSessionTimeout) }

// ConnectionTimeout is high-availability.zookeeper.client.connection-timeout.
func (c *Config) ConnectionTimeout() time.Duration { return c.Duration(ZKConnectionTimeout) }

// RetryWait is high-availability.zookeeper.client.retry-wait.
func (c *Config) RetryWait() time.Duration { return c.Duration(ZKRetryWait) }

// MaxRetryAttempts is high-availability.zookeeper.client.max-retry-attempts.
func (c *Config) MaxRetryAttempts() int { return c.Int(ZKMaxRetryAttempts) }

// TolerateSuspendedConnections is high-availability.zookeeper.client.tolerate-suspended-connections.
func (c *Config) TolerateSuspendedConnections() bool { return c.Bool(ZKTolerateSuspendedConnections) }

// ACL is high-availability.zookeeper.client.acl.
func (c *Config) ACL() ACLMode {
	if v := c.String(ZKACL); v != "" {
		return ACLMode(v)
	}
	return ACLOpen
}

// Digest is amkeeper.zookeeper.digest, user:password ("" when unset). It is a
// secret: do not log it.
func (c *Config) Digest() string { return c.String(ZKDigest) }

// JobManagerPort is high-availability.jobmanager.port.
func (c *Config) JobManagerPort() PortSpec { return c.Ports(HAJobManagerPort) }

// ApplicationAttempts is yarn.application-attempts (default 2 with ZooKeeper HA, else 1).
func (c *Config) ApplicationAttempts() int { return c.Int(YarnApplicationAttempts) }

// AMMaxAttempts is yarn.resourcemanager.am.max-attempts.
func (c *Config) AMMaxAttempts() int { return c.Int(YarnAMMaxAttempts) }

// AttemptFailuresValidityInterval is yarn.application-attempt-failures-validity-interval;
// zero or negative means every failure counts.
func (c *Config) AttemptFailuresValidityInterval() time.Duration {
	return c.Duration(YarnAttemptFailuresValidityInterval)
}

// ContainersAcrossAttempts is amkeeper.containers.across-attempts: ContainersKeep or
// ContainersRestartAll.
func (c *Config) ContainersAcrossAttempts() string { return c.String(YarnContainersAcrossAttempts) }

// CheckpointsDir is state.checkpoints.dir ("" when unset).
func (c *Config) CheckpointsDir() string { return c.String(StateCheckpointsDir) }

// CheckpointsNumRetained is state.checkpoints.num-retained.
func (c *Config) CheckpointsNumRetained() int { return c.Int(StateCheckpointsNumRetained) }

// StateBackend is state.backend as written ("" when unset); amkeeper does not use it.
func (c *Config) StateBackend() string { return c.String(StateBackend) }

// CheckpointingInterval is execution.checkpointing.interval; ok is false when it is
// unset (or invalid), meaning checkpointing is disabled.
func (c *Config) CheckpointingInterval() (interval time.Duration, ok bool) {
	d := c.Duration(CheckpointingInterval)
	return d, d > 0
}

// CheckpointingTimeout is execution.checkpointing.timeout.
func (c *Config) CheckpointingTimeout() time.Duration { return c.Duration(CheckpointingTimeout) }

// RESTPort is rest.port.
func (c *Config) RESTPort() PortSpec { return c.Ports(RESTPort) }

// RESTPortUnset reports that neither rest.port nor rest.bind-port is set: a
// session then picks its REST port once and keeps it across attempts.
func (c *Config) RESTPortUnset() bool { return !c.IsSet(RESTPort) && !c.IsSet(RESTBindPort) }

// RESTAddress is rest.address, the advertised address.
func (c *Config) RESTAddress() string { return c.String(RESTAddress) }

// RESTBindAddress is rest.bind-address, or rest.address when it is unset.
func (c *Config) RESTBindAddress() string {
	if v := c.String(RESTBindAddress); v != "" {
		return v
	}
	return c.RESTAddress()
}

// MaxJobs is amkeeper.session.max-jobs.
func (c *Config) MaxJobs() int { return c.Int(MaxJobs) }

// TaskManagerMaxSlots is amkeeper.taskmanager.max-slots.
func (c *Config) TaskManagerMaxSlots() int { return c.Int(TaskManagerMaxSlots) }

// TaskManagerRegistrationTimeout is resourcemanager.taskmanager-registration.timeout.
func (c *Config) TaskManagerRegistrationTimeout() time.Duration {
	return c.Duration(TaskManagerRegistrationTimeout)
}

// TaskManagerSlots is taskmanager.numberOfTaskSlots.
func (c *Config) TaskManagerSlots() int { return c.Int(TaskManagerSlots) }

// JobManagerProcessSize is jobmanager.memory.process.size in bytes.
func (c *Config) JobManagerProcessSize() int64 { return c.MemorySize(JobManagerProcessSize) }

// TaskManagerProcessSize is taskmanager.memory.process.size in bytes.
func (c *Config) TaskManagerProcessSize() int64 { return c.MemorySize(TaskManagerProcessSize) }

// HeartbeatInterval is heartbeat.interval.
func (c *Config) HeartbeatInterval() time.Duration { return c.Duration(HeartbeatInterval) }

// HeartbeatTimeout is heartbeat.timeout.
func (c *Config) HeartbeatTimeout() time.Duration { return c.Duration(HeartbeatTimeout) }

// TaskManagerLeaderlessGrace is amkeeper.taskmanager.leaderless-grace.
func (c *Config) TaskManagerLeaderlessGrace() time.Duration {
	return c.Duration(TaskManagerLeaderlessGrace)
}

// Masters returns the hosts of conf/masters, or nil when there is no such file.
func (c *Config) Masters() []Master { return slices.Clone(c.src.masters) }

// ZooCfg returns a copy of the parsed conf/zoo.cfg, or nil when there is no such file.
func (c *Config) ZooCfg() *ZooCfg { return c.src.zoo.clone() }

// MetricsPromPort is metrics.reporter.prom.port; ok is false when it is unset
// (metrics are served on the process's own endpoint).
func (c *Config) MetricsPromPort() (spec PortSpec, ok bool) {
	if s := c.values[MetricsPromPort]; s == nil || !s.valid || strings.TrimSpace(s.text) == "" {
		return PortSpec{}, false
	}
	return c.Ports(MetricsPromPort), true
}

// MetricsPromHost is metrics.reporter.prom.host.
func (c *Config) MetricsPromHost() string { return c.String(MetricsPromHost) }
