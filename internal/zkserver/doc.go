// Package zkserver runs Apache ZooKeeper servers on this machine from a zoo.cfg, the
// way Flink's bin/start-zookeeper-quorum.sh and stop-zookeeper-quorum.sh do: it is
// what `yarn-session zookeeper start|stop|status` is built on, and the throwaway
// server of `yarn-session demo` and of cmd/amkeeper-bench.
//
// Start writes an effective configuration per server into a run directory
// (<run-dir>/standalone or <run-dir>/server-<myid>: zoo.cfg, log4j.properties,
// zookeeper.log, zookeeper.pid and, unless zoo.cfg names one, data/), starts each JVM
// detached from the caller, and returns once every started server answers the srvr
// four-letter command with a serving mode. Stop and StatusOf work from the run
// directory alone, so they can run from another process later.
//
// For SASL, WriteSASLDigest and WriteSASLKerberos write a server's JAAS file and
// return the zoo.cfg lines and JVM flags (Options.JVMFlags) that make it
// authenticate clients, and optionally refuse unauthenticated ones.
//
// StartThrowaway is the same for one run of the demo or a benchmark: a standalone
// server from a zoo.cfg of its own in a directory the caller owns, on a free port.
//
// # What it guarantees
//
//   - Java and the ZooKeeper jars are found by Locate, the one place that knows where
//     (ZOOKEEPER_CLASSPATH, else Debian's /usr/share/java; $JAVA_HOME/bin/java, else
//     java on PATH); when something is missing the error wraps ErrNotInstalled, names
//     what is missing and says to run scripts/install-deps.
//   - A started server outlives the caller: it runs in its own session (setsid), with
//     stdin from /dev/null and its output in zookeeper.log, so neither a terminal's
//     hangup nor the end of the starting process stops it, and a shell capturing the
//     caller's output through a pipe is not held open.
//   - Each server's directory (its log and pid file), its data directory and its
//     dataLogDir are private (0700): snapshots and the transaction log hold every
//     znode. Start creates them so; one of ours found open to others (an older
//     amkeeper made them 0755) is made 0700 with a warning; one owned by another
//     user is refused (privdir.ErrUntrusted) before any server starts, since it cannot
//     be made private and its owner could read or swap the data.
//   - Unless zoo.cfg sets them: clientPortAddress=127.0.0.1 (loopback only),
//     admin.enableServer=false, 4lw.commands.whitelist=srvr,ruok,stat. srvr is added to
//     a whitelist that lacks it, because readiness is judged by it.
//   - A zoo.cfg with secureClientPort and no clientPort starts TLS-only servers
//     (tls.go): the Netty connection factory unless zoo.cfg names one, store paths
//     made absolute, Netty's codec and resolver jars on Debian's classpath (Locate;
//     Start fails naming them when missing). Readiness and StatusOf ask srvr over
//     TLS with the server's own PEM stores; a Java key store is refused with the
//     command that converts it (internal/zktls).
//   - Start returns only once every server it started serves, or fails within the
//     deadline with the tail of the failing server's log; on failure it kills the
//     servers it started in that call and keeps their files.
//   - Stop signals a pid only when /proc/<pid>/cmdline shows the ZooKeeper JVM started
//     from that server's directory, and signals it through a pidfd, so a recycled pid
//     is never signalled (ErrNotOurs). SIGTERM first, SIGKILL after the grace period,
//     and it returns only once the process is gone or the bound has passed.
//
// # What it does not guarantee
//
//   - Servers on other hosts are not started: server.X lines Options.Local does
//     not pick (by default: whose host is not a loopback name or address) are
//     skipped. Reaching the other hosts over ssh, as Flink's script does, is the
//     CLI's (yarn-session zookeeper start), which runs this there per server.
//   - Two Start calls on one run directory at the same time are not serialised.
//   - A free port is free when picked; a server that loses the race to bind it is
//     retried with new ports a few times, then the start fails.
//   - Stop and StatusOf read /proc to tell a live server from a dead or foreign pid
//     (proc_linux.go). Outside Linux a live pid cannot be verified as our server:
//     StatusOf reports it as foreign and Stop refuses to signal it (ErrNotOurs),
//     and a zombie counts as running until it is reaped.
package zkserver
