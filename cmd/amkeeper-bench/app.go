package main

import (
	"errors"
	"io"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/internal/logging"
)

// Flag names of the root command, accepted before the subcommand.
const (
	flagLogLevel    = "log-level"
	flagLogFormat   = "log-format"
	flagYarnSession = "yarn-session"
)

// Flag names shared by subcommands.
const (
	flagKills = "kills"
	flagJobs  = "jobs"
	flagTMs   = "tms"
)

// Exit codes.
const (
	exitFailure = 1
	exitUsage   = 2
)

// options are what the app takes from its surroundings rather than from flags.
type options struct {
	// kazooPython runs kazoo's contender: Debian's interpreter, whose
	// dist-packages hold python3-kazoo (a pyenv python3 on PATH would not).
	kazooPython string
}

func defaultOptions() options { return options{kazooPython: "/usr/bin/python3"} }

func newApp(stdout, stderr io.Writer, o options) *cli.App {
	return &cli.App{
		Name:      "amkeeper-bench",
		Usage:     "benchmarks of amkeeper on this machine (each starts its own throwaway ZooKeeper)",
		Writer:    stdout,
		ErrWriter: stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: flagLogLevel, Value: "info", Usage: "log level: trace, debug, info, warn or error"},
			&cli.StringFlag{Name: flagLogFormat, Value: string(logging.FormatAuto), Usage: "log format: auto (console on a terminal, JSON otherwise), console or json"},
			&cli.StringFlag{Name: flagYarnSession, EnvVars: []string{"AMKEEPER_YARN_SESSION"},
				Usage: "the yarn-session binary that failover and recovery --tms start sessions with " +
					"(default: yarn-session next to this binary, else built from this module with go build)"},
		},
		// urfave/cli prints and exits on its own for usage errors unless told
		// otherwise; main reports every error in one place.
		ExitErrHandler: func(*cli.Context, error) {},
		// A bad --log-level or --log-format is a usage error before anything runs.
		Before: func(c *cli.Context) error {
			_, err := newLogger(c, "amkeeper-bench")
			return err
		},
		Commands: []*cli.Command{
			failoverCommand(),
			faultsCommand(),
			electionCommand(o),
			recoveryCommand(),
			electionContenderCommand(),
		},
	}
}

// newLogger builds a command's logger from the root flags; a bad flag is a
// usage error.
func newLogger(c *cli.Context, role string) (zerolog.Logger, error) {
	log, err := logging.New(logging.Options{
		Level:  c.String(flagLogLevel),
		Format: logging.Format(c.String(flagLogFormat)),
		Out:    c.App.ErrWriter,
		Role:   role,
	})
	if err != nil {
		return log, cli.Exit(err.Error(), exitUsage)
	}
	return log, nil
}

func exitCode(err error) int {
	var coder cli.ExitCoder
	if errors.As(err, &coder) {
		return coder.ExitCode()
	}
	return exitFailure
}
