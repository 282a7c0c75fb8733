package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/entry"
	"github.com/amkeeper/amkeeper/internal/fsutil"
	"github.com/amkeeper/amkeeper/internal/privdir"
	"github.com/amkeeper/amkeeper/internal/procid"
	"github.com/amkeeper/amkeeper/internal/sessionctl"
	"github.com/amkeeper/amkeeper/supervisor"
)

// Daemons per host: the standalone cluster of the second seed, its masters and
// TaskManagers each started on their own host as Flink's jobmanager.sh and
// taskmanager.sh start them. A daemon's directory is
// <sessions home>/daemons/<kind>-<cluster-id>-<host>-<n> (n: a master's web UI
// port, a TaskManager's number on its host), holding daemon.json and its logs.

const (
	flagHost      = "host"
	flagWebUIPort = "webui-port"
	flagDaemonDir = "daemon-dir"
)

const (
	kindJobManager  = "jobmanager"
	kindTaskManager = "taskmanager"
	daemonFile      = "daemon.json"
	tmSpecFile      = "taskmanager.json"
	daemonStopWait  = 60 * time.Second
)

// daemonRecord is daemon.json: what a stop needs to find the daemon.
type daemonRecord struct {
	Kind      string `json:"kind"`
	ClusterID string `json:"clusterId"`
	Host      string `json:"host"`
	Port      int    `json:"webUIPort,omitempty"`
	// Process is the daemon: a master's supervisor, a TaskManager's keeper.
	Process procid.Identity `json:"process"`
}

// tmSpec is taskmanager.json: how the keeper of a TaskManager daemon runs it.
type tmSpec struct {
	ConfDir     string   `json:"confDir"`
	Dynamic     []string `json:"dynamic"`
	ContainerID string   `json:"containerId"`
	Slots       int      `json:"slots"`
	SecretFile  string   `json:"secretFile"`
}

func hostFlag(what string) cli.Flag {
	return &cli.StringFlag{Name: flagHost, Usage: "the host (name or address) this " + what + " is for, as conf/" + what + "s names it (default: this machine's host name)"}
}

func jobManagerCommand() *cli.Command {
	port := &cli.IntFlag{Name: flagWebUIPort, Usage: "the master's web UI (REST) port, as its conf/masters line gives it (0: the line's, else rest.port)"}
	return &cli.Command{
		Name:  "jobmanager",
		Usage: "start or stop a master (JobManager) daemon of a cluster spread over hosts, like Flink's jobmanager.sh",
		Subcommands: []*cli.Command{
			{
				Name:  "start",
				Usage: "start a standby-capable master on this host: a detached supervisor whose AM contends for leadership of the cluster-id",
				Description: "Needs high-availability.type: zookeeper and amkeeper.secret.file (the application secret every\n" +
					"host shares). With --host the master advertises that address (rest.address, jobmanager.rpc.address).\n" +
					"The supervisor restarts the AM within the restart budget; stop ends it and leaves the HA data.",
				Flags:  append(commonFlags(), hostFlag("master"), port),
				Action: runJobManagerStart,
			},
			{
				Name:   "stop",
				Usage:  "stop the master daemons of this cluster on this machine (--host, --webui-port: only those)",
				Flags:  append(commonFlags(), hostFlag("master"), port),
				Action: runJobManagerStop,
			},
		},
	}
}

// taskManagerCommand is the TaskManager process itself (entry.TaskManagerCommand,
// what the supervisor and a daemon's keeper run, in the foreground) with the
// daemon's start and stop as subcommands, as Flink's taskmanager.sh has
// start-foreground beside start and stop.
func taskManagerCommand() *cli.Command {
	cmd := entry.TaskManagerCommand()
	cmd.Usage = "start or stop a TaskManager daemon of a cluster spread over hosts, like Flink's taskmanager.sh " +
		"(without a subcommand: run one TaskManager process in the foreground, as the supervisor and the daemons do)"
	cmd.Subcommands = []*cli.Command{
		{
			Name:  "start",
			Usage: "start a TaskManager on this host that registers with whichever master leads",
			Description: "It finds the leader through ZooKeeper and signs every call with the application secret of\n" +
				"amkeeper.secret.file; its keeper restarts it if it dies. Each start adds one TaskManager.",
			Flags:  append(commonFlags(), hostFlag("worker")),
			Action: runTaskManagerStart,
		},
		{
			Name:   "stop",
			Usage:  "stop the TaskManager daemons of this cluster on this machine (--host: only those)",
			Flags:  append(commonFlags(), hostFlag("worker")),
			Action: runTaskManagerStop,
		},
	}
	return cmd
}

// tmKeepCommand is the detached keeper of one TaskManager daemon.
func tmKeepCommand() *cli.Command {
	return &cli.Command{
		Name:   "keep-taskmanager",
		Hidden: true,
		Flags:  []cli.Flag{&cli.StringFlag{Name: flagDaemonDir, Required: true}},
		Action: runTaskManagerKeeper,
	}
}

// daemonConf loads the configuration a daemon runs with and checks what every
// daemon needs: ZooKeeper high availability and the shared application secret.
// It returns the configuration and the secret file's absolute path.
func daemonConf(c *cli.Context, what string) (*conf.Config, string, error) {
	cfg, err := conf.Load(conf.Options{Dir: confDirIfExists(c), Dynamic: lineageDynamic(c)})
	if err != nil {
		return nil, "", cli.Exit(fmt.Sprintf("%s: configuration: %v", what, err), exitInvalidConf)
	}
	if cfg.HAMode() != conf.HAZooKeeper {
		return nil, "", cli.Exit(fmt.Sprintf("%s: %s is %s: daemons on several hosts find each other through ZooKeeper; set it to zookeeper",
			what, conf.HAType.Key(), cfg.HAMode()), exitInvalidConf)
	}
	file := cfg.String(conf.SecretFile)
	if file == "" {
		return nil, "", cli.Exit(fmt.Sprintf("%s: %s is not set: name the application secret file every host of the cluster shares (yarn-session secret create FILE makes one)",
			what, conf.SecretFile.Key()), exitInvalidConf)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, "", cli.Exit(fmt.Sprintf("%s: %s %s: %v", what, conf.SecretFile.Key(), file, err), exitInvalidConf)
	}
	if _, err := appsecret.Load(abs); err != nil {
		return nil, "", cli.Exit(fmt.Sprintf("%s: %s: %v", what, conf.SecretFile.Key(), err), exitInvalidConf)
	}
	return cfg, abs, nil
}

// daemonHost is --host, or this machine's host name.
func daemonHost(c *cli.Context) string {
	if h := c.String(flagHost); h != "" {
		return h
	}
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "localhost"
}

// safeName keeps a directory name to letters, digits, '.', '_' and '-'.
func safeName(s string) string {
	s = strings.Trim(s, "/")
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, s)
}

func daemonsHome() string { return filepath.Join(sessionsHome(), "daemons") }

func daemonDirOf(kind, clusterID, host string, n int) string {
	return filepath.Join(daemonsHome(), fmt.Sprintf("%s-%s-%s-%d", kind, safeName(clusterID), safeName(host), n))
}

// prepareDaemonDir makes dir ready for a new daemon: a directory of an earlier
// one that no longer runs is kept as dir.old (its logs), replacing an older
// one. It refuses when the daemon recorded there still runs.
func prepareDaemonDir(dir string) error {
	for _, d := range []string{sessionsHome(), daemonsHome()} {
		if err := privdir.Ensure(d); err != nil {
			return errors.New(untrusted(err))
		}
	}
	if rec, err := readDaemon(dir); err == nil && procid.Verify(rec.Process) == nil {
		return fmt.Errorf("a %s daemon (pid: %d) runs on host %s already (%s)", rec.Kind, rec.Process.PID, rec.Host, dir)
	}
	if _, err := os.Lstat(dir); err == nil {
		if err := privdir.Check(dir); err != nil {
			return errors.New(untrusted(err))
		}
		if err := os.RemoveAll(dir + ".old"); err != nil {
			return err
		}
		if err := os.Rename(dir, dir+".old"); err != nil {
			return err
		}
	}
	if err := privdir.Ensure(dir); err != nil {
		return errors.New(untrusted(err))
	}
	return nil
}

func readDaemon(dir string) (daemonRecord, error) {
	var rec daemonRecord
	b, err := os.ReadFile(filepath.Join(dir, daemonFile))
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("%s: %w", filepath.Join(dir, daemonFile), err)
	}
	return rec, nil
}

// writeJSONFile publishes v as indented JSON at path, atomically, 0600.
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, append(b, '\n'), 0o600)
}

// daemonsOf lists the directories of kind's daemons of clusterID on this
// machine whose record matches host ("": any) and port (0: any).
func daemonsOf(kind, clusterID, host string, port int) []string {
	dirs, _ := filepath.Glob(filepath.Join(daemonsHome(), kind+"-"+safeName(clusterID)+"-*"))
	var out []string
	for _, d := range dirs {
		rec, err := readDaemon(d)
		if err != nil || rec.Kind != kind || rec.ClusterID != clusterID ||
			(host != "" && rec.Host != host) || (port != 0 && rec.Port != port) {
			continue
		}
		out = append(out, d)
	}
	return out
}

func runJobManagerStart(c *cli.Context) error {
	cfg, secretFile, err := daemonConf(c, "jobmanager start")
	if err != nil {
		return err
	}
	host, port := daemonHost(c), c.Int(flagWebUIPort)
	if port == 0 {
		for _, m := range cfg.Masters() {
			if m.Host == host && m.WebUIPort != 0 {
				port = m.WebUIPort
				break
			}
		}
	}
	cid := cfg.ClusterID()
	dyn := append(cfg.Dynamic(), conf.HAClusterID.Key()+"="+cid, conf.SecretFile.Key()+"="+secretFile,
		conf.TaskManagersStandalone.Key()+"=true")
	if c.IsSet(flagHost) {
		// What it advertises in ZooKeeper and binds (hosts17a's keys name the RPC side).
		dyn = append(dyn, conf.RESTAddress.Key()+"="+host, "jobmanager.rpc.address="+host)
	}
	if port != 0 {
		dyn = append(dyn, conf.RESTPort.Key()+"="+strconv.Itoa(port))
	}
	dir := daemonDirOf(kindJobManager, cid, host, port)
	if err := prepareDaemonDir(dir); err != nil {
		return cli.Exit(fmt.Sprintf("jobmanager start: %v", err), exitFailure)
	}
	app := containers.AppID{ClusterTimestamp: time.Now().UnixMilli(), Seq: 1}
	sp := spec{AppID: app.String(), Name: "jobmanager " + host, ConfDir: confDirIfExists(c), Dynamic: dyn,
		Slots: cfg.TaskManagerSlots(), TMMemory: cfg.TaskManagerProcessSize(), JMMemory: cfg.JobManagerProcessSize(), Master: true}
	if err := writeJSONFile(filepath.Join(dir, "session.json"), sp); err != nil {
		return cli.Exit(fmt.Sprintf("jobmanager start: %v", err), exitFailure)
	}
	fmt.Fprintf(c.App.Writer, "Starting jobmanager daemon on host %s.\n", host)
	pid, _, err := detach(c, dir, "")
	if err != nil {
		return cli.Exit(fmt.Sprintf("jobmanager start: %v", err), exitFailure)
	}
	id, err := procid.Of(pid)
	if err != nil {
		return cli.Exit(fmt.Sprintf("jobmanager start: the supervisor (pid %d): %v", pid, err), exitFailure)
	}
	rec := daemonRecord{Kind: kindJobManager, ClusterID: cid, Host: host, Port: port, Process: id}
	if err := writeJSONFile(filepath.Join(dir, daemonFile), rec); err != nil {
		return cli.Exit(fmt.Sprintf("jobmanager start: %v", err), exitFailure)
	}
	return nil
}

func runJobManagerStop(c *cli.Context) error {
	cfg, err := conf.Load(conf.Options{Dir: confDirIfExists(c), Dynamic: lineageDynamic(c)})
	if err != nil {
		return cli.Exit(fmt.Sprintf("jobmanager stop: configuration: %v", err), exitInvalidConf)
	}
	host := c.String(flagHost)
	stopped := 0
	var failed []string
	for _, dir := range daemonsOf(kindJobManager, cfg.ClusterID(), host, c.Int(flagWebUIPort)) {
		rec, _ := readDaemon(dir)
		client := supervisor.NewControlClient(dir)
		st, err := client.Status(c.Context)
		if err != nil {
			continue // not running
		}
		fmt.Fprintf(c.App.Writer, "Stopping jobmanager daemon (pid: %d) on host %s.\n", st.SupervisorPID, rec.Host)
		stopped++
		if err := stopSupervisor(c.Context, client, dir, st.SupervisorPID); err != nil {
			failed = append(failed, fmt.Sprintf("pid %d on host %s: %v", st.SupervisorPID, rec.Host, err))
		}
	}
	if stopped == 0 {
		fmt.Fprintf(c.App.Writer, "No jobmanager daemon to stop on host %s.\n", daemonHost(c))
	}
	if len(failed) > 0 {
		return cli.Exit("jobmanager stop: "+strings.Join(failed, "; "), exitFailure)
	}
	return nil
}

// stopSupervisor asks a master's supervisor to stop and waits until it has
// exited.
func stopSupervisor(ctx context.Context, client *supervisor.ControlClient, dir string, pid int) error {
	if err := client.Stop(ctx); err != nil {
		return err
	}
	if err := sessionctl.WaitGone(ctx, supervisor.ControlSocket(dir), daemonStopWait); err != nil {
		return fmt.Errorf("still serving after %s", daemonStopWait)
	}
	_, err := sessionctl.Poll(ctx, daemonStopWait, func() (struct{}, bool) {
		return struct{}{}, syscall.Kill(pid, 0) == syscall.ESRCH
	}, "the supervisor did not exit")
	return err
}

func runTaskManagerStart(c *cli.Context) error {
	cfg, secretFile, err := daemonConf(c, "taskmanager start")
	if err != nil {
		return err
	}
	host, cid := daemonHost(c), cfg.ClusterID()
	n := 1
	for ; ; n++ {
		rec, err := readDaemon(daemonDirOf(kindTaskManager, cid, host, n))
		if err != nil || procid.Verify(rec.Process) != nil {
			break
		}
	}
	dir := daemonDirOf(kindTaskManager, cid, host, n)
	if err := prepareDaemonDir(dir); err != nil {
		return cli.Exit(fmt.Sprintf("taskmanager start: %v", err), exitFailure)
	}
	dyn := append(cfg.Dynamic(), conf.HAClusterID.Key()+"="+cid)
	if c.IsSet(flagHost) {
		dyn = append(dyn, "taskmanager.host="+host) // what it binds and advertises (hosts17a's key)
	}
	// Unique across the cluster's hosts: the start time in ms, as an application's.
	id := containers.ContainerID{App: containers.AppID{ClusterTimestamp: time.Now().UnixMilli(), Seq: 1}, Attempt: 1, Seq: int64(n)}
	ts := tmSpec{ConfDir: confDirIfExists(c), Dynamic: dyn, ContainerID: id.String(), Slots: cfg.TaskManagerSlots(), SecretFile: secretFile}
	if err := writeJSONFile(filepath.Join(dir, tmSpecFile), ts); err != nil {
		return cli.Exit(fmt.Sprintf("taskmanager start: %v", err), exitFailure)
	}
	fmt.Fprintf(c.App.Writer, "Starting taskmanager daemon on host %s.\n", host)
	exe, err := os.Executable()
	if err != nil {
		return cli.Exit(fmt.Sprintf("taskmanager start: %v", err), exitFailure)
	}
	logf, err := os.OpenFile(filepath.Join(dir, "taskmanager.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return cli.Exit(fmt.Sprintf("taskmanager start: %v", err), exitFailure)
	}
	defer logf.Close()
	cmd := exec.Command(exe, "--log-format", "json", "--log-level", lineageString(c, flagLogLevel), "keep-taskmanager", "--"+flagDaemonDir, dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return cli.Exit(fmt.Sprintf("taskmanager start: %v", err), exitFailure)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release() // detached: it outlives this command
	pi, err := procid.Of(pid)
	if err != nil {
		return cli.Exit(fmt.Sprintf("taskmanager start: the daemon (pid %d) exited at once; see %s", pid, filepath.Join(dir, "taskmanager.log")), exitFailure)
	}
	rec := daemonRecord{Kind: kindTaskManager, ClusterID: cid, Host: host, Process: pi}
	if err := writeJSONFile(filepath.Join(dir, daemonFile), rec); err != nil {
		return cli.Exit(fmt.Sprintf("taskmanager start: %v", err), exitFailure)
	}
	return nil
}

func runTaskManagerKeeper(c *cli.Context) error {
	dir := c.String(flagDaemonDir)
	var ts tmSpec
	b, err := os.ReadFile(filepath.Join(dir, tmSpecFile))
	if err == nil {
		err = json.Unmarshal(b, &ts)
	}
	if err != nil {
		return cli.Exit(fmt.Sprintf("keep-taskmanager: %v", err), exitFailure)
	}
	cfg, err := conf.Load(conf.Options{Dir: ts.ConfDir, Dynamic: ts.Dynamic})
	if err != nil {
		return cli.Exit(fmt.Sprintf("keep-taskmanager: configuration: %v", err), exitInvalidConf)
	}
	args, env, err := supervisor.ProcessArgs(cfg, filepath.Join(dir, "ha"))
	if err != nil {
		return cli.Exit(fmt.Sprintf("keep-taskmanager: %v", err), exitFailure)
	}
	exe, err := os.Executable()
	if err != nil {
		return cli.Exit(fmt.Sprintf("keep-taskmanager: %v", err), exitFailure)
	}
	argv := append([]string{exe, "taskmanager", "--log-level", lineageString(c, flagLogLevel), "--container-id", ts.ContainerID,
		"--slots", strconv.Itoa(ts.Slots)}, args...)
	return keep(c, kept{
		what:    "the TaskManager",
		args:    argv,
		env:     append(append(os.Environ(), env...), appsecret.EnvFile+"="+ts.SecretFile),
		anyExit: true,
		note:    "it registers with the leader again",
		hint:    "`yarn-session taskmanager start` starts a new one",
	})
}

func runTaskManagerStop(c *cli.Context) error {
	cfg, err := conf.Load(conf.Options{Dir: confDirIfExists(c), Dynamic: lineageDynamic(c)})
	if err != nil {
		return cli.Exit(fmt.Sprintf("taskmanager stop: configuration: %v", err), exitInvalidConf)
	}
	stopped := 0
	var failed []string
	for _, dir := range daemonsOf(kindTaskManager, cfg.ClusterID(), c.String(flagHost), 0) {
		rec, _ := readDaemon(dir)
		p, err := procid.Open(rec.Process)
		if err != nil {
			continue // not running
		}
		fmt.Fprintf(c.App.Writer, "Stopping taskmanager daemon (pid: %d) on %s.\n", rec.Process.PID, rec.Host)
		stopped++
		if err := stopProcess(c.Context, p); err != nil {
			failed = append(failed, fmt.Sprintf("pid %d on %s: %v", rec.Process.PID, rec.Host, err))
		}
		_ = p.Close()
	}
	if stopped == 0 {
		fmt.Fprintf(c.App.Writer, "No taskmanager daemon to stop on host %s.\n", daemonHost(c))
	}
	if len(failed) > 0 {
		return cli.Exit("taskmanager stop: "+strings.Join(failed, "; "), exitFailure)
	}
	return nil
}

// stopProcess sends SIGTERM and waits for the exit; SIGKILL after
// daemonStopWait.
func stopProcess(ctx context.Context, p *procid.Process) error {
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, daemonStopWait)
	defer cancel()
	if err := p.Wait(wctx); err == nil {
		return nil
	}
	if err := p.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, procid.ErrNotRunning) {
		return err
	}
	return fmt.Errorf("did not stop within %s: killed", daemonStopWait)
}

// secretCommand makes the application secret file a cluster on several hosts
// shares (amkeeper.secret.file).
func secretCommand() *cli.Command {
	return &cli.Command{
		Name:  "secret",
		Usage: "make the application secret file of a cluster whose daemons run on several hosts",
		Subcommands: []*cli.Command{{
			Name:      "create",
			Usage:     "write a new secret to FILE (mode 0600); copy it to every host and name it in amkeeper.secret.file",
			ArgsUsage: "FILE",
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return cli.Exit("secret create: want one argument: the file to write", exitUsage)
				}
				path := c.Args().First()
				if _, err := os.Lstat(path); err == nil {
					return cli.Exit(fmt.Sprintf("secret create: %s exists: the daemons using it would lose each other; remove it first to replace it", path), exitFailure)
				}
				if _, err := appsecret.Create(path); err != nil {
					return cli.Exit(fmt.Sprintf("secret create: %v", err), exitFailure)
				}
				fmt.Fprintf(c.App.Writer, "Wrote a new application secret to %s (mode 0600). Copy it to every host of the cluster, owned by the user the daemons run as, and set %s: %s.\n",
					path, conf.SecretFile.Key(), path)
				return nil
			},
		}},
	}
}
