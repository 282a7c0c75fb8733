package sessionctl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"

	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/privdir"
	"github.com/amkeeper/amkeeper/supervisor"
)

// EnvHome overrides where yarn-session keeps application directories.
const EnvHome = privdir.EnvHome

// stopWithin bounds how long Stop waits for a session to be gone.
const stopWithin = 60 * time.Second

// Detached is a session started by StartDetached.
type Detached struct {
	AppID  string
	Client *supervisor.ControlClient // the supervisor's control socket
	appDir string
}

// startedLine is the line of a detached start that names the session.
var startedLine = regexp.MustCompile(`(?m)^Session (application_\d+_\d+) started`)

// StartDetached runs `exe ARGS -d` (exe is a yarn-session binary) with its
// application directories under home, as a user would, and returns the session
// once its AM leads (the start returns only then).
func StartDetached(ctx context.Context, exe, home string, args ...string) (*Detached, error) {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, fmt.Errorf("start the session: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe, append(args, "-d")...)
	// TMPDIR too: the session's .yarn-properties file (Flink's record of the last
	// session) belongs to this run, not to the user's own sessions.
	cmd.Env = append(os.Environ(), EnvHome+"="+home, "TMPDIR="+home)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("start the session: %w\n%s", err, out)
	}
	m := startedLine.FindSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("start the session: no %q line in its output:\n%s", "Session <application-id> started", out)
	}
	appID := string(m[1])
	appDir := filepath.Join(home, appID)
	return &Detached{AppID: appID, Client: supervisor.NewControlClient(appDir), appDir: appDir}, nil
}

// Secret reads the session's application secret (see SessionSecret).
func (d *Detached) Secret() (appsecret.Secret, error) { return SessionSecret(d.appDir) }

// SessionSecret reads the application secret of the session whose directory is
// appDir: the REST calls that change its state carry it (Command). Only the
// session's own user can read it.
func SessionSecret(appDir string) (appsecret.Secret, error) {
	s, err := appsecret.Load(supervisor.SecretPath(appDir))
	if err != nil {
		return appsecret.Secret{}, fmt.Errorf("the session's application secret (only the user who started the session may change it): %w", err)
	}
	return s, nil
}

// Stop asks the supervisor to stop the session and waits until it is gone. It
// does not depend on the context the session was started under.
func (d *Detached) Stop() {
	_ = d.Client.Stop(context.Background())
	_ = WaitGone(context.Background(), supervisor.ControlSocket(d.appDir), stopWithin)
}

// DynamicArgs turns key=value properties into yarn-session's -D flags.
func DynamicArgs(props []string) []string {
	args := make([]string, 0, 2*len(props))
	for _, p := range props {
		args = append(args, "-D", p)
	}
	return args
}

// WaitGone waits until path no longer exists.
func WaitGone(ctx context.Context, path string, within time.Duration) error {
	_, err := Poll(ctx, within, func() (struct{}, bool) {
		_, err := os.Stat(path)
		return struct{}{}, errors.Is(err, os.ErrNotExist)
	}, path+" still there")
	return err
}

// ContainerPIDs lists the PIDs of a session's containers.
func ContainerPIDs(s supervisor.Status) []int {
	var pids []int
	for _, c := range s.Containers {
		pids = append(pids, c.PID)
	}
	return pids
}
