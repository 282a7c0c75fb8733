// Command yarn-session starts and manages an amkeeper session the way Flink's
// yarn-session.sh starts a Flink session on YARN.
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
	err := newApp(os.Stdout, os.Stderr).RunContext(ctx, os.Args)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "yarn-session:", err)
		os.Exit(exitCode(err))
	}
}
