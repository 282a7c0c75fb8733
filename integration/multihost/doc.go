// Package multihost is the second seed's standalone HA cluster on the multi-host
// bed of integration/netns: master and TaskManager daemons, each started inside
// its host with `yarn-session jobmanager|taskmanager start --host H`, sharing
// one configuration directory (Conf), and the counting job running on them.
// The fault tests (integration/faults_test.go) and `amkeeper-bench faults` set
// their clusters up with it, so a test and the benchmark measure the same
// cluster.
//
// Conf writes the configuration directory (flink-conf.yaml, masters, workers,
// zoo.cfg); Cluster starts and stops daemons and brings the cluster up (Up):
// the first master leads, the others stand by, the TaskManagers register in
// order (the first one runs the job's single subtask), and the job has
// checkpointed. Follow follows a component's leader through ZooKeeper, as a
// client would; Windows and Exact read and check the job's committed output.
//
// Everything returns errors rather than failing a test, so a command can use
// it; the caller stops the daemons (StopDaemon, or KillHost for what a fault
// left behind).
package multihost
