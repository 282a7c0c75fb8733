package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/supervisor"
)

// application is the application a command addresses (appFromFlags).
type application struct {
	id  string
	dir string // its application directory
}

// appFromFlags resolves the application a command addresses, the one way every
// command that takes -id does: -id, else the session recorded in
// .yarn-properties-<user> (sessionID). An ID without an application directory
// is "no such application" (exit 4).
func appFromFlags(c *cli.Context) (application, error) {
	id, err := sessionID(c)
	if err != nil {
		return application{}, err
	}
	if ok, err := appExists(id); err == nil && !ok {
		return application{}, noSuchApp(id)
	}
	return application{id: id, dir: appDirOf(id)}, nil
}

// noSuchApp says that id has no application directory, naming where it looked.
func noSuchApp(id string) error {
	return cli.Exit(fmt.Sprintf("no such application: %s (looked in %s)", id, sessionsHome()), exitNoSuchApp)
}

// appExists reports whether id has an application directory.
func appExists(id string) (bool, error) {
	_, err := os.Stat(appDirOf(id))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// client is the application's supervisor's control client.
func (a application) client() *supervisor.ControlClient { return supervisor.NewControlClient(a.dir) }

// running asks the application's supervisor for its status, for the command
// what that acts on a running application. An application that does not run
// is answered as status answers it: exit 5 "application … has ended: …" from
// its ended.json (also while its supervisor still stops it), exit 1 naming how
// to restart a supervisor that died, exit 1 with the error otherwise.
func (a application) running(ctx context.Context, what string) (*supervisor.ControlClient, supervisor.Status, error) {
	client := a.client()
	st, err := client.Status(ctx)
	if err == nil && st.State == stateRunning {
		return client, st, nil
	}
	if e, rerr := readEnded(a.dir); rerr == nil {
		return nil, st, cli.Exit(what+": "+e.hasEnded(), exitEnded)
	}
	if err == nil { // the policy ended it; the supervisor is stopping and records how
		return nil, st, cli.Exit(fmt.Sprintf("%s: application %s has ended: %s, final status %s (its supervisor, pid %d, is stopping it)",
			what, a.id, stateOf(st.State), st.State, st.SupervisorPID), exitEnded)
	}
	return nil, st, a.unreachable(what, err)
}

// unreachable is the answer when the supervisor of an application that has not
// ended cannot be asked (err): its supervisor died (and how to restart it), or err.
func (a application) unreachable(what string, err error) error {
	if orphaned(a.dir) {
		return cli.Exit(fmt.Sprintf("%s %s: %v\nIts supervisor died; its AM and containers may still run. Restart the supervisor (it adopts them): yarn-session -id %s",
			what, a.id, err, a.id), exitFailure)
	}
	return cli.Exit(fmt.Sprintf("%s %s: %v", what, a.id, err), exitFailure)
}

// hasEnded says how the application ended, for a command that needs it running:
// "application … has ended: FAILED, final status FAILED (budget-exhausted) after
// 2 attempt(s) at …".
func (e ended) hasEnded() string {
	return fmt.Sprintf("application %s has ended: %s, final status %s (%s) after %d attempt(s) at %s; yarn-session status -id %s reports it",
		e.ApplicationID, stateOf(e.FinalStatus), e.FinalStatus, e.Reason, e.Attempts, e.End.Format(time.RFC3339), e.ApplicationID)
}
