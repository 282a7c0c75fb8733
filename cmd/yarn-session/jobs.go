package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/flinkssl"
	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/internal/sessionctl"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/supervisor"
)

// leaderREST finds the REST address of the session's leading AM.
func leaderREST(ctx context.Context, id string) (string, error) {
	return sessionctl.FindLeader(ctx, supervisor.NewControlClient(appDirOf(id)), "")
}

// sessionTLS returns the REST TLS (security.ssl.rest.*) of the session as it
// was started — its session.json names the configuration directory and the -D
// items — or nil when the session's REST endpoint is plain HTTP.
func sessionTLS(id string) (*flinkssl.Side, error) {
	file := filepath.Join(appDirOf(id), "session.json")
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("the session's configuration: %w", err)
	}
	var sp spec
	if err := json.Unmarshal(b, &sp); err != nil {
		return nil, fmt.Errorf("the session's configuration: %s: %w", file, err)
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

// leaderRESTClient finds the session's leader and the TLS to reach it with.
func leaderRESTClient(ctx context.Context, id string) (string, *flinkssl.Side, error) {
	side, err := sessionTLS(id)
	if err != nil {
		return "", nil, err
	}
	rest, err := leaderREST(ctx, id)
	return rest, side, err
}

// leaderCommand finds the session's leader and reads the session's secret, for
// a call that changes the session's state.
func leaderCommand(ctx context.Context, id string) (string, appsecret.Secret, *flinkssl.Side, error) {
	secret, err := sessionctl.SessionSecret(appDirOf(id))
	if err != nil {
		return "", appsecret.Secret{}, nil, err
	}
	rest, side, err := leaderRESTClient(ctx, id)
	return rest, secret, side, err
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
				id, err := sessionID(c)
				if err != nil {
					return err
				}
				rest, side, err := leaderRESTClient(c.Context, id)
				if err != nil {
					return cli.Exit(fmt.Sprintf("list: %v", err), exitFailure)
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
				id, err := sessionID(c)
				if err != nil {
					return err
				}
				rest, secret, side, err := leaderCommand(c.Context, id)
				if err != nil {
					return cli.Exit(fmt.Sprintf("cancel: %v", err), exitFailure)
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
			id, err := sessionID(c)
			if err != nil {
				return err
			}
			rest, secret, side, err := leaderCommand(c.Context, id)
			if err != nil {
				return cli.Exit(fmt.Sprintf("run: %v", err), exitFailure)
			}
			if err := sessionctl.Submit(c.Context, secret, side, rest, sub); err != nil {
				return cli.Exit(fmt.Sprintf("run: %v", err), exitFailure)
			}
			fmt.Fprintf(c.App.Writer, "Job %s (%s) submitted.\n%s\n", sub.JobID, sub.Name, sub.JobID)
			return nil
		},
	}
}
