package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/flinkssl"
	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/internal/sessionctl"
	"github.com/amkeeper/amkeeper/jobmanager"
)

// sessionTLS returns the REST TLS (security.ssl.rest.*) of the session as it
// was started — its session.json names the configuration directory and the -D
// items — or nil when the session's REST endpoint is plain HTTP.
func sessionTLS(a application) (*flinkssl.Side, error) {
	sp, err := readSpec(a.dir)
	if err != nil {
		return nil, fmt.Errorf("the session's configuration: %w", err)
	}
	cfg, err := conf.Load(conf.Options{Dir: sp.ConfDir, Dynamic: sp.Dynamic, ApplicationID: sp.AppID})
	if err != nil {
		return nil, fmt.Errorf("the session's configuration: %w", err)
	}
	side, err := flinkssl.REST(cfg)
	if err != nil {
		return nil, fmt.Errorf("REST TLS: %w", err)
	}
	return side, nil
}

// leaderRESTClient finds the leader of the running application and the TLS to
// reach it with, for the command what. An application that does not run is
// answered as status answers it (application.running).
func leaderRESTClient(ctx context.Context, a application, what string) (string, *flinkssl.Side, error) {
	_, st, err := a.running(ctx, what)
	if err != nil {
		return "", nil, err
	}
	side, err := sessionTLS(a)
	if err != nil {
		return "", nil, cli.Exit(fmt.Sprintf("%s: %v", what, err), exitFailure)
	}
	rest, err := sessionctl.LeaderIn(st, "")
	if err != nil {
		return "", nil, cli.Exit(fmt.Sprintf("%s: %v", what, err), exitFailure)
	}
	return rest, side, nil
}

// leaderCommand finds the leader of the running application and reads the
// session's secret, for a call (what) that changes the session's state.
func leaderCommand(ctx context.Context, a application, what string) (string, appsecret.Secret, *flinkssl.Side, error) {
	rest, side, err := leaderRESTClient(ctx, a, what)
	if err != nil {
		return "", appsecret.Secret{}, nil, err
	}
	secret, err := sessionctl.SessionSecret(a.dir)
	if err != nil {
		return "", appsecret.Secret{}, nil, cli.Exit(fmt.Sprintf("%s: %v", what, err), exitFailure)
	}
	return rest, secret, side, nil
}

func jobCommands() []*cli.Command {
	return []*cli.Command{
		runCommand(),
		checkpointsCommand(),
		{
			Name: "list", Usage: "list the session's jobs: running, and those whose recovery failed (with the error); -a also finished ones (as flink list -a)",
			Flags: []cli.Flag{idFlag(), outputFlag(), &cli.BoolFlag{Name: flagAll, Aliases: []string{"a"}, Usage: "also list canceled, finished and failed jobs"}},
			Action: func(c *cli.Context) error {
				asJSON, err := outputJSON(c)
				if err != nil {
					return err
				}
				a, err := appFromFlags(c)
				if err != nil {
					return err
				}
				rest, side, err := leaderRESTClient(c.Context, a, "list")
				if err != nil {
					return err
				}
				var res struct {
					Jobs []jobmanager.JobStatus `json:"jobs"`
				}
				if err := sessionctl.REST(side, 5*time.Second).Get(c.Context, rest+"/jobs", &res); err != nil {
					return cli.Exit(fmt.Sprintf("list: %v", err), exitFailure)
				}
				shown := []jobmanager.JobStatus{}
				for _, j := range res.Jobs {
					if c.Bool(flagAll) || !jobmanager.Finished(j.State) {
						shown = append(shown, j)
					}
				}
				if asJSON { // the leader's GET /jobs entries: fields as in docs/rest.md
					return writeJSON(c.App.Writer, struct {
						Jobs []jobmanager.JobStatus `json:"jobs"`
					}{shown})
				}
				tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "JOB ID\tNAME\tSTATUS\tERROR")
				for _, j := range shown {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", j.JobID, j.Name, j.State, j.Error)
				}
				return tw.Flush()
			},
		},
		{
			Name: "cancel", Usage: "cancel a job for good (it is not run again after a failover)", ArgsUsage: "JOBID",
			Flags: []cli.Flag{idFlag()},
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return cli.Exit("cancel: give one JOBID (see yarn-session list)", exitUsage)
				}
				a, err := appFromFlags(c)
				if err != nil {
					return err
				}
				rest, secret, side, err := leaderCommand(c.Context, a, "cancel")
				if err != nil {
					return err
				}
				err = sessionctl.Command(secret, side, 30*time.Second).Do(c.Context, httpjson.Request{Method: http.MethodPost,
					URL: rest + "/jobs/" + c.Args().First() + "/cancel", Body: struct{}{}}, nil)
				var se *httpjson.StatusError
				if errors.As(err, &se) {
					return cli.Exit(fmt.Sprintf("cancel %s: %s", c.Args().First(), se.Message), exitFailure)
				}
				if err != nil {
					return cli.Exit(fmt.Sprintf("cancel: %v", err), exitFailure)
				}
				fmt.Fprintf(c.App.Writer, "Job %s canceled.\n", c.Args().First())
				return nil
			},
		},
	}
}

// runCommand submits a job spec to the session's leader.
func runCommand() *cli.Command {
	return &cli.Command{
		Name: "run", Usage: "submit a job (a YAML job spec) to the session", ArgsUsage: "JOBSPEC",
		Flags: []cli.Flag{idFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("run: give one JOBSPEC file", exitUsage)
			}
			data, err := os.ReadFile(c.Args().First())
			if err != nil {
				return cli.Exit(fmt.Sprintf("run: %v", err), exitUsage)
			}
			sub, err := sessionctl.NewSubmission(data, c.Args().First())
			if err != nil {
				return cli.Exit(fmt.Sprintf("run: %v", err), exitUsage)
			}
			a, err := appFromFlags(c)
			if err != nil {
				return err
			}
			rest, secret, side, err := leaderCommand(c.Context, a, "run")
			if err != nil {
				return err
			}
			if err := sessionctl.Submit(c.Context, secret, side, rest, sub); err != nil {
				return cli.Exit(fmt.Sprintf("run: %v", err), exitFailure)
			}
			fmt.Fprintf(c.App.Writer, "Job %s (%s) submitted.\n%s\n", sub.JobID, sub.Name, sub.JobID)
			return nil
		},
	}
}
