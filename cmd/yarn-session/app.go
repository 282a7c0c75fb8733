package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/internal/entry"
	"github.com/amkeeper/amkeeper/internal/logging"
)

// Flag names shared by the root command and subcommands.
const (
	flagConfDir   = "conf-dir"
	flagDynamic   = "D"
	flagLogLevel  = "log-level"
	flagLogFormat = "log-format"
	flagAppID     = "applicationId"
)

// envConfDir is the variable Flink's scripts use for the configuration directory.
const envConfDir = "FLINK_CONF_DIR"

func newApp(stdout, stderr io.Writer) *cli.App {
	return withConventions(&cli.App{
		Name:      "yarn-session",
		Usage:     "run an application master under an attempt supervisor with ZooKeeper high availability",
		Writer:    stdout,
		ErrWriter: stderr,
		Flags:     append(commonFlags(), sessionFlags()...),
		Action:    runSession,
		// urfave/cli prints and exits on its own for usage errors unless told
		// otherwise; main reports every error in one place.
		ExitErrHandler: func(*cli.Context, error) {},
		// -D values hold commas (port lists, ZooKeeper quorums): one -D is one
		// property, never split.
		DisableSliceFlagSeparator: true,
		Before:                    setupLogger,
		Commands: append([]*cli.Command{
			configCommand(),
			haCommand(),
			hidden(entry.AMCommand()),
			budgetCommand(),
			superviseCommand(),
			keeperCommand(),
			demoCommand(),
			zookeeperCommand(),
			jobManagerCommand(),
			taskManagerCommand(),
			hidden(tmKeepCommand()),
			secretCommand(),
		}, append(append(sessionCommands(), jobCommands()...), clusterCommands()...)...),
	})
}

// commonFlags are accepted both before and after a subcommand, so
// `yarn-session -D k=v config` and `yarn-session config -D k=v` mean the same.
func commonFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{
			Name:    flagConfDir,
			Usage:   "configuration directory holding flink-conf.yaml, masters and zoo.cfg",
			Value:   "./conf",
			EnvVars: []string{envConfDir},
		},
		&cli.StringSliceFlag{
			Name:  flagDynamic,
			Usage: "dynamic property `key=value`; repeatable; wins over flink-conf.yaml",
		},
		&cli.StringFlag{
			Name:  flagLogLevel,
			Usage: "log level: trace, debug, info, warn or error",
			Value: "info",
		},
		&cli.StringFlag{
			Name:  flagLogFormat,
			Usage: "log format: auto (console on a terminal, JSON otherwise), console or json",
			Value: string(logging.FormatAuto),
		},
	}
}

// lineageString returns the innermost explicitly set value of a common flag, or
// the root's value (its default or environment variable) when none is set.
func lineageString(c *cli.Context, name string) string {
	lineage := c.Lineage()
	for _, ctx := range lineage {
		if ctx.IsSet(name) {
			return ctx.String(name)
		}
	}
	return lineage[len(lineage)-1].String(name)
}

// lineageDynamic collects -D values from the root outwards, so a property given
// after the subcommand wins over one given before it.
func lineageDynamic(c *cli.Context) []string {
	var out []string
	lineage := c.Lineage()
	for i := len(lineage) - 1; i >= 0; i-- {
		if lineage[i].IsSet(flagDynamic) {
			out = append(out, lineage[i].StringSlice(flagDynamic)...)
		}
	}
	return out
}

// metaLogger is the App.Metadata key under which Before stores the logger.
const metaLogger = "logger"

// setupLogger validates the logging flags before any command runs, so a bad
// --log-level is a usage error, and keeps the logger for commands.
func setupLogger(c *cli.Context) error {
	log, err := newLogger(c, "yarn-session")
	if err != nil {
		return cli.Exit(err.Error(), exitUsage)
	}
	if c.App.Metadata == nil {
		c.App.Metadata = map[string]interface{}{}
	}
	c.App.Metadata[metaLogger] = log
	return nil
}

// logger returns the logger set up by Before.
func logger(c *cli.Context) zerolog.Logger {
	if l, ok := c.App.Metadata[metaLogger].(zerolog.Logger); ok {
		return l
	}
	return zerolog.Nop()
}

func newLogger(c *cli.Context, role string) (zerolog.Logger, error) {
	return logging.New(logging.Options{
		Level:  lineageString(c, flagLogLevel),
		Format: logging.Format(lineageString(c, flagLogFormat)),
		Out:    c.App.ErrWriter,
		Role:   role,
	})
}

// loadConfig reads the configuration directory and -D properties. A validation
// failure returns the loaded configuration together with the error, so callers
// can still show what was read.
func loadConfig(c *cli.Context, appID string) (*conf.Config, error) {
	if appID != "" {
		if _, err := containers.ParseAppID(appID); err != nil {
			return nil, fmt.Errorf("-id: %w", err)
		}
	}
	return conf.Load(conf.Options{
		Dir:           lineageString(c, flagConfDir),
		Dynamic:       lineageDynamic(c),
		ApplicationID: appID,
	})
}

// Exit codes.
const (
	exitFailure     = 1
	exitUsage       = 2
	exitInvalidConf = 3
)

func exitCode(err error) int {
	var coder cli.ExitCoder
	if errors.As(err, &coder) {
		return coder.ExitCode()
	}
	return exitFailure
}

// hidden marks a process command the supervisor runs by re-executing this binary.
func hidden(c *cli.Command) *cli.Command {
	c.Hidden = true
	return c
}
