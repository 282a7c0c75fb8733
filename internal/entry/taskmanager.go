package entry

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/flinkssl"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery/haservices"
	"github.com/amkeeper/amkeeper/taskmanager"
)

// TaskManagerCommand runs one TaskManager container process.
func TaskManagerCommand() *cli.Command {
	return &cli.Command{
		Name:  "taskmanager",
		Usage: "run one TaskManager container (started by the supervisor)",
		Flags: append(commonFlags(),
			&cli.StringFlag{Name: FlagContainerID, EnvVars: []string{containers.EnvContainerID}, Usage: "container ID"},
			&cli.IntFlag{Name: FlagSlots, Value: 1, Usage: "task slots"},
		),
		Action: runTaskManager,
	}
}

func runTaskManager(c *cli.Context) error {
	cfg, log, err := setup(c, "taskmanager")
	if err != nil {
		return err
	}
	id := c.String(FlagContainerID)
	if id == "" {
		return cli.Exit(fmt.Sprintf("taskmanager: no container ID: set --%s or %s", FlagContainerID, containers.EnvContainerID), 2)
	}
	secret, err := appsecret.FromEnv(nil)
	if err != nil {
		return cli.Exit(fmt.Sprintf("taskmanager: %v", err), 2)
	}
	internalTLS, err := flinkssl.Internal(cfg)
	if err != nil {
		return cli.Exit(fmt.Sprintf("taskmanager: internal TLS: %v", err), 2)
	}
	log = log.With().Str(logging.Container, id).Int(logging.PID, os.Getpid()).Logger()
	svc, err := haservices.Open(c.Context, cfg, haservices.Options{LocalDir: c.String(FlagLocalDir), Logger: log})
	if err != nil {
		return cli.Exit(fmt.Sprintf("taskmanager: high availability: %v", err), 1)
	}
	defer svc.Close()
	tm := taskmanager.New(taskmanager.Config{ContainerID: id, Slots: c.Int(FlagSlots), Leaders: svc, Logger: log, Secret: secret, TLS: internalTLS,
		BindHost: cfg.TaskManagerBindHost(), Host: cfg.TaskManagerHost(), Ports: cfg.TaskManagerRPCPort(),
		CommandTimeout: cfg.CheckpointingTimeout(), LeaderlessGrace: cfg.TaskManagerLeaderlessGrace(),
		Tasks: taskmanager.TaskEnv{Storage: svc.Storage(), State: svc.StateStorage(), StateRoot: svc.StateRoot(), OutputRoot: taskmanager.OutputRoot}})
	if err := tm.Run(c.Context); err != nil && !errors.Is(err, context.Canceled) {
		return cli.Exit(fmt.Sprintf("taskmanager: %v", err), 1)
	}
	return nil
}
