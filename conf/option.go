package conf

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Type is the value type of an Option. It decides how a value is parsed, which
// generic accessor returns it, and how the reference documents it.
type Type int

// The option types.
const (
	TypeString     Type = iota + 1 // any text
	TypeInt                        // a decimal integer
	TypeBool                       // true or false (case-insensitive)
	TypeDuration                   // see ParseDuration; a plain number is milliseconds
	TypeEnum                       // one of a fixed set of words (case-insensitive)
	TypePortSpec                   // see ParsePortSpec: 0, 50010, 50000-50025, lists
	TypeMemorySize                 // see ParseMemorySize; a plain number is bytes
	TypeURI                        // a file:// or hdfs:// URI
	TypeHostList                   // comma-separated host[:port] entries
)

var typeNames = map[Type]string{
	TypeString:     "string",
	TypeInt:        "int",
	TypeBool:       "bool",
	TypeDuration:   "duration",
	TypeEnum:       "enum",
	TypePortSpec:   "port spec",
	TypeMemorySize: "memory size",
	TypeURI:        "URI",
	TypeHostList:   "host list",
}

// String names the type as the reference and the CLI listing show it.
func (t Type) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Group names a section of the configuration reference.
type Group string

// The option groups, in the order the reference shows them.
const (
	GroupHA         Group = "High availability"
	GroupZooKeeper  Group = "ZooKeeper client"
	GroupYARN       Group = "YARN application attempts"
	GroupCheckpoint Group = "Checkpoints and state"
	GroupREST       Group = "REST endpoint"
	GroupResources  Group = "Cluster resources"
	GroupHeartbeat  Group = "Heartbeats"
)

var groupOrder = []Group{GroupHA, GroupZooKeeper, GroupYARN, GroupCheckpoint, GroupHosts, GroupREST, GroupResources, GroupHeartbeat, GroupSecurity}

var groupIntro = map[Group]string{
	GroupHA:         "Whether the application master is highly available, and where its recovery data lives.",
	GroupZooKeeper:  "How the application master and TaskManagers reach the ZooKeeper ensemble that elects the leader and holds the recovery pointers.",
	GroupYARN:       "The restart budget of the application master: how many attempts it gets, and what happens to TaskManager containers between attempts.",
	GroupCheckpoint: "Where checkpoints are written, how often, and how many are kept. The checkpoint metadata is what a new attempt recovers from.",
	GroupREST:       "The REST endpoint of the application master.",
	GroupResources:  "Sizes and timeouts of the JobManager and TaskManager processes.",
	GroupHeartbeat:  "Heartbeats between the application master and TaskManagers.",
	GroupHosts:      hostsIntro,
	GroupSecurity:   securityIntro,
}

// Option describes one configuration key. Options are immutable values built into
// the package; Registry lists them all. Use an Option with the Config accessors
// (c.Duration(conf.ZKSessionTimeout)) or read its description for help output.
type Option struct {
	key        string
	typ        Type
	group      Group
	def        string // default as text; "" when the option has no static default
	defDoc     string // how the reference describes a computed default
	desc       string
	deprecated []string            // older names, highest priority first
	env        string              // environment variable read for this option, if any
	secret     bool                // never shown by Display or in problems
	enum       []string            // TypeEnum: the valid words, canonical spelling
	enumAlias  map[string]string   // TypeEnum: older words (lower case) and the word they mean
	enumHint   func(string) string // TypeEnum: extra advice for an invalid word, or ""
	min        *int64              // TypeInt: smallest valid value
	signed     bool                // TypeDuration: negative and zero values are valid
	// check validates a parsed value beyond its type; it returns "" when the value
	// is fine and otherwise a message phrased as a predicate ("is not ...").
	check func(parsed any) string
	// notHonoured, when set, says why amkeeper does not act on the key yet: Load
	// warns when it is set (conf/security.go).
	notHonoured string
	// defFn computes the default from options resolved earlier in the registry
	// (the high-availability type) and from Options.ApplicationID.
	defFn func(r *resolver) string
}

// Key is the option's current name.
func (o *Option) Key() string { return o.key }

// Type is the option's value type.
func (o *Option) Type() Type { return o.typ }

// Group is the reference section the option belongs to.
func (o *Option) Group() Group { return o.group }

// Default is the default value as text, or how it is computed (for example
// "2 when high-availability.type is zookeeper, else 1"), or "" when there is none.
func (o *Option) Default() string {
	if o.defDoc != "" {
		return o.defDoc
	}
	return o.def
}

// Description says what the option does.
func (o *Option) Description() string { return o.desc }

// Deprecated lists the older names still read for this option, highest priority first.
func (o *Option) Deprecated() []string { return slices.Clone(o.deprecated) }

// Env is the environment variable that sets the option, or "".
func (o *Option) Env() string { return o.env }

// Secret reports whether the value must never be printed.
func (o *Option) Secret() bool { return o.secret }

// Values lists the valid words of an enum option; nil for other types.
func (o *Option) Values() []string { return slices.Clone(o.enum) }

// String returns the key.
func (o *Option) String() string { return o.key }

func minOf(v int64) *int64 { return &v }

// HAMode is the high-availability mode.
type HAMode string

// The high-availability modes amkeeper implements.
const (
	HANone      HAMode = "NONE"      // one attempt at a time, state in memory, embedded leader election
	HAZooKeeper HAMode = "zookeeper" // leader election and recovery pointers in ZooKeeper
)

// ACLMode is how znodes created by amkeeper are protected.
type ACLMode string

// The ZooKeeper ACL modes (Flink's high-availability.zookeeper.client.acl).
const (
	ACLOpen    ACLMode = "open"    // world-readable and world-writable znodes
	ACLCreator ACLMode = "creator" // only the creating (digest-authenticated) user may access them
)

// The values of amkeeper.containers.across-attempts.
const (
	ContainersKeep       = "keep"        // TaskManager containers survive an AM failure (YARN >= 2.4)
	ContainersRestartAll = "restart-all" // every container is restarted with the AM (YARN 2.3)
)

// The registered options. Each is immutable; Registry lists them in reference order.
var (
	HAType = &Option{
		key: "high-availability.type", typ: TypeEnum, group: GroupHA, def: string(HANone),
		enum:       []string{string(HANone), string(HAZooKeeper)},
		enumAlias:  map[string]string{"standalone": string(HANone)},
		enumHint:   haTypeHint,
		deprecated: []string{"high-availability", "recovery.mode"},
		desc: "The high-availability mode: NONE runs one application master without recovery; zookeeper elects " +
			"the leader through ZooKeeper and recovers jobs and checkpoints after a failure. Case-insensitive. " +
			"The old value standalone means NONE.",
	}
	HAStorageDir = &Option{
		key: "high-availability.storageDir", typ: TypeURI, group: GroupHA,
		deprecated: []string{"high-availability.zookeeper.storageDir", "recovery.zookeeper.storageDir", "high-availability.storage-dir"},
		desc: "Where job graphs, checkpoint metadata and job results are persisted (file:// or hdfs://); ZooKeeper only holds " +
			"pointers into it. Required when high-availability.type is zookeeper.",
	}
	HAClusterID = &Option{
		key: "high-availability.cluster-id", typ: TypeString, group: GroupHA,
		defDoc:     "the YARN application ID, or /default without one",
		deprecated: []string{"high-availability.zookeeper.path.namespace", "recovery.zookeeper.path.namespace", "zookeeper.cluster-id"},
		defFn: func(r *resolver) string {
			if r.appID != "" {
				return r.appID
			}
			return "/default"
		},
		check: checkZKPath(false),
		desc: "Separates this cluster's znodes and files from other clusters sharing the same ZooKeeper root and " +
			"storage directory. Leading and trailing slashes are ignored.",
	}
	HAJobManagerPort = &Option{
		key: "high-availability.jobmanager.port", typ: TypePortSpec, group: GroupHosts, def: "0",
		deprecated: []string{"recovery.jobmanager.port"},
		desc: "The port (or ports to try, in order) of the application master's RPC endpoint, where TaskManagers " +
			"register and heartbeat: a port, a range or a comma-separated list such as " +
			"50010,50011,50020-50025; the first free one is bound on jobmanager.bind-host and published in " +
			"ZooKeeper. 0 picks a free port. Open these ports between the masters and the TaskManager hosts.",
	}

	ZKQuorum = &Option{
		key: "high-availability.zookeeper.quorum", typ: TypeHostList, group: GroupZooKeeper,
		deprecated: []string{"recovery.zookeeper.quorum", "zookeeper.address"},
		desc: "The ZooKeeper servers as comma-separated host:port entries (IPv6 in brackets); a missing port " +
			"means 2181. Required when high-availability.type is zookeeper. A chroot suffix is not accepted: " +
			"use high-availability.zookeeper.path.root.",
	}
	ZKPathRoot = &Option{
		key: "high-availability.zookeeper.path.root", typ: TypeString, group: GroupZooKeeper, def: "/flink",
		deprecated: []string{"recovery.zookeeper.path.root", "zookeeper.path.root"},
		check:      checkZKPath(true),
		desc:       "The root znode under which every cluster's znodes are placed.",
	}
	ZKSessionTimeout = &Option{
		key: "high-availability.zookeeper.client.session-timeout", typ: TypeDuration, group: GroupZooKeeper, def: "60000 ms",
		deprecated: []string{"recovery.zookeeper.client.session-timeout"},
		desc: "The ZooKeeper session timeout. The server clamps it to [minSessionTimeout, maxSessionTimeout] " +
			"(by default 2 and 20 ticks) and the session runs with the granted timeout; when a zoo.cfg sits next to " +
			"flink-conf.yaml, a value outside its bounds is a warning naming the timeout the server grants.",
	}
	ZKConnectionTimeout = &Option{
		key: "high-availability.zookeeper.client.connection-timeout", typ: TypeDuration, group: GroupZooKeeper, def: "15000 ms",
		deprecated: []string{"recovery.zookeeper.client.connection-timeout"},
		desc:       "How long to wait for a connection to ZooKeeper before retrying.",
	}
	ZKRetryWait = &Option{
		key: "high-availability.zookeeper.client.retry-wait", typ: TypeDuration, group: GroupZooKeeper, def: "5000 ms",
		deprecated: []string{"recovery.zookeeper.client.retry-wait", "zookeeper.retry-delay"},
		desc:       "The pause between attempts to reach ZooKeeper.",
	}
	ZKMaxRetryAttempts = &Option{
		key: "high-availability.zookeeper.client.max-retry-attempts", typ: TypeInt, group: GroupZooKeeper, def: "3",
		min:        minOf(0),
		deprecated: []string{"recovery.zookeeper.client.max-retry-attempts", "zookeeper.retry-count"},
		desc:       "How many times a failed ZooKeeper operation is retried before the error is reported.",
	}
	ZKTolerateSuspendedConnections = &Option{
		key: "high-availability.zookeeper.client.tolerate-suspended-connections", typ: TypeBool, group: GroupZooKeeper, def: "false",
		desc: "When true, leadership is given up only when the ZooKeeper session is lost, not as soon as the " +
			"connection is suspended. More resilient to network blips, with a higher risk of two leaders for a moment " +
			"(writes stay fenced).",
	}
	ZKACL = &Option{
		key: "high-availability.zookeeper.client.acl", typ: TypeEnum, group: GroupZooKeeper, def: string(ACLOpen),
		enum:       []string{string(ACLOpen), string(ACLCreator)},
		deprecated: []string{"recovery.zookeeper.client.acl"},
		desc: "The ACL of created znodes: open (anyone) or creator (only the identity the client authenticated " +
			"as: the SASL user or Kerberos principal when SASL is configured, else the amkeeper.zookeeper.digest user).",
	}
	ZKDigest = &Option{
		key: "amkeeper.zookeeper.digest", typ: TypeString, group: GroupZooKeeper, env: "AMKEEPER_ZK_DIGEST", secret: true,
		check: checkDigest,
		desc: "user:password for ZooKeeper digest authentication. Required when high-availability.zookeeper.client.acl " +
			"is creator. Secret: never printed; prefer the environment variable to the file.",
	}

	YarnApplicationAttempts = &Option{
		key: "yarn.application-attempts", typ: TypeInt, group: GroupYARN, min: minOf(1),
		defDoc: "2 when high-availability.type is zookeeper, else 1",
		defFn: func(r *resolver) string {
			if r.haMode() == HAZooKeeper {
				return "2"
			}
			return "1"
		},
		desc: "How many times the application master may be started (the first attempt included). Capped by " +
			"yarn.resourcemanager.am.max-attempts.",
	}
	YarnAMMaxAttempts = &Option{
		key: "yarn.resourcemanager.am.max-attempts", typ: TypeInt, group: GroupYARN, def: "2", min: minOf(1),
		desc: "The cluster-wide upper bound on application master attempts: the ResourceManager's setting, " +
			"and the supervisor plays the ResourceManager. It is read from yarn-site.xml in YARN_CONF_DIR, else " +
			"HADOOP_CONF_DIR, as YARN reads it; flink-conf.yaml, the environment and -D override that (with a " +
			"warning naming yarn-site.xml when the values differ), because they configure this session's supervisor.",
	}
	YarnAttemptFailuresValidityInterval = &Option{
		key: "yarn.application-attempt-failures-validity-interval", typ: TypeDuration, group: GroupYARN, def: "10000 ms",
		signed: true,
		desc: "Only attempt failures within this sliding window count against yarn.application-attempts; older " +
			"ones are forgiven. 0 or a negative value disables the window: every failure counts.",
	}
	YarnContainersAcrossAttempts = &Option{
		key: "amkeeper.containers.across-attempts", typ: TypeEnum, group: GroupYARN, def: ContainersKeep,
		enum: []string{ContainersKeep, ContainersRestartAll},
		desc: "What happens to TaskManager containers when the application master fails: keep them for the next " +
			"attempt (YARN 2.4 and later) or restart all of them (YARN 2.3).",
	}
	AttemptBackoffInitial = &Option{
		key: "amkeeper.attempts.backoff.initial", typ: TypeDuration, group: GroupYARN, def: "1 s", signed: true,
		desc: "Crash-loop backoff: an attempt that fails sooner than amkeeper.attempts.backoff.min-uptime after its " +
			"start is a crash. The first crash in a row is restarted at once (a failover stays fast); the second waits " +
			"this long, each further one twice as long as the one before, up to amkeeper.attempts.backoff.max. An " +
			"attempt that lived longer, or ended any other way, resets the count. 0 restarts every attempt at once.",
	}
	AttemptBackoffMax = &Option{
		key: "amkeeper.attempts.backoff.max", typ: TypeDuration, group: GroupYARN, def: "60 s",
		desc: "The longest crash-loop backoff wait (see amkeeper.attempts.backoff.initial).",
	}
	AttemptBackoffMinUptime = &Option{
		key: "amkeeper.attempts.backoff.min-uptime", typ: TypeDuration, group: GroupYARN, def: "10 s",
		desc: "An attempt that fails sooner than this after its start counts as a crash for the backoff; one that " +
			"lived at least this long resets it (see amkeeper.attempts.backoff.initial).",
	}
	SessionStartTimeout = &Option{
		key: "amkeeper.session.start-timeout", typ: TypeDuration, group: GroupYARN, def: "120 s",
		desc: "How long yarn-session -d waits for the application master to lead before it gives up: it then " +
			"stops the session and exits non-zero with the cause from the last attempt's am.log. A session whose " +
			"attempts end the application earlier fails at once.",
	}

	StateCheckpointsDir = &Option{
		key: "state.checkpoints.dir", typ: TypeURI, group: GroupCheckpoint,
		deprecated: []string{"state.backend.fs.checkpointdir"},
		desc: "Where the TaskManagers' checkpoint state is written (file:// or hdfs://): " +
			"<dir>/<cluster-id>/state/<job-id>/chk-<n>/subtask-<i>. Checkpoint metadata, job graphs and results stay " +
			"in high-availability.storageDir, which also holds the task state when this is unset.",
	}
	StateCheckpointsNumRetained = &Option{
		key: "state.checkpoints.num-retained", typ: TypeInt, group: GroupCheckpoint, def: "1", min: minOf(1),
		desc: "How many completed checkpoints are kept per job.",
	}
	StateBackend = &Option{
		key: "state.backend", typ: TypeString, group: GroupCheckpoint,
		desc: "Accepted for compatibility with older configurations: amkeeper always keeps state in memory and " +
			"snapshots it to files. Values other than filesystem or hashmap are reported as a warning.",
	}
	CheckpointingInterval = &Option{
		key: "execution.checkpointing.interval", typ: TypeDuration, group: GroupCheckpoint,
		desc: "How often checkpoints are triggered. Unset disables checkpointing.",
	}
	CheckpointingTimeout = &Option{
		key: "execution.checkpointing.timeout", typ: TypeDuration, group: GroupCheckpoint, def: "10 min",
		desc: "A checkpoint not complete within this time is discarded.",
	}

	RESTPort = &Option{
		key: "rest.port", typ: TypePortSpec, group: GroupREST, def: "8081",
		desc: "The port (or ports to try, in order) of the REST endpoint. 0 picks a free port. A port in " +
			"conf/masters overrides it for that master. A yarn-session session without rest.port and rest.bind-port " +
			"does not use the default: it picks a free port once and keeps it (as Flink on YARN binds an ephemeral port).",
	}
	MetricsPromPort = &Option{
		key: "metrics.reporter.prom.port", typ: TypePortSpec, group: GroupREST,
		desc: "As Flink's PrometheusReporter: the port (or range, e.g. 9250-9260) of a separate Prometheus " +
			"listener in each process; the AM and the supervisor each bind the first free one on " +
			"metrics.reporter.prom.host. Unset: the AM serves /metrics on its REST endpoint and the supervisor " +
			"on its control socket. Other metrics.reporter.* keys are not used and are warned about.",
	}
	MetricsPromHost = &Option{
		key: "metrics.reporter.prom.host", typ: TypeString, group: GroupREST, def: "127.0.0.1",
		desc: "The address the metrics.reporter.prom.port listeners bind (0.0.0.0: every interface).",
	}
	MetricsPromFactory = &Option{
		key: "metrics.reporter.prom.factory.class", typ: TypeEnum, group: GroupREST,
		enum: []string{"org.apache.flink.metrics.prometheus.PrometheusReporterFactory"},
		desc: "Accepted as Flink writes it; amkeeper's reporter is always Prometheus (any other reporter is refused).",
	}
	RESTAddress = &Option{
		key: "rest.address", typ: TypeString, group: GroupREST, def: "127.0.0.1",
		desc: "The address the REST endpoint advertises (in ZooKeeper, to the CLI and to TaskManagers); it also " +
			"binds there unless rest.bind-address is set.",
	}
	RESTBindAddress = &Option{
		key: "rest.bind-address", typ: TypeString, group: GroupREST,
		desc: "The address the REST endpoint binds, as in Flink (0.0.0.0: every interface). Unset: rest.address, " +
			"so the default stays loopback.",
	}
	MaxJobs = &Option{
		key: "amkeeper.session.max-jobs", typ: TypeInt, group: GroupREST, def: "1000", min: minOf(1),
		desc: "The most jobs a session runs at once; a submission beyond it is refused (409) naming this key.",
	}

	TaskManagerRegistrationTimeout = &Option{
		key: "resourcemanager.taskmanager-registration.timeout", typ: TypeDuration, group: GroupResources, def: "5 min",
		desc: "How long a started TaskManager has to register before its container is released.",
	}
	TaskManagerMaxSlots = &Option{
		key: "amkeeper.taskmanager.max-slots", typ: TypeInt, group: GroupResources, def: "256", min: minOf(1),
		desc: "The most slots one TaskManager may offer: a registration claiming more is refused, and so is a " +
			"session started with more slots per TaskManager (-s, taskmanager.numberOfTaskSlots).",
	}
	TaskManagerSlots = &Option{
		key: "taskmanager.numberOfTaskSlots", typ: TypeInt, group: GroupResources, def: "1", min: minOf(1),
		desc: "The number of task slots each TaskManager offers.",
	}
	JobManagerProcessSize = &Option{
		key: "jobmanager.memory.process.size", typ: TypeMemorySize, group: GroupResources, def: "1600m",
		desc: "The memory of the JobManager (application master) process, as passed with -jm: the AM process's " +
			"GOMEMLIMIT is derived from it, as each TaskManager's is from taskmanager.memory.process.size.",
	}
	TaskManagerProcessSize = &Option{
		key: "taskmanager.memory.process.size", typ: TypeMemorySize, group: GroupResources, def: "1728m",
		desc: "The memory of each TaskManager process, as passed with -tm.",
	}

	HeartbeatInterval = &Option{
		key: "heartbeat.interval", typ: TypeDuration, group: GroupHeartbeat, def: "10000 ms",
		desc: "How often heartbeats are sent.",
	}
	HeartbeatTimeout = &Option{
		key: "heartbeat.timeout", typ: TypeDuration, group: GroupHeartbeat, def: "50000 ms",
		desc: "A peer that has not answered a heartbeat for this long is considered dead. Must exceed heartbeat.interval.",
	}
	TaskManagerLeaderlessGrace = &Option{
		key: "amkeeper.taskmanager.leaderless-grace", typ: TypeDuration, group: GroupHeartbeat,
		defDoc: "heartbeat.timeout", signed: true,
		check: func(parsed any) string {
			if d, _ := parsed.(time.Duration); d < 0 {
				return "is negative: want 0 (cancel the tasks as soon as the leader goes) or a positive duration"
			}
			return ""
		},
		defFn: func(r *resolver) string {
			if v := r.values[HeartbeatTimeout]; v != nil && v.valid {
				return v.text
			}
			return HeartbeatTimeout.def
		},
		desc: "How long a TaskManager keeps running its tasks while it knows no leader (the AM is being replaced): " +
			"they keep processing, checkpoints pause, sinks keep their output invisible, and the next leader adopts " +
			"them without a restore. After this long with no leader the tasks are canceled and the next leader " +
			"restores the jobs from their latest checkpoint. 0: cancel at once (no adoption).",
	}
)

// registry is the table every accessor, check, listing and reference derives from.
// Order matters: options whose default is computed come after the options they read
// (yarn.application-attempts after high-availability.type).
var registry = slices.Concat([]*Option{
	HAType, HAStorageDir, HAClusterID,
	ZKQuorum, ZKPathRoot, ZKSessionTimeout, ZKConnectionTimeout, ZKRetryWait, ZKMaxRetryAttempts,
	ZKTolerateSuspendedConnections, ZKACL, ZKDigest,
	ZKClientSecure, ZKSSLKeyStoreLocation, ZKSSLKeyStoreType, ZKSSLKeyStorePassword, // conf/zktls.go
	ZKSSLTrustStoreLocation, ZKSSLTrustStoreType, ZKSSLTrustStorePassword, ZKSSLHostnameVerification,
	ZKSASLDisable, ZKSASLServiceName, ZKSASLLoginContext, ZKSASLJAASFile,
	KerberosKeytab, KerberosPrincipal, KerberosUseTicketCache, KerberosContexts, KerberosKrb5Conf,
	YarnApplicationAttempts, YarnAMMaxAttempts, YarnAttemptFailuresValidityInterval, YarnContainersAcrossAttempts,
	AttemptBackoffInitial, AttemptBackoffMax, AttemptBackoffMinUptime, SessionStartTimeout,
	StateCheckpointsDir, StateCheckpointsNumRetained, StateBackend, CheckpointingInterval, CheckpointingTimeout,
	JobManagerRPCAddress, JobManagerBindHost, HAJobManagerPort, TaskManagerHost, TaskManagerBindHost, TaskManagerRPCPort,
	RESTPort, RESTBindPort, RESTAddress, RESTBindAddress, MaxJobs, MetricsPromPort, MetricsPromHost, MetricsPromFactory,
	TaskManagerRegistrationTimeout, TaskManagerMaxSlots, TaskManagerSlots, JobManagerProcessSize, TaskManagerProcessSize,
	HeartbeatInterval, HeartbeatTimeout, TaskManagerLeaderlessGrace,
}, securityRegistry, daemonRegistry)

// Registry returns every registered option in reference order. The slice is a copy;
// the options themselves are shared and immutable.
func Registry() []*Option { return slices.Clone(registry) }

// byKey maps current and deprecated names to their option; built once from registry
// and never modified.
var byKey = func() map[string]*Option {
	m := make(map[string]*Option, 2*len(registry))
	for _, o := range registry {
		m[o.key] = o
		for _, d := range o.deprecated {
			m[d] = o
		}
	}
	return m
}()

// Lookup finds a registered option by its current or a deprecated name.
func Lookup(key string) (*Option, bool) {
	o, ok := byKey[key]
	return o, ok
}

// knownPrefixes are the key prefixes amkeeper owns or reads from; an unregistered
// key under one of them is reported as a warning (likely a typo).
var knownPrefixes = []string{
	"high-availability.", "recovery.", "zookeeper.", "yarn.", "state.", "execution.checkpointing.",
	"rest.", "resourcemanager.", "taskmanager.", "jobmanager.", "heartbeat.", "amkeeper.",
	"security.", "metrics.", "env.ssh.",
}

// ignoredKeys are Flink keys under a known prefix that amkeeper does not use but
// that appear in Flink's shipped flink-conf.yaml or in common setups; they are kept
// (Raw returns them), and each one set is warned about once: recognised, no effect.
var ignoredKeys = []string{
	"jobmanager.rpc.port", "jobmanager.memory.flink.size",
	"jobmanager.execution.failover-strategy", "jobmanager.archive.fs.dir", "jobmanager.memory.heap.size",
	"jobmanager.memory.off-heap.size", "jobmanager.memory.jvm-overhead.fraction",
	"taskmanager.memory.flink.size",
	"taskmanager.memory.managed.fraction", "taskmanager.memory.managed.size",
	"taskmanager.memory.network.fraction", "taskmanager.memory.network.min", "taskmanager.memory.network.max",
	"taskmanager.memory.task.heap.size", "taskmanager.memory.jvm-overhead.fraction",
	"taskmanager.data.port",
	"rest.flamegraph.enabled",
	"state.savepoints.dir", "state.backend.incremental", "state.backend.type", "state.backend.local-recovery",
	"execution.checkpointing.mode", "execution.checkpointing.min-pause", "execution.checkpointing.max-concurrent-checkpoints",
	"execution.checkpointing.externalized-checkpoint-retention", "execution.checkpointing.tolerable-failed-checkpoints",
	"yarn.application.name", "yarn.application.queue", "yarn.application.type", "yarn.application.priority",
	"yarn.containers.vcores", "yarn.ship-files", "yarn.ship-archives", "yarn.provided.lib.dirs", "yarn.tags",
	"yarn.appmaster.vcores", "yarn.application-master.port", "yarn.heartbeat.interval",
	"yarn.heartbeat.container-request-interval", "yarn.flink-dist-jar", "yarn.staging-directory",
	"high-availability.zookeeper.path.jobgraphs", "high-availability.zookeeper.path.running-registry",
	"high-availability.zookeeper.path.checkpoints", "high-availability.zookeeper.path.checkpoint-counter",
	"high-availability.zookeeper.path.latch", "high-availability.zookeeper.path.leader",
	"high-availability.zookeeper.path.mesos-workers", "high-availability.zookeeper.client.ensemble-tracker",
	"high-availability.zookeeper.client.max-close-wait",
	"high-availability.zookeeper.client.simplified-connection-state-handling",
	"high-availability.job.delay", "high-availability.kubernetes.leader-election.lease-duration",
	"heartbeat.rpc-failure-threshold", "resourcemanager.taskmanager-timeout",
	"resourcemanager.standalone.start-up-time", "resourcemanager.rpc.port",
}

var ignoredKeySet = func() map[string]bool {
	m := make(map[string]bool, len(ignoredKeys))
	for _, k := range ignoredKeys {
		m[k] = true
	}
	return m
}()

// IgnoredKeys lists Flink keys that amkeeper recognises without using them (Load
// warns about each one set).
func IgnoredKeys() []string { return slices.Clone(ignoredKeys) }

func underKnownPrefix(key string) bool {
	for _, p := range knownPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// parseValue turns a raw value into the option's typed value. It returns a message
// phrased as a predicate ("is not a duration: ...") when the value is invalid.
func (o *Option) parseValue(s string) (any, string) {
	s = strings.TrimSpace(s)
	var v any
	switch o.typ {
	case TypeString:
		v = s
	case TypeInt:
		n, err := strconv.ParseInt(s, 10, 32)
		if errors.Is(err, strconv.ErrRange) {
			return nil, "is out of range: want a 32-bit integer"
		}
		if err != nil {
			return nil, "is not an integer"
		}
		if o.min != nil && n < *o.min {
			return nil, fmt.Sprintf("is too small: want %d or more", *o.min)
		}
		v = int(n)
	case TypeBool:
		switch strings.ToLower(s) {
		case "true":
			v = true
		case "false":
			v = false
		default:
			return nil, "is not valid: want true or false"
		}
	case TypeDuration:
		d, err := parseSignedDuration(s, o.signed)
		if err != nil {
			return nil, "is not a duration: " + err.Error()
		}
		if !o.signed && d <= 0 {
			return nil, "is not positive: want a duration greater than 0"
		}
		v = d
	case TypeEnum:
		w, ok := o.enumValue(s)
		if !ok {
			msg := "is not valid: want " + orList(o.enum)
			if o.enumHint != nil {
				msg += o.enumHint(s)
			}
			return nil, msg
		}
		v = w
	case TypePortSpec:
		p, err := parsePortSpec(s)
		if err != nil {
			return nil, "is not a port spec: " + err.Error()
		}
		v = p
	case TypeMemorySize:
		n, err := parseMemorySize(s)
		if err != nil {
			return nil, "is not a memory size: " + err.Error()
		}
		if n <= 0 {
			return nil, "is not positive: want a memory size greater than 0"
		}
		v = n
	case TypeURI:
		if msg := checkStorageURI(s); msg != "" {
			return nil, msg
		}
		v = s
	case TypeHostList:
		hosts, err := parseHostList(s, defaultZKPort)
		if err != nil {
			return nil, err.Error()
		}
		v = hosts
	default:
		return nil, "has an unknown type"
	}
	if o.check != nil {
		if msg := o.check(v); msg != "" {
			return nil, msg
		}
	}
	return v, ""
}

// enumValue matches s case-insensitively against the option's words.
func (o *Option) enumValue(s string) (string, bool) {
	for _, w := range o.enum {
		if strings.EqualFold(w, s) {
			return w, true
		}
	}
	w, ok := o.enumAlias[strings.ToLower(s)]
	return w, ok
}

// haTypeHint explains why Flink values amkeeper does not implement are refused.
func haTypeHint(s string) string {
	switch {
	case strings.EqualFold(s, "kubernetes"):
		return " (amkeeper implements ZooKeeper high availability only, not Kubernetes)"
	case strings.Contains(s, "."):
		return " (custom high-availability factory classes are a Flink feature amkeeper does not have)"
	}
	return ""
}

// orList renders ["a","b","c"] as "a, b or c".
func orList(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

func checkDigest(v any) string {
	s, _ := v.(string)
	user, _, ok := strings.Cut(s, ":")
	if !ok {
		return "is not valid: want user:password"
	}
	if user == "" {
		return "is not valid: the user before the colon is empty"
	}
	return ""
}

// checkZKPath validates a znode path fragment: no empty, "." or ".." segments and no
// control characters. root says whether "/" alone is acceptable.
func checkZKPath(root bool) func(any) string {
	return func(v any) string {
		s, _ := v.(string)
		t := strings.Trim(s, "/")
		if t == "" {
			if root {
				return ""
			}
			return "is not valid: want a name such as my-cluster"
		}
		for _, seg := range strings.Split(t, "/") {
			switch seg {
			case "":
				return "is not a valid znode path: it has an empty segment (//)"
			case ".", "..":
				return "is not a valid znode path: segments . and .. are not allowed"
			}
		}
		for _, r := range s {
			if r < 0x20 || (r >= 0x7f && r <= 0x9f) || (r >= 0xd800 && r <= 0xf8ff) || (r >= 0xfff0 && r <= 0xffff) {
				return "is not a valid znode path: it contains a character ZooKeeper rejects"
			}
		}
		return ""
	}
}
