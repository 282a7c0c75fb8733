// Command amkeeper-bench runs amkeeper's benchmarks on this machine: failover
// phases of a real session under AM kills, leader-election handover against
// python3-kazoo, a new leader's recovery of many jobs, and faults on a
// multi-host bed of network namespaces (faults, as root): ZooKeeper ensemble
// faults, and host faults on the seed's standalone cluster (integration/multihost).
// It is kept out of the shipped yarn-session CLI; each benchmark starts its own
// throwaway ZooKeeper (faults: on the bed), and the session benchmarks start
// sessions and daemons with a yarn-session binary.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newApp(os.Stdout, os.Stderr, defaultOptions()).RunContext(ctx, os.Args)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "amkeeper-bench:", err)
		os.Exit(exitCode(err))
	}
}
