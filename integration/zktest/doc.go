// Package zktest runs real Apache ZooKeeper servers for tests: Debian's zookeeper
// package (3.8) on Java, never a mock.
//
// A test starts its own server with Start, or a package shares one server across all
// its tests through Main in TestMain; either way every test works under its own root
// path from Cluster.Root and inspects znodes through Cluster.Conn:
//
//	var zkc *zktest.Cluster
//
//	func TestMain(m *testing.M) {
//		os.Exit(zktest.Main(m, func(c *zktest.Cluster) { zkc = c }))
//	}
//
//	func TestSomething(t *testing.T) {
//		root := zkc.Root(t)  // e.g. /t/TestSomething-3, not created
//		conn := zkc.Conn(t)  // has a session; closed when the test ends
//		...
//	}
//
// # What the harness guarantees
//
//   - ZooKeeper and Java are found or the test fails (never skips) with a message that
//     names what is missing and says to run scripts/install-deps. The classpath is
//     ZOOKEEPER_CLASSPATH when set, else Debian's jars in /usr/share/java; java is
//     $JAVA_HOME/bin/java when JAVA_HOME is set, else java on PATH.
//   - Servers listen on 127.0.0.1 only (on their hosts' addresses with WithHosts, which
//     runs each in a network namespace of integration/netns), on ports that were free
//     when picked; a start
//     that loses a port race is retried with new ports. Each cluster has its own
//     temporary directory (data, zoo.cfg, log4j.properties and zookeeper.log per
//     server), removed on Close unless the tests failed, in which case its path is
//     reported so the server logs can be read.
//   - Start, New and Restart return only once the servers answer the srvr four-letter
//     command with a serving mode (standalone, or leader/follower/observer for every
//     running member of an ensemble), or fail within the start timeout with the tail
//     of the server log.
//   - No JVM outlives the test binary. Each JVM is started directly (no shell) in its
//     own process group with a parent-death signal of SIGKILL, from an OS thread held
//     for the JVM's whole life; clusters are killed in t.Cleanup (Start) or after
//     m.Run (Main). If the test binary dies abruptly (os.Exit, a panic, a test
//     timeout, SIGKILL) the kernel kills its JVMs. The parent-death signal is
//     Linux-only; elsewhere only the cleanup paths apply.
//   - WithTLS makes the servers TLS-only (secureClientPort, client certificates
//     required); Addrs, Mode, the readiness probe and Conn then use TLS, and TLS
//     returns the harness's own client configuration.
//   - Root returns a new, unique path on every call, so tests sharing a cluster do not
//     see each other's znodes. The package has no mutable package-level state.
//
// # What it does not guarantee
//
//   - Temporary directories of a test binary that died abruptly are left behind.
//   - Root paths are not created and not deleted: the code under test creates them
//     (with parents; go-zookeeper has no chroot, so callers prefix paths themselves).
//   - Durability against machine crashes: forceSync is off unless WithForceSync(true)
//     is given. Data does survive Kill and Restart, which only end the process.
//   - Methods that change a server's state (Stop, Kill, Pause, Resume, Restart) are
//     safe to call from several goroutines, but tests that run in parallel against
//     one cluster must not change its servers' states.
package zktest
