package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/supervisor"
)

// appCommands are the commands that act on a running application, each as
// called with -id id.
func appCommands(id string) [][]string {
	return [][]string{
		{"kill-am", "-id", id},
		{"list", "-id", id},
		{"cancel", "-id", id, "0123456789abcdef0123456789abcdef"},
		{"run", "-id", id, "../../docs/examples/counting.yaml"},
		{"checkpoints", "fallback", "-id", id, "--to", "1", "0123456789abcdef0123456789abcdef"},
		{"-id", id}, // attach
	}
}

// TestCommandsOnAnEndedApplication: every command that acts on a running
// application answers an ended one as status does — exit 5, "application …
// has ended: FAILED, final status FAILED (budget-exhausted) after 2 attempt(s)
// at …" from its ended.json — instead of a failed dial of its control socket;
// stop answers exit 0, "has already ended", as `yarn application -kill` does for
// a finished application.
func TestCommandsOnAnEndedApplication(t *testing.T) {
	endedAppDir(t)
	const hasEnded = "application " + endedApp + " has ended: FAILED, final status FAILED (budget-exhausted) after 2 attempt(s) at 2026-12-03T15:23:15Z; yarn-session status -id " + endedApp + " reports it"
	for _, cmd := range appCommands(endedApp) {
		what := cmd[0]
		switch what {
		case "-id":
			what = "attach"
		case "checkpoints":
			what = "checkpoints fallback"
		}
		msg, code := runErr(t, cmd...)
		require.Equal(t, exitEnded, code, what)
		require.Equal(t, what+": "+hasEnded, msg)
	}

	out, code := run(t, "stop", "-id", endedApp)
	require.Equal(t, 0, code)
	require.Equal(t, "Application "+endedApp+" has already ended: FAILED, final status FAILED (budget-exhausted) after 2 attempt(s).\n", out)
}

// TestCommandsOnAnEndedApplicationWhileItsSupervisorStops: the supervisor still
// answers but reports the end (it is stopping the containers) and has not
// written ended.json yet: the commands answer exit 5 from its state; stop says
// it has already ended.
func TestCommandsOnAnEndedApplicationWhileItsSupervisorStops(t *testing.T) {
	_, dir := endedAppDir(t)
	require.NoError(t, os.Remove(filepath.Join(dir, endedFile)))
	serveFakeSupervisor(t, dir, supervisor.Status{ApplicationID: endedApp, State: "KILLED", SupervisorPID: 4242}, nil)
	msg, code := runErr(t, "kill-am", "-id", endedApp)
	require.Equal(t, exitEnded, code)
	require.Equal(t, "kill-am: application "+endedApp+" has ended: KILLED, final status KILLED (its supervisor, pid 4242, is stopping it)", msg)
	out, code := run(t, "stop", "-id", endedApp)
	require.Equal(t, 0, code)
	require.Equal(t, "Application "+endedApp+" has already ended: KILLED, final status KILLED; its supervisor (pid 4242) is stopping it.\n", out)
}

// TestCommandsOnAnUnknownApplication: every command that addresses an
// application answers an ID without an application directory exit 4, "no such
// application: … (looked in …)", as status does; stop too.
func TestCommandsOnAnUnknownApplication(t *testing.T) {
	home, _ := endedAppDir(t)
	const unknown = "application_1_0001"
	for _, cmd := range append(appCommands(unknown), []string{"stop", "-id", unknown}, []string{"status", "-id", unknown}, []string{"logs", "-id", unknown}) {
		msg, code := runErr(t, cmd...)
		require.Equal(t, exitNoSuchApp, code, "%v", cmd)
		require.Equal(t, "no such application: "+unknown+" (looked in "+home+")", msg, "%v", cmd)
	}
}

// TestCommandsOnAnApplicationWhoseSupervisorDied: no supervisor, no end
// record, but a record of running processes: exit 1 saying how to restart the
// supervisor, as status says.
func TestCommandsOnAnApplicationWhoseSupervisorDied(t *testing.T) {
	_, dir := endedAppDir(t)
	require.NoError(t, os.Remove(filepath.Join(dir, endedFile)))
	require.NoError(t, os.WriteFile(supervisor.RecordPath(dir), []byte(`{}`), 0o600))
	for _, cmd := range [][]string{{"kill-am"}, {"stop"}, {"list"}, {"status"}} {
		msg, code := runErr(t, append(cmd, "-id", endedApp)...)
		require.Equal(t, exitFailure, code, "%v", cmd)
		require.True(t, strings.HasPrefix(msg, cmd[0]+" "+endedApp+": "), msg)
		require.True(t, strings.HasSuffix(msg, "\nIts supervisor died; its AM and containers may still run. Restart the supervisor (it adopts them): yarn-session -id "+endedApp), msg)
	}
}
