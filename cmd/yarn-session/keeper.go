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

// Keeper limits: it restarts a child that died at most keeperRestarts times
// within keeperWindow, keeperDelay after each death.
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
			return keep(c, kept{
				what: "the supervisor",
				args: []string{exe, "--log-format", "json", "--log-level", lineageString(c, flagLogLevel), "supervise", "--" + flagAppDir, c.String(flagAppDir)},
				note: "it adopts the AM and containers that kept running",
				hint: "`yarn-session -id` restarts it by hand",
			})
		},
	}
}

// kept is a child process a keeper keeps running.
type kept struct {
	what string   // "the supervisor", for the logs
	args []string // the command line, executable first
	env  []string // nil: the keeper's own environment
	// anyExit restarts the child after any exit the keeper did not ask for;
	// otherwise only after a death by a signal (an exit of its own is final).
	anyExit bool
	note    string // what a restart means, for the log line
	hint    string // how to restart it by hand once the keeper gives up
}

// keep runs k.args as a child until it ends for good: restarted after a death
// (see kept.anyExit) at most keeperRestarts times within keeperWindow. SIGTERM
// and SIGINT are passed on and end it; the child's exit code becomes the
// keeper's.
func keep(c *cli.Context, k kept) error {
	log := logger(c)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sigs)
	var deaths []time.Time
	for {
		cmd := exec.Command(k.args[0], k.args[1:]...)
		cmd.Stdout, cmd.Stderr, cmd.Env = os.Stdout, os.Stderr, k.env
		if err := cmd.Start(); err != nil {
			return cli.Exit(fmt.Sprintf("keep: start %s: %v", k.what, err), exitFailure)
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
		if stopping {
			if werr == nil {
				return nil
			}
			var ee *exec.ExitError
			if !errors.As(werr, &ee) {
				return werr
			}
			return cli.Exit("", ee.ExitCode())
		}
		var ee *exec.ExitError
		if !k.anyExit {
			if werr == nil || !errors.As(werr, &ee) {
				return werr
			}
			if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
				return cli.Exit("", ee.ExitCode())
			}
		}
		how := "exit 0"
		if errors.As(werr, &ee) {
			how = ee.ProcessState.String()
		}
		now := time.Now()
		deaths = append(deaths, now)
		for len(deaths) > 0 && now.Sub(deaths[0]) > keeperWindow {
			deaths = deaths[1:]
		}
		if len(deaths) > keeperRestarts {
			log.Error().Int("deaths", len(deaths)).Dur("window", keeperWindow).Int("pid", cmd.Process.Pid).
				Msg(k.what + " keeps dying: not restarting it; " + k.hint)
			return cli.Exit("", exitFailure)
		}
		log.Warn().Int("pid", cmd.Process.Pid).Str("exit", how).Dur("restart_in", keeperDelay).
			Msg(k.what + " died: restarting it; " + k.note)
		select {
		case <-time.After(keeperDelay):
		case <-sigs:
			// Stopped while no child runs.
			return cli.Exit(fmt.Sprintf("keep: stopped while %s was down; %s", k.what, k.hint), exitFailure)
		}
	}
}
