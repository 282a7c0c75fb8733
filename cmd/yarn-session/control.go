package main

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/supervisor"
)

const (
	flagContainerLog = "container"
	flagAMAttempt    = "attempt"
)

func idFlag() cli.Flag {
	return &cli.StringFlag{Name: flagAppID, Aliases: []string{"id"}, Usage: "application ID (default: the session in .yarn-properties-<user>)"}
}

// sessionID returns -id or the session recorded in .yarn-properties-<user>,
// once it is known to be an application ID and the sessions home to be private.
func sessionID(c *cli.Context) (string, error) {
	id, from := c.String(flagAppID), "-id"
	if id == "" {
		var err error
		if id, err = readProperties(); err != nil {
			return "", cli.Exit(fmt.Sprintf("no session given (-id) and none recorded: %v", err), exitUsage)
		}
		from = propertiesPath()
	}
	if err := validAppID(from, id); err != nil {
		return "", err
	}
	if err := checkHome(); err != nil {
		return "", err
	}
	return id, nil
}

func sessionCommands() []*cli.Command {
	return []*cli.Command{
		{
			Name: "status", Usage: "show a session: state, attempt N of M, budget left, AM and containers with PIDs",
			Flags: []cli.Flag{idFlag()},
			Action: func(c *cli.Context) error {
				id, err := sessionID(c)
				if err != nil {
					return err
				}
				st, err := supervisor.NewControlClient(appDirOf(id)).Status(c.Context)
				if err != nil {
					// An ended application has no supervisor to ask: its record says how it ended.
					if e, rerr := readEnded(appDirOf(id)); rerr == nil {
						e.print(c.App.Writer)
						return nil
					}
					if orphaned(appDirOf(id)) {
						return cli.Exit(fmt.Sprintf("status %s: %v\nIts supervisor died; its AM and containers may still run. Restart the supervisor (it adopts them): yarn-session -id %s", id, err, id), exitFailure)
					}
					return cli.Exit(fmt.Sprintf("status %s: %v", id, err), exitFailure)
				}
				printStatus(c.App.Writer, st)
				return nil
			},
		},
		{
			Name: "stop", Usage: "stop a session: the AM is asked to finish, containers are stopped, HA data is kept",
			Flags: []cli.Flag{idFlag()},
			Action: func(c *cli.Context) error {
				id, err := sessionID(c)
				if err != nil {
					return err
				}
				return stopSession(c, id)
			},
		},
		{
			Name: "kill-am", Usage: "SIGKILL the session's current AM (counts against the restart budget; for tests and demos)",
			Flags: []cli.Flag{idFlag()},
			Action: func(c *cli.Context) error {
				id, err := sessionID(c)
				if err != nil {
					return err
				}
				pid, err := supervisor.NewControlClient(appDirOf(id)).KillAM(c.Context)
				if err != nil {
					return cli.Exit(fmt.Sprintf("kill-am %s: %v", id, err), exitFailure)
				}
				fmt.Fprintf(c.App.Writer, "Killed AM pid %d of %s.\n", pid, id)
				return nil
			},
		},
		{
			Name: "logs", Usage: "print the log of the current AM attempt, of attempt N (--attempt) or of a container (--container)",
			Flags: []cli.Flag{idFlag(),
				&cli.StringFlag{Name: flagContainerLog, Usage: "container ID"},
				&cli.IntFlag{Name: flagAMAttempt, Usage: "AM attempt number"}},
			Action: runLogs,
		},
	}
}

func runLogs(c *cli.Context) error {
	id, err := sessionID(c)
	if err != nil {
		return err
	}
	st, err := supervisor.NewControlClient(appDirOf(id)).Status(c.Context)
	if err != nil {
		return cli.Exit(fmt.Sprintf("logs %s: %v", id, err), exitFailure)
	}
	path := st.AMLog
	switch {
	case c.String(flagContainerLog) != "":
		path = ""
		for _, ct := range st.Containers {
			if ct.ID == c.String(flagContainerLog) {
				path = ct.Log
			}
		}
		if path == "" {
			return cli.Exit(fmt.Sprintf("logs: no running container %s in %s", c.String(flagContainerLog), id), exitUsage)
		}
	case c.IsSet(flagAMAttempt):
		path = ""
		for _, a := range st.History.Attempts {
			if a.Attempt == c.Int(flagAMAttempt) {
				path = supervisor.AMLogPath(appDirOf(id), a.AttemptID)
			}
		}
		if c.Int(flagAMAttempt) == st.Attempt {
			path = st.AMLog // still running: not in the history yet
		}
		if path == "" {
			return cli.Exit(fmt.Sprintf("logs: %s has no attempt %d", id, c.Int(flagAMAttempt)), exitUsage)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return cli.Exit(fmt.Sprintf("logs: %v", err), exitFailure)
	}
	defer f.Close()
	_, err = io.Copy(c.App.Writer, f)
	return err
}

func printStatus(w io.Writer, st supervisor.Status) {
	fmt.Fprintf(w, "Application %s: %s\n", st.ApplicationID, st.State)
	fmt.Fprintf(w, "Attempt %d of %d (%s), AM pid %d\n", st.Attempt, st.MaxAttempts, st.AttemptID, st.AMPID)
	fmt.Fprintf(w, "Budget: %d counted failure(s) in the last %s; survives %d more\n", st.CountedFailures, st.Window, st.Remaining)
	if b := st.Backoff; b != nil {
		fmt.Fprintf(w, "Backing off: %d attempts in a row crashed; attempt %d starts at %s (waits %s)\n",
			b.Crashes, b.NextAttempt, b.NextStart.Format("15:04:05.000"), time.Duration(b.DelaySeconds*float64(time.Second)))
	}
	if len(st.AMs) == 1 && st.AMs[0].REST != "" { // as Flink prints it: http://, or https:// with security.ssl.rest.enabled
		fmt.Fprintf(w, "JobManager Web Interface: %s\n", st.AMs[0].REST)
	}
	if len(st.AMs) > 1 { // hot standby: which one leads
		for _, am := range st.AMs {
			role := "standby"
			if am.Leading {
				role = "leading"
			}
			fmt.Fprintf(w, "  AM %s pid %d %s %s\n", am.AttemptID, am.PID, role, am.REST)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER\tPID\tSTATE\tATTEMPT")
	for _, c := range st.Containers {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\n", c.ID, c.PID, c.State, c.Attempt)
	}
	tw.Flush()
	if len(st.History.Attempts) > 0 {
		fmt.Fprintln(w, "Ended attempts:")
		for _, a := range st.History.Attempts {
			fmt.Fprintf(w, "  %d %s %s counted=%v %s\n", a.Attempt, a.End.Format("15:04:05"), a.Exit, a.Counted, a.Reason)
		}
	}
}
