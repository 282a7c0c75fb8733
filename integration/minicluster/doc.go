// Package minicluster brings up a whole amkeeper session for a test in one call —
// the Go counterpart of Hadoop's MiniYARNCluster and MiniDFSCluster together:
//
//	c := minicluster.Start(t, minicluster.WithTaskManagers(2))
//	id, err := c.Submit(ctx, specYAML)
//	...
//	c.KillAM()
//	counts, err := c.Output(ctx, "counts")
//
// A cluster is made of real parts, composed from the other test packages:
//
//   - a real ZooKeeper server (integration/zktest), under a root path of its own;
//   - the in-process HDFS peer (integration/hdfspeer) as
//     high-availability.storageDir, or a file:// directory in t.TempDir() with
//     WithLocalStorage;
//   - a session: a supervisor.Supervisor running in the test process, configured
//     from the cluster's properties by supervisor.ConfigFrom as yarn-session
//     configures it (the attempt budget of WithBudget, fast fencing on the
//     cluster's ZooKeeper), whose AM attempts and TaskManager containers are real
//     processes of the yarn-session binary.
//
// The yarn-session binary is built with `go build` by Binary, once per test
// process; a TestMain that already builds it passes the path with WithBinary.
//
// # What it guarantees
//
//   - Start returns once the supervisor is running; WaitLeader then waits for a
//     leading AM. Start fails the test (never skips) when a part cannot start.
//   - Everything is stopped through t.Cleanup, in reverse order of start: the
//     session first (the supervisor stops its AMs and containers and waits for
//     them), then the HDFS peer, then ZooKeeper. No process outlives a test that
//     ends; AMs and containers outlive a supervisor that dies (they are built to),
//     so a test binary that is killed leaves them to the integration TestMain's
//     leftover check.
//   - Each cluster has its own ZooKeeper, storage and application directory, so
//     clusters in parallel tests do not see each other.
//   - Handles fail in the ordinary way (an error), never by sleeping: KillAM and
//     KillTaskManager send SIGKILL at once and return; callers poll with deadlines
//     for what follows (Checkpoints, Status, Output).
//
// # What it does not guarantee
//
//   - The binary built by Binary stays in a directory named after the test
//     process (os.TempDir()/amkeeper-minicluster-<pid>); later calls of Binary
//     remove the directories of processes that are gone.
//   - The HDFS peer keeps everything in memory and is not Hadoop: see
//     integration/hdfspeer for what it does and does not speak.
//   - Stopping the only ZooKeeper server stops the session's leader election;
//     pass WithZooKeeper(zktest.WithServers(3)) to stop one server of an ensemble.
package minicluster
