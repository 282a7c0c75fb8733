package entry

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/flinkssl"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery/haservices"
	"github.com/amkeeper/amkeeper/recovery/zkha"
	"github.com/amkeeper/amkeeper/supervisor"
	"github.com/amkeeper/amkeeper/supervisor/rmapi"
)

// AMCommand runs one AM attempt.
func AMCommand() *cli.Command {
	return &cli.Command{
		Name:  "am",
		Usage: "run one application master attempt (started by the supervisor)",
		Flags: append(commonFlags(),
			&cli.IntFlag{Name: FlagAttempt, Value: 1, Usage: "attempt number"},
			&cli.StringFlag{Name: FlagAttemptID, Usage: "attempt ID, appattempt_<ts>_<seq>_<N>"},
			&cli.StringFlag{Name: FlagRMSocket, Usage: "the supervisor's unix socket (none: run without a supervisor)"},
			&cli.IntFlag{Name: FlagContainers, Value: 1, Usage: "TaskManager containers to keep"},
			&cli.Int64Flag{Name: FlagTMMemory, Value: 64 << 20, Usage: "memory per TaskManager (bytes)"},
			&cli.IntFlag{Name: FlagSlots, Value: 1, Usage: "slots per TaskManager"},
			&cli.StringFlag{Name: FlagRESTPort, Usage: "REST port spec (overrides rest.port)"},
			&cli.Int64Flag{Name: FlagPrevExit, Usage: "when the previous attempt was reaped (Unix nanoseconds): failover phases are timed from it"},
		),
		Action: runAM,
	}
}

func runAM(c *cli.Context) error {
	started := time.Now()
	origin := started
	if ns := c.Int64(FlagPrevExit); ns > 0 {
		origin = time.Unix(0, ns)
	}
	timeline := jobmanager.NewTimeline(origin)
	timeline.MarkAt(jobmanager.PhaseProcessStart, started)
	cfg, log, err := setup(c, "am")
	if err != nil {
		return err
	}
	secret, err := appsecret.FromEnv(nil)
	if err != nil {
		return cli.Exit(fmt.Sprintf("am: %v", err), 2)
	}
	internalTLS, err := flinkssl.Internal(cfg)
	if err != nil {
		return cli.Exit(fmt.Sprintf("am: internal TLS: %v", err), 2)
	}
	restTLS, err := flinkssl.REST(cfg)
	if err != nil {
		return cli.Exit(fmt.Sprintf("am: REST TLS: %v", err), 2)
	}
	svc, err := haservices.Open(c.Context, cfg, haservices.Options{LocalDir: c.String(FlagLocalDir), Logger: log})
	if err != nil {
		return cli.Exit(fmt.Sprintf("am: high availability: %v", err), 1)
	}
	defer svc.Close()
	timeline.Mark(jobmanager.PhaseZKConnected)
	amc := jobmanager.AMConfig{
		Observer: timeline,
		Conf:     cfg, Secret: secret, Internal: internalTLS, RESTTLS: restTLS, Election: svc.Election(), AttemptID: c.String(FlagAttemptID), Attempt: c.Int(FlagAttempt),
		TaskManagers: c.Int(FlagContainers), TaskManagerMemory: c.Int64(FlagTMMemory), Slots: c.Int(FlagSlots), Logger: log,
	}
	graphs, err := svc.JobGraphStore(c.Context)
	if err != nil {
		return cli.Exit(fmt.Sprintf("am: job graph store: %v", err), 1)
	}
	results, err := svc.JobResultStore()
	if err != nil {
		return cli.Exit(fmt.Sprintf("am: job result store: %v", err), 1)
	}
	amc.Jobs = &jobmanager.JobServices{Graphs: graphs, Results: results, Checkpoints: svc}
	if app := c.String(FlagAppID); app != "" {
		amc.AttemptHistory = func(ctx context.Context) ([]byte, error) {
			h, err := supervisor.ReadHistory(ctx, svc.Storage(), attempts.HistoryName(app))
			if err != nil {
				return nil, err
			}
			return json.Marshal(h)
		}
	}
	if s := c.String(FlagRESTPort); s != "" {
		spec, err := conf.ParsePortSpec(s)
		if err != nil {
			return cli.Exit(fmt.Sprintf("am: --%s: %v", FlagRESTPort, err), 2)
		}
		amc.RESTPort = &spec
	}
	if sock := c.String(FlagRMSocket); sock != "" {
		rm := rmapi.NewClient(sock, secret)
		defer rm.Close()
		amc.RM = rm
		if zk, ok := svc.Backend().(*zkha.Backend); ok {
			s := zk.Session()
			amc.Session = &rmapi.SessionCredentials{SessionID: s.ID, Password: s.Password}
		}
	}
	if err := jobmanager.NewAM(amc).Run(c.Context); err != nil {
		msg := err.Error()
		if !strings.HasPrefix(msg, "am: ") {
			msg = "am: " + msg
		}
		return cli.Exit(msg, 1)
	}
	return nil
}
