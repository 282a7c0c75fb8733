package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
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
			Name: "status", Usage: "report an application, running or ended, like yarn application -status: state, final status, diagnostics, tracking URL, times, attempts with their causes, the budget",
			Description: "Exit codes: 0 the application runs; " + fmt.Sprint(exitEnded) + " it has ended (the report comes from its directory); " +
				fmt.Sprint(exitNoSuchApp) + " no such application; 1 it cannot be asked; 2 a usage error.",
			Flags:  []cli.Flag{idFlag(), outputFlag()},
			Action: runStatus,
		},
		{
			Name: "stop", Usage: "stop a session: the AM is asked to finish, containers are stopped, HA data is kept",
			Description: "Exit codes: 0 stopped, or it had already ended (as yarn application -kill); " +
				fmt.Sprint(exitNoSuchApp) + " no such application; 1 it cannot be asked or did not stop; 2 a usage error.",
			Flags: []cli.Flag{idFlag()},
			Action: func(c *cli.Context) error {
				a, err := appFromFlags(c)
				if err != nil {
					return err
				}
				return stopSession(c, a)
			},
		},
		{
			Name: "kill-am", Usage: "SIGKILL the session's current AM (counts against the restart budget; for tests and demos)",
			Description: "Exit codes: 0 killed; " + fmt.Sprint(exitEnded) + " the application has ended; " +
				fmt.Sprint(exitNoSuchApp) + " no such application; 1 it cannot be asked; 2 a usage error.",
			Flags: []cli.Flag{idFlag()},
			Action: func(c *cli.Context) error {
				a, err := appFromFlags(c)
				if err != nil {
					return err
				}
				client, _, err := a.running(c.Context, "kill-am")
				if err != nil {
					return err
				}
				pid, err := client.KillAM(c.Context)
				if err != nil {
					return cli.Exit(fmt.Sprintf("kill-am %s: %v", a.id, err), exitFailure)
				}
				fmt.Fprintf(c.App.Writer, "Killed AM pid %d of %s.\n", pid, a.id)
				return nil
			},
		},
		{
			Name: "logs", Usage: "print the log of the current (or last) AM attempt, of attempt N (--attempt) or of a container (--container), also after the end; -f follows",
			Flags: []cli.Flag{idFlag(), outputFlag(),
				&cli.StringFlag{Name: flagContainerLog, Usage: "container ID"},
				&cli.IntFlag{Name: flagAMAttempt, Usage: "AM attempt number"},
				&cli.BoolFlag{Name: flagFollow, Aliases: []string{"f"}, Usage: "follow: print lines as they are written, the next attempt's once it starts, until the application ends"}},
			Action: runLogs,
		},
	}
}
