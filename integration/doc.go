// Package integration holds end-to-end tests that run amkeeper's real processes
// (built from cmd/yarn-session) against a real ZooKeeper, killing them with real
// signals. Its subpackage zktest runs the ZooKeeper servers.
package integration
