package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/supervisor"
)

// leaderREST finds the REST address of the session's leading AM.
func leaderREST(ctx context.Context, id string) (string, error) {
	return findLeader(ctx, supervisor.NewControlClient(appDirOf(id)), "")
}

// findLeader asks each of the session's AMs whether it leads and returns the
// leader's REST address, skipping not (a leader known to be gone).
func findLeader(ctx context.Context, client *supervisor.ControlClient, not string) (string, error) {
	st, err := client.Status(ctx)
	if err != nil {
		return "", err
	}
	hc := http.Client{Timeout: 2 * time.Second}
	for _, am := range st.AMs {
		if am.REST == "" || am.REST == not {
			continue
		}
		var o jobmanager.Overview
		if err := getJSON(ctx, &hc, am.REST+"/overview", &o); err == nil && o.Leader {
			return am.REST, nil
		}
	}
	return "", fmt.Errorf("session %s has no leading AM right now (attempt %d is starting?)", st.ApplicationID, st.Attempt)
}

func getJSON(ctx context.Context, hc *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func jobCommands() []*cli.Command {
	return []*cli.Command{
		runCommand(),
		{
			Name: "list", Usage: "list the session's running jobs",
			Flags: []cli.Flag{idFlag()},
			Action: func(c *cli.Context) error {
				id, err := sessionID(c)
				if err != nil {
					return err
				}
				rest, err := leaderREST(c.Context, id)
				if err != nil {
					return cli.Exit(fmt.Sprintf("list: %v", err), exitFailure)
				}
				var res struct {
					Jobs []jobmanager.JobStatus `json:"jobs"`
				}
				if err := getJSON(c.Context, &http.Client{Timeout: 5 * time.Second}, rest+"/jobs", &res); err != nil {
					return cli.Exit(fmt.Sprintf("list: %v", err), exitFailure)
				}
				tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "JOB ID\tNAME\tSTATUS")
				for _, j := range res.Jobs {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", j.JobID, j.Name, j.State)
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
				rest, err := leaderREST(c.Context, id)
				if err != nil {
					return cli.Exit(fmt.Sprintf("cancel: %v", err), exitFailure)
				}
				req, _ := http.NewRequestWithContext(c.Context, http.MethodPost, rest+"/jobs/"+c.Args().First()+"/cancel", nil)
				resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
				if err != nil {
					return cli.Exit(fmt.Sprintf("cancel: %v", err), exitFailure)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
				if resp.StatusCode != http.StatusOK {
					return cli.Exit(fmt.Sprintf("cancel %s: %s", c.Args().First(), strings.TrimSpace(string(b))), exitFailure)
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
			sub, err := newSubmission(data, c.Args().First())
			if err != nil {
				return cli.Exit(fmt.Sprintf("run: %v", err), exitUsage)
			}
			id, err := sessionID(c)
			if err != nil {
				return err
			}
			rest, err := leaderREST(c.Context, id)
			if err != nil {
				return cli.Exit(fmt.Sprintf("run: %v", err), exitFailure)
			}
			body, _ := json.Marshal(sub)
			if err := submitJob(c.Context, rest, body); err != nil {
				return cli.Exit(fmt.Sprintf("run: %v", err), exitFailure)
			}
			fmt.Fprintf(c.App.Writer, "Job %s (%s) submitted.\n%s\n", sub.JobID, sub.Name, sub.JobID)
			return nil
		},
	}
}

// newSubmission parses a job spec (file names it in errors) and makes its
// submission: a new job ID and the encoded graph.
func newSubmission(spec []byte, file string) (jobmanager.JobSubmission, error) {
	s, err := job.ParseSpec(spec, file)
	if err != nil {
		return jobmanager.JobSubmission{}, err
	}
	g := job.Graph{ID: job.NewJobID(), Spec: s}
	encoded, err := g.Encode()
	if err != nil {
		return jobmanager.JobSubmission{}, err
	}
	return jobmanager.JobSubmission{JobID: string(g.ID), Name: s.Name, Graph: encoded}, nil
}

// submitJob posts an encoded submission to a leader's REST endpoint; anything but
// 202 Accepted is an error carrying what the leader said.
func submitJob(ctx context.Context, rest string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rest+"/jobs", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return errors.New(strings.TrimSpace(string(b)))
	}
	return nil
}
