package supervisor

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery/haservices"
	"github.com/amkeeper/amkeeper/recovery/zkha"
)

// Session is what a configuration does not say about one application: which it
// is, where it runs, and its shape (yarn-session's -n, -tm, -s).
type Session struct {
	App containers.AppID
	// Dir is the application directory (Config.Dir), made absolute. Embedded high
	// availability (mode NONE) keeps its data under <Dir>/ha.
	Dir string
	// TaskManagers is how many containers the AM keeps.
	TaskManagers int
	// TaskManagerMemory is each container's memory in bytes; 0:
	// taskmanager.memory.process.size.
	TaskManagerMemory int64
	// Slots is the slots per TaskManager; 0: taskmanager.numberOfTaskSlots.
	Slots int
	// AMMemory is the application master's memory in bytes (-jm); 0:
	// jobmanager.memory.process.size.
	AMMemory int64
	// RESTPort is the REST port the session picked once and keeps across its
	// attempts (Config.RESTPort); 0: rest.bind-port or rest.port decide.
	RESTPort int
	// Executable is Config.Executable ("": this process's own executable).
	Executable string
	// OneMaster: this supervisor runs one master of a cluster whose masters run
	// on several hosts (yarn-session jobmanager start): one AM, however many
	// lines conf/masters has, and the application secret of
	// amkeeper.secret.file.
	OneMaster bool
	// Logger is the supervisor's logger. The process sets the role and app fields on
	// it once (the supervisor and the container manager add neither, so no line
	// repeats a key).
	Logger zerolog.Logger
}

// ConfigFrom builds the supervisor's Config for session s from the
// configuration c, the one place that maps configuration onto the supervisor:
//
//   - Budget: attempts.BudgetFromConf (yarn.application-attempts capped by
//     yarn.resourcemanager.am.max-attempts, the validity interval); a cap is
//     logged as a warning naming both keys.
//   - Backoff: attempts.BackoffFromConf (amkeeper.attempts.backoff.*).
//   - RESTPort: the session's (Session.RESTPort).
//   - Containers: amkeeper.containers.across-attempts (keep or restart-all).
//   - StandbyPorts: one AM per conf/masters line, each with its web UI port,
//     when the masters file lists more than one, unless Session.OneMaster
//     (then SecretFile: amkeeper.secret.file, required).
//   - ZooKeeper: high-availability.zookeeper.quorum when high availability uses
//     ZooKeeper, so the supervisor closes a reaped AM's session (fast fencing),
//     with ZooKeeperDialer, how the AMs connect (TLS with zookeeper.client.secure),
//     and ZooKeeperSASL, the AM's SASL login.
//   - History: the store at high-availability.storageDir (in mode NONE without
//     one, <Dir>/ha/<cluster-id>/storage: the AM's own), opened here; close it
//     with Config.Close once the supervisor has stopped.
//   - ProcessArgs: the configuration directory, the -D items of c and the
//     cluster ID, so every AM and TaskManager reads the configuration the
//     supervisor read; ProcessEnv: the -D items whose keys are secrets
//     (conf.EnvSecretDynamic), never put on a command line.
func ConfigFrom(ctx context.Context, c *conf.Config, s Session) (Config, error) {
	if c == nil {
		return Config{}, errors.New("supervisor: no configuration")
	}
	dir, err := filepath.Abs(s.Dir)
	if err != nil {
		return Config{}, fmt.Errorf("supervisor: application directory %s: %w", s.Dir, err)
	}
	log := s.Logger
	budget, warnings := attempts.BudgetFromConf(c)
	for _, w := range warnings {
		log.Warn().Str(logging.Key, w.Key).Msg(w.String())
	}
	cfg := Config{
		App: s.App, Dir: dir, Budget: budget, Backoff: attempts.BackoffFromConf(c), RESTPort: s.RESTPort, Executable: s.Executable,
		TaskManagers: s.TaskManagers, TaskManagerMemory: s.TaskManagerMemory, AMMemory: s.AMMemory, Slots: s.Slots,
		Containers: containers.Keep,
		Logger:     log,
	}
	if cfg.AMMemory == 0 {
		cfg.AMMemory = c.JobManagerProcessSize()
	}
	if spec, ok := c.MetricsPromPort(); ok {
		cfg.MetricsPort, cfg.MetricsHost = &spec, c.MetricsPromHost()
	}
	if cfg.TaskManagerMemory == 0 {
		cfg.TaskManagerMemory = c.TaskManagerProcessSize()
	}
	if cfg.Slots == 0 {
		cfg.Slots = c.TaskManagerSlots()
	}
	if c.ContainersAcrossAttempts() == conf.ContainersRestartAll {
		cfg.Containers = containers.RestartAll
	}
	if s.OneMaster {
		if cfg.SecretFile = c.String(conf.SecretFile); cfg.SecretFile == "" {
			return Config{}, fmt.Errorf("supervisor: a master of a cluster on several hosts needs %s: the application secret file every host shares", conf.SecretFile.Key())
		}
	} else if masters := c.Masters(); len(masters) > 1 {
		// The seeds' standalone HA cluster: one AM per conf/masters line, all on
		// this machine, each with the line's web UI port.
		for _, m := range masters {
			cfg.StandbyPorts = append(cfg.StandbyPorts, strconv.Itoa(m.WebUIPort))
		}
		log.Info().Int("ams", len(cfg.StandbyPorts)).Msg("hot standby: one AM per conf/masters entry")
	}
	if c.HAMode() == conf.HAZooKeeper {
		cfg.ZooKeeper = c.Quorum()
		if cfg.ZooKeeperDialer, err = zkha.Dialer(c); err != nil {
			return Config{}, fmt.Errorf("supervisor: %w", err)
		}
		cfg.ZooKeeperSASL = zkha.SASLConfig(c)
	}
	localDir := filepath.Join(dir, "ha")
	cfg.ProcessArgs, cfg.ProcessEnv, err = processArgs(c, localDir)
	if err != nil {
		return Config{}, err
	}
	// The same storage the AM's HA services use, so the AM can serve the history.
	uri := haservices.StorageURI(c, localDir)
	if cfg.History, err = hdfsstore.Open(ctx, uri); err != nil {
		return Config{}, fmt.Errorf("supervisor: attempt history: %s %s: %w", conf.HAStorageDir.Key(), uri, err)
	}
	return cfg, nil
}

// ProcessArgs returns what ConfigFrom gives every process the supervisor starts
// (processArgs), for a TaskManager that runs without one: a daemon per host.
func ProcessArgs(c *conf.Config, localDir string) (args, env []string, err error) {
	return processArgs(c, localDir)
}

// processArgs are the arguments every AM and TaskManager process gets: where
// embedded high availability keeps its data, the configuration directory
// (absolute: the processes run in their own directories), each -D item, and the
// cluster ID pinned to the one the supervisor resolved. A -D item whose key is a
// secret never goes on a command line (every user can read those): it travels
// in the environment (conf.EnvSecretDynamic), the second result.
func processArgs(c *conf.Config, localDir string) (args, env []string, err error) {
	args = []string{"--local-dir", localDir}
	if d := c.Dir(); d != "" {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, nil, fmt.Errorf("supervisor: configuration directory %s: %w", d, err)
		}
		args = append(args, "--conf-dir", abs)
	}
	public, secret, err := conf.SplitSecretDynamic(c.Dynamic())
	if err != nil {
		return nil, nil, fmt.Errorf("supervisor: %w", err)
	}
	for _, kv := range append(public, conf.HAClusterID.Key()+"="+c.ClusterID()) {
		args = append(args, "-D", kv)
	}
	if len(secret) > 0 {
		env = append(env, conf.EnvSecretDynamic+"="+strings.Join(secret, "\n"))
	}
	return args, env, nil
}

// Close closes the attempt history store (opened by ConfigFrom). Call it once
// the supervisor has stopped.
func (c Config) Close() error {
	if c.History == nil {
		return nil
	}
	if err := c.History.Close(); err != nil {
		return fmt.Errorf("supervisor: close the attempt history store: %w", err)
	}
	return nil
}
