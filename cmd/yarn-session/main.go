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
		if msg := err.Error(); msg != "" { // an exit code alone (status of an ended application) prints nothing more
			fmt.Fprintln(os.Stderr, "yarn-session:", msg)
		}
		os.Exit(exitCode(err))
	}
}
