package entry

import (
	"fmt"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/internal/logging"
)

// Flag names shared by the process commands and the supervisor that sets them.
const (
	FlagConfDir     = "conf-dir"
	FlagDynamic     = "D"
	FlagLogLevel    = "log-level"
	FlagAppID       = "application-id"
	FlagAttempt     = "attempt"
	FlagAttemptID   = "attempt-id"
	FlagRMSocket    = "rm-socket"
	FlagLocalDir    = "local-dir"
	FlagContainers  = "taskmanagers"
	FlagTMMemory    = "tm-memory"
	FlagSlots       = "slots"
	FlagRESTPort    = "rest-port"
	FlagContainerID = "container-id"
	FlagPrevExit    = "previous-exit"
)

func commonFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: FlagConfDir, Usage: "configuration directory", EnvVars: []string{"FLINK_CONF_DIR"}},
		&cli.StringSliceFlag{Name: FlagDynamic, Usage: "dynamic property `key=value`"},
		&cli.StringFlag{Name: FlagLogLevel, Value: "info", Usage: "log level"},
		&cli.StringFlag{Name: FlagAppID, Usage: "application ID (default cluster-id)"},
		&cli.StringFlag{Name: FlagLocalDir, Usage: "local directory for embedded high availability (NONE)"},
	}
}

// setup loads the configuration and builds the process's logger (JSON lines:
// these processes write to log files).
func setup(c *cli.Context, role string) (*conf.Config, zerolog.Logger, error) {
	log, err := logging.New(logging.Options{Level: c.String(FlagLogLevel), Format: logging.FormatJSON, Out: c.App.ErrWriter, Role: role})
	if err != nil {
		return nil, log, cli.Exit(err.Error(), 2)
	}
	if id := c.String(FlagAppID); id != "" {
		// It names directories and the default cluster-id: nothing but an application ID.
		if _, err := containers.ParseAppID(id); err != nil {
			return nil, log, cli.Exit(fmt.Sprintf("%s: --%s: %v", role, FlagAppID, err), 2)
		}
	}
	cfg, err := conf.Load(conf.Options{Dir: c.String(FlagConfDir), Dynamic: c.StringSlice(FlagDynamic), ApplicationID: c.String(FlagAppID)})
	if err != nil {
		return nil, log, cli.Exit(fmt.Sprintf("%s: configuration: %v", role, err), 3)
	}
	LogWarnings(log, cfg)
	if id := c.String(FlagAppID); id != "" {
		log = log.With().Str(logging.App, id).Logger()
	}
	return cfg, log, nil
}

// LogWarnings logs each of the configuration's warnings (deprecated, unknown, and
// recognised-but-not-honoured keys) as one line naming the key and its origin.
func LogWarnings(log zerolog.Logger, cfg *conf.Config) {
	for _, w := range cfg.Warnings() {
		log.Warn().Str(logging.Key, w.Key).Str(logging.Origin, w.Origin.String()).Msg(w.Msg)
	}
}
