package conf

// Daemons per host (issue 17): the standalone cluster's masters and TaskManagers
// started one per host, as Flink's jobmanager.sh, taskmanager.sh and
// start-cluster.sh start them.
var (
	SecretFile = &Option{
		key: "amkeeper.secret.file", typ: TypeString, group: GroupSecurity, env: "AMKEEPER_APP_SECRET_FILE",
		desc: "The application secret of a cluster whose masters and TaskManagers run as daemons on several hosts " +
			"(yarn-session jobmanager start, taskmanager start, start-cluster): a file holding 32 random bytes in hex, " +
			"mode 0600 and owned by the user the daemons run as, copied by the operator to every host (make one with " +
			"`yarn-session secret create FILE`). A file open to group or others, or owned by another user, is refused. " +
			"Unset: a yarn-session session creates its own secret; daemons refuse to start.",
	}
	TaskManagersStandalone = &Option{
		key: "amkeeper.taskmanagers.standalone", typ: TypeBool, group: GroupResources, def: "false",
		desc: "When true the TaskManagers are daemons started per host (yarn-session taskmanager start) instead of " +
			"containers of the supervisor: the leader admits every TaskManager whose registration is signed with the " +
			"application secret (amkeeper.secret.file), up to amkeeper.taskmanager.max-slots slots each, and the " +
			"supervisor launches none. yarn-session jobmanager start sets it.",
	}
	SSHCommand = &Option{
		key: "amkeeper.ssh.command", typ: TypeString, group: GroupResources, def: "ssh",
		desc: "The command start-cluster, stop-cluster and the zookeeper commands run to reach a host that is not " +
			"this machine, as `<command> -n <env.ssh.opts> <host> -- <yarn-session command>`; the yarn-session " +
			"binary and the configuration directory must be at the same paths there.",
	}
	SSHOpts = &Option{
		key: "env.ssh.opts", typ: TypeString, group: GroupResources,
		desc: "As in Flink: extra options for ssh, split at spaces (e.g. -p 2222 -o StrictHostKeyChecking=no).",
	}
)

// daemonRegistry is part of registry.
var daemonRegistry = []*Option{SecretFile, TaskManagersStandalone, SSHCommand, SSHOpts}
