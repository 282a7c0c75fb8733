package entry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

// Main runs cmd as a whole program (for cmd/am and cmd/taskmanager) and returns
// the exit code: SIGINT and SIGTERM cancel its context.
func Main(cmd *cli.Command) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := &cli.App{Name: cmd.Name, Usage: cmd.Usage, Flags: cmd.Flags, Action: cmd.Action,
		ExitErrHandler: func(*cli.Context, error) {}, DisableSliceFlagSeparator: true} // one -D is one property, commas and all
	if err := app.RunContext(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			return ec.ExitCode()
		}
		return 1
	}
	return 0
}
