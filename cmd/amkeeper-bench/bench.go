package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/sessionctl"
	"github.com/amkeeper/amkeeper/internal/zkserver"
	"github.com/amkeeper/amkeeper/supervisor"
)

// yarnSessionPackage is what the benches build when no yarn-session binary is
// given or found next to this one.
const yarnSessionPackage = "github.com/amkeeper/amkeeper/cmd/yarn-session"

// bench is one benchmark run: a temporary directory (named after the bench) with
// a throwaway ZooKeeper under it.
type bench struct {
	dir     string
	connect string // the ZooKeeper's connect string
	zk      *zkserver.Throwaway
	log     zerolog.Logger
}

// startBench builds the command's logger from the root flags and starts its
// bench; errors are the command's to return.
func startBench(c *cli.Context, name string) (*bench, error) {
	log, err := newLogger(c, "amkeeper-bench")
	if err != nil {
		return nil, err
	}
	b, err := newBench(c.Context, name, log)
	if err != nil {
		return nil, cli.Exit(err.Error(), exitFailure)
	}
	return b, nil
}

func newBench(ctx context.Context, name string, log zerolog.Logger) (*bench, error) {
	dir, err := os.MkdirTemp("", "amkeeper-bench-"+name+"-")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	zk, err := zkserver.StartThrowaway(ctx, dir, zerolog.Nop())
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &bench{dir: dir, connect: zk.ConnectString(), zk: zk, log: log}, nil
}

// close stops the ZooKeeper and removes the directory.
func (b *bench) close() {
	_ = b.zk.Stop()
	os.RemoveAll(b.dir)
}

// yarnSession returns the yarn-session binary to start sessions with: given (the
// --yarn-session flag), else yarn-session next to this binary (both installed
// together), else built from this module into the bench's directory, so that
// `go run ./cmd/amkeeper-bench` measures the code beside it.
func (b *bench) yarnSession(ctx context.Context, given string) (string, error) {
	if given != "" {
		return given, nil
	}
	if exe, err := os.Executable(); err == nil {
		sibling := filepath.Join(filepath.Dir(exe), "yarn-session")
		if fi, err := os.Stat(sibling); err == nil && fi.Mode().IsRegular() {
			return sibling, nil
		}
	}
	bin := filepath.Join(b.dir, "yarn-session")
	b.log.Info().Str("package", yarnSessionPackage).Msg("building yarn-session (give --yarn-session to skip this)")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, yarnSessionPackage).CombinedOutput(); err != nil {
		return "", fmt.Errorf("build yarn-session (run from the amkeeper module, or give --yarn-session): %w\n%s", err, out)
	}
	return bin, nil
}

// startSession starts a detached session of yarnSession under dir (its conf
// directory dir/conf, storage dir/storage, application directories dir/home) on
// the bench's ZooKeeper with a 10 s session: a budget of kills+2 attempts and no
// failure window, so that the bench's own kills never end it, and no crash-loop
// backoff (its kills follow each other within seconds, which the supervisor
// would otherwise take for a crash loop and delay: the bench measures the
// failover itself); extra adds yarn-session flags such as -n.
func (b *bench) startSession(ctx context.Context, yarnSession, dir string, kills int, heartbeat string, extra ...string) (*sessionctl.Detached, error) {
	confDir := filepath.Join(dir, "conf")
	if err := os.MkdirAll(confDir, 0o700); err != nil {
		return nil, err
	}
	budget := strconv.Itoa(kills + 2)
	args := append([]string{"--conf-dir", confDir}, extra...)
	args = append(args, sessionctl.DynamicArgs([]string{"high-availability.type=zookeeper", "high-availability.zookeeper.quorum=" + b.connect,
		"high-availability.storageDir=" + hdfsstore.FileURI(filepath.Join(dir, "storage")), "high-availability.zookeeper.client.session-timeout=10 s",
		"yarn.application-attempts=" + budget, "yarn.resourcemanager.am.max-attempts=" + budget,
		"yarn.application-attempt-failures-validity-interval=-1", "amkeeper.attempts.backoff.initial=0",
		"heartbeat.interval=" + heartbeat, "rest.port=0"})...)
	return sessionctl.StartDetached(ctx, yarnSession, filepath.Join(dir, "home"), args...)
}

// sessionRSS describes the resident sets of a session's processes.
func sessionRSS(st supervisor.Status) string {
	return fmt.Sprintf("supervisor %s, AM %s, TaskManagers %s", sessionctl.RSS(st.SupervisorPID), sessionctl.RSS(st.AMPID),
		sessionctl.RSSAll(sessionctl.ContainerPIDs(st)))
}
