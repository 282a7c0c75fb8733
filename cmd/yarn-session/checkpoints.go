package main

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/internal/sessionctl"
	"github.com/amkeeper/amkeeper/jobmanager"
)

const (
	flagTo  = "to"
	flagYes = "yes"
)

// checkpointsCommand is `checkpoints fallback`: an operator's restart of a job
// whose latest checkpoint is unreadable (RECOVERY_FAILED) from an older retained
// checkpoint, as Flink restarts from a chosen retained checkpoint.
func checkpointsCommand() *cli.Command {
	return &cli.Command{
		Name: "checkpoints", Usage: "act on a job's retained checkpoints",
		Subcommands: []*cli.Command{{
			Name: "fallback", ArgsUsage: "JOBID",
			Usage: "restore a job whose latest checkpoint is unreadable from an older retained one " +
				"(without --yes: only say which committed output the replay would duplicate)",
			Flags: []cli.Flag{idFlag(),
				&cli.Int64Flag{Name: flagTo, Usage: "the retained checkpoint to restore from (required)"},
				&cli.BoolFlag{Name: flagYes, Usage: "confirm: restore from --to, duplicating the listed output"},
			},
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return cli.Exit("checkpoints fallback: give one JOBID (see yarn-session list)", exitUsage)
				}
				if !c.IsSet(flagTo) {
					return cli.Exit("checkpoints fallback: --to is required: the retained checkpoint to restore from", exitUsage)
				}
				jobID := c.Args().First()
				a, err := appFromFlags(c)
				if err != nil {
					return err
				}
				id := a.id
				rest, secret, side, err := leaderCommand(c.Context, a, "checkpoints fallback")
				if err != nil {
					return err
				}
				var plan jobmanager.FallbackPlan
				req := jobmanager.FallbackRequest{To: c.Int64(flagTo), Confirm: c.Bool(flagYes)}
				err = sessionctl.Command(secret, side, 30*time.Second).Do(c.Context, httpjson.Request{Method: http.MethodPost,
					URL: rest + strings.Replace(jobmanager.PathFallback, "{id}", jobID, 1), Body: req}, &plan)
				var se *httpjson.StatusError
				if errors.As(err, &se) {
					return cli.Exit(fmt.Sprintf("checkpoints fallback %s: %s", jobID, strings.TrimSpace(se.Message)), exitFailure)
				}
				if err != nil {
					return cli.Exit(fmt.Sprintf("checkpoints fallback: %v", err), exitFailure)
				}
				w := c.App.Writer
				fmt.Fprintf(w, "Job %s: retained checkpoints %v; restoring from %d.\n", jobID, plan.Retained, plan.To)
				if len(plan.Duplicated) == 0 {
					fmt.Fprintln(w, "No committed output is newer than that checkpoint: nothing is duplicated.")
				} else {
					fmt.Fprintf(w, "The replay commits again what these %d committed parts hold (they are kept, not removed):\n", len(plan.Duplicated))
					for _, p := range plan.Duplicated {
						fmt.Fprintf(w, "  %s\n", p)
					}
				}
				if !plan.Done {
					fmt.Fprintf(w, "Nothing was changed. To proceed: yarn-session checkpoints fallback -id %s --%s %d --%s %s\n",
						id, flagTo, plan.To, flagYes, jobID)
					return nil
				}
				fmt.Fprintf(w, "Job %s restores from checkpoint %d.\n", jobID, plan.To)
				return nil
			},
		}},
	}
}
