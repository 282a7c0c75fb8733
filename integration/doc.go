// Package integration holds end-to-end tests that run amkeeper's real processes
// (built from cmd/yarn-session) against a real ZooKeeper, killing them with real
// signals. Its subpackage zktest runs the ZooKeeper servers; netns is the
// multi-host bed (hosts as network namespaces, real link and packet faults) the
// cross-host tests (hosts_test.go) run sessions, clients and ZooKeeper on, and
// the host-fault tests (faults_test.go) a standalone cluster of master and
// TaskManager daemons, each inside its host, set up by the subpackage multihost
// (which amkeeper-bench faults uses too).
package integration
