package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
)

// Keeper limits: it restarts a supervisor that died at most keeperRestarts
// times within keeperWindow, keeperDelay after each death.
const (
	keeperRestarts = 5
	keeperWindow   = 10 * time.Minute
	keeperDelay    = time.Second
)

// keeperCommand is the detached launcher: it runs `supervise` as its child and
// restarts it when it dies of a signal (SIGKILL, a crash) without ending the
// application; the new supervisor adopts what runs. An exit of its own (the
// application ended, was stopped, or the supervisor refused to start) ends the
// keeper with the same code. SIGTERM and SIGINT are passed on (they stop the
// application). The supervisor gets no parent-death signal from it: a keeper
// that dies leaves the supervisor running, only without a restart.
func keeperCommand() *cli.Command {
	return &cli.Command{
		Name:   "keep",
		Hidden: true,
		Flags:  []cli.Flag{&cli.StringFlag{Name: flagAppDir, Required: true}},
		Action: func(c *cli.Context) error {
			exe, err := os.Executable()
			if err != nil {
				return cli.Exit(fmt.Sprintf("keep: %v", err), exitFailure)
			}
			log := logger(c)
			sigs := make(chan os.Signal, 1)
			signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
			defer signal.Stop(sigs)
			var deaths []time.Time
			for {
				cmd := exec.Command(exe, "--log-format", "json", "--log-level", lineageString(c, flagLogLevel), "supervise", "--"+flagAppDir, c.String(flagAppDir))
				cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
				if err := cmd.Start(); err != nil {
					return cli.Exit(fmt.Sprintf("keep: start the supervisor: %v", err), exitFailure)
				}
				waited := make(chan error, 1)
				go func() { waited <- cmd.Wait() }()
				var werr error
				stopping := false
			wait:
				for {
					select {
					case sig := <-sigs:
						stopping = true
						_ = cmd.Process.Signal(sig)
					case werr = <-waited:
						break wait
					}
				}
				var ee *exec.ExitError
				if werr == nil || !errors.As(werr, &ee) {
					return werr
				}
				ws, ok := ee.Sys().(syscall.WaitStatus)
				if !ok || !ws.Signaled() || stopping {
					return cli.Exit("", ee.ExitCode())
				}
				now := time.Now()
				deaths = append(deaths, now)
				for len(deaths) > 0 && now.Sub(deaths[0]) > keeperWindow {
					deaths = deaths[1:]
				}
				if len(deaths) > keeperRestarts {
					log.Error().Int("deaths", len(deaths)).Dur("window", keeperWindow).Int("pid", cmd.Process.Pid).
						Msg("the supervisor keeps dying: not restarting it; `yarn-session -id` restarts it by hand")
					return cli.Exit("", exitFailure)
				}
				log.Warn().Int("pid", cmd.Process.Pid).Str("signal", ws.Signal().String()).Dur("restart_in", keeperDelay).
					Msg("the supervisor died: restarting it; it adopts the AM and containers that kept running")
				select {
				case <-time.After(keeperDelay):
				case sig := <-sigs:
					// Stopped while no supervisor runs: the next one stops the application.
					_ = sig
					return cli.Exit("keep: stopped while the supervisor was down; `yarn-session -id` restarts it, `stop` then ends it", exitFailure)
				}
			}
		},
	}
}
