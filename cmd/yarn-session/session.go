package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/internal/entry"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/privdir"
	"github.com/amkeeper/amkeeper/internal/sessionctl"
	"github.com/amkeeper/amkeeper/supervisor"
)

// Session flags, after yarn-session.sh.
const (
	flagContainers = "container"
	flagSlots      = "slots"
	flagJMMemory   = "jobManagerMemory"
	flagTMMemory   = "taskManagerMemory"
	flagName       = "name"
	flagDetached   = "detached"
	flagZKNS       = "zookeeperNamespace"
	flagQuery      = "query"
	flagAppDir     = "app-dir"
)

func sessionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: flagContainers, Aliases: []string{"n"}, Value: 1, Usage: "number of TaskManager containers"},
		&cli.IntFlag{Name: flagSlots, Aliases: []string{"s"}, Usage: "slots per TaskManager (default taskmanager.numberOfTaskSlots)"},
		&cli.StringFlag{Name: flagJMMemory, Aliases: []string{"jm"}, Usage: "AM memory, e.g. 1024m (a plain number is MB); the AM's GOMEMLIMIT, as -tm is the TaskManagers' (default jobmanager.memory.process.size)"},
		&cli.StringFlag{Name: flagTMMemory, Aliases: []string{"tm"}, Usage: "memory per TaskManager, e.g. 1024m (a plain number is MB); becomes its GOMEMLIMIT"},
		&cli.StringFlag{Name: flagName, Aliases: []string{"nm"}, Usage: "application name"},
		&cli.BoolFlag{Name: flagDetached, Aliases: []string{"d"}, Usage: "start the session in the background and return"},
		&cli.StringFlag{Name: flagZKNS, Aliases: []string{"z"}, Usage: "ZooKeeper namespace (high-availability.cluster-id)"},
		&cli.StringFlag{Name: flagAppID, Aliases: []string{"id"}, Usage: "attach to a running session"},
		&cli.BoolFlag{Name: flagQuery, Aliases: []string{"q"}, Usage: "show the resources available on this machine"},
	}
}

// spec is everything a supervisor needs, kept as session.json in the
// application directory so a detached supervisor reads exactly what was asked.
type spec struct {
	AppID        string   `json:"applicationId"`
	Name         string   `json:"name"`
	ConfDir      string   `json:"confDir"`
	Dynamic      []string `json:"dynamic"`
	TaskManagers int      `json:"taskmanagers"`
	Slots        int      `json:"slots"`
	TMMemory     int64    `json:"tmMemory"`
	JMMemory     int64    `json:"jmMemory,omitempty"` // -jm, else jobmanager.memory.process.size
	// RESTPort is the REST port the session picked once (pickRESTPort) and every
	// attempt binds; 0: rest.port or rest.bind-port decide.
	RESTPort int `json:"restPort,omitempty"`
	// Master: one master daemon of a cluster on several hosts (jobmanager
	// start): one AM, the shared secret, no TaskManager containers, and its
	// stop never removes the cluster's HA data (the other masters lead on).
	Master bool `json:"master,omitempty"`
}

// sessionsHome is the per-user directory holding one directory per application
// (privdir.Home: $AMKEEPER_HOME, $XDG_RUNTIME_DIR/amkeeper or
// $TMPDIR/amkeeper-<user>).
func sessionsHome() string { return privdir.Home() }

// appDirOf is the application directory of id, which validAppID accepted.
func appDirOf(id string) string { return filepath.Join(sessionsHome(), id) }

// validAppID refuses anything but an application ID (containers.ParseAppID),
// wherever it came from: -id, .yarn-properties, a session file.
func validAppID(from, id string) error {
	if _, err := containers.ParseAppID(id); err != nil {
		return cli.Exit(fmt.Sprintf("%s: %v", from, err), exitUsage)
	}
	return nil
}

// checkHome refuses a sessions home another user could have made or changed; a
// missing one is no error (no sessions yet).
func checkHome() error {
	if err := privdir.Check(sessionsHome()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return cli.Exit(untrusted(err), exitFailure)
	}
	return nil
}

// untrusted phrases a privdir refusal for the CLI, adding how to choose another
// sessions home.
func untrusted(err error) string {
	return fmt.Sprintf("refusing the session directory: %v (or set %s to a directory of your own)", err, privdir.EnvHome)
}

// parseMB reads yarn-session.sh's memory values: a plain number is megabytes.
func parseMB(flag, s string) (int64, error) {
	if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
		return n << 20, nil
	}
	v, err := conf.ParseMemorySize(s)
	if err != nil {
		return 0, fmt.Errorf("-%s %q: %w (for example 1024m or 1g)", flag, s, err)
	}
	return v, nil
}

// runSession is the root action: start a session, attach to one, or query.
func runSession(c *cli.Context) error {
	if c.Args().Present() {
		return cli.Exit(fmt.Sprintf("unknown command %q; see yarn-session --help", c.Args().First()), exitUsage)
	}
	if c.Bool(flagQuery) {
		fmt.Fprintf(c.App.Writer, "NodeManagers: 1 (this machine)\nvcores: %d\nmemory: %s\n", runtime.NumCPU(), machineMemory())
		return nil
	}
	if c.String(flagAppID) != "" {
		a, err := appFromFlags(c)
		if err != nil {
			return err
		}
		return attach(c, a)
	}
	sp, cfg, err := newSpec(c)
	if err != nil {
		return err
	}
	dir := appDirOf(sp.AppID)
	if err := privdir.Ensure(sessionsHome()); err != nil {
		return cli.Exit(untrusted(err), exitFailure)
	}
	if err := privdir.Ensure(dir); err != nil {
		return cli.Exit(untrusted(err), exitFailure)
	}
	b, _ := json.MarshalIndent(sp, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "session.json"), b, 0o600); err != nil {
		return cli.Exit(fmt.Sprintf("application directory: %v", err), exitFailure)
	}
	w := c.App.Writer
	timeout := cfg.Duration(conf.SessionStartTimeout)
	if c.Bool(flagDetached) {
		_, keeper, err := detach(c, dir, sp.AppID)
		if err != nil {
			return cli.Exit(fmt.Sprintf("session %s: %v", sp.AppID, err), exitFailure)
		}
		// The start returns once an AM leads, as yarn-session.sh returns once
		// the JobManager runs; a start that does not get there is stopped.
		lead, err := awaitLeader(c.Context, dir, sp.AppID, timeout, keeper)
		if err != nil {
			msg := err.Error()
			if failed, gone := isStartFailure(err); failed && !gone && stopUnstarted(c.Context, dir) {
				msg += "; the session was stopped"
			}
			return cli.Exit(msg, exitFailure)
		}
		recordSession(c, sp)
		fmt.Fprintf(w, "JobManager Web Interface: %s\n", lead.rest)
		// The supervisor that serves now: the keeper may have restarted the
		// one detach saw.
		fmt.Fprintf(w, "Session %s started in the background (supervisor pid %d).\n", sp.AppID, lead.supervisorPID)
		fmt.Fprintf(w, "  status:  yarn-session status -id %s\n  attach:  yarn-session -id %s\n  stop:    yarn-session stop -id %s\n", sp.AppID, sp.AppID, sp.AppID)
		return nil
	}
	fmt.Fprintf(w, "Session %s starting with %d TaskManager(s). Type 'stop' to stop it, 'help' for help.\n", sp.AppID, sp.TaskManagers)
	ctx, stop := context.WithCancel(c.Context)
	defer stop()
	go readCommands(c.App.Reader, w, stop, dir)
	go func() {
		// Recorded once an AM leads: a start that fails leaves another
		// session's record alone.
		lead, err := awaitLeader(ctx, dir, sp.AppID, timeout, nil)
		switch {
		case err == nil:
			recordSession(c, sp)
			fmt.Fprintf(w, "JobManager Web Interface: %s\n", lead.rest)
		case ctx.Err() == nil:
			if _, gone := isStartFailure(err); gone {
				return // supervise reports the end
			}
			fmt.Fprintf(w, "Warning: %v\n", err) // still running: the user decides
		}
	}()
	log, err := supervisorLogger(c, sp.AppID)
	if err != nil {
		return err
	}
	return supervise(ctx, w, log, dir, sp, cfg)
}

// stopUnstarted stops a session whose start failed, if its supervisor still
// runs, and waits (up to 90 s) until the supervisor has exited; it reports
// whether it stopped one.
func stopUnstarted(ctx context.Context, dir string) bool {
	client := supervisor.NewControlClient(dir)
	st, err := client.Status(ctx)
	if err != nil || client.Stop(ctx) != nil {
		return false
	}
	_, err = sessionctl.Poll(ctx, 90*time.Second, func() (struct{}, bool) {
		return struct{}{}, syscall.Kill(st.SupervisorPID, 0) == syscall.ESRCH
	}, "the supervisor did not exit")
	return err == nil
}

// recordSession writes the .yarn-properties file of a session whose AM leads.
func recordSession(c *cli.Context, sp spec) {
	if err := writeProperties(sp); err != nil {
		log := logger(c)
		log.Warn().Err(err).Msg("cannot write the .yarn-properties file")
	}
}

func newSpec(c *cli.Context) (spec, *conf.Config, error) {
	now := time.Now()
	app := containers.AppID{ClusterTimestamp: now.UnixMilli(), Seq: 1}
	dyn := lineageDynamic(c)
	if ns := c.String(flagZKNS); ns != "" {
		dyn = append(dyn, conf.HAClusterID.Key()+"="+ns)
	}
	confDir := confDirIfExists(c)
	cfg, err := conf.Load(conf.Options{Dir: confDir, Dynamic: dyn, ApplicationID: app.String()})
	if err != nil {
		return spec{}, nil, cli.Exit(fmt.Sprintf("configuration: %v", err), exitInvalidConf)
	}
	entry.LogWarnings(logger(c), cfg)
	if _, secret, _ := conf.SplitSecretDynamic(dyn); len(secret) > 0 {
		// Children never get them in argv, but this command has them there.
		for _, item := range secret {
			k, _, _ := strings.Cut(item, "=")
			fmt.Fprintf(c.App.ErrWriter, "warning: -D %s: a secret on the command line can be read by every local user (/proc/<pid>/cmdline) while yarn-session runs; put it in flink-conf.yaml (mode 0600) or its environment variable\n", k)
		}
	}
	sp := spec{AppID: app.String(), Name: c.String(flagName), ConfDir: confDir, Dynamic: dyn,
		TaskManagers: c.Int(flagContainers), Slots: c.Int(flagSlots), TMMemory: cfg.TaskManagerProcessSize(),
		JMMemory: cfg.JobManagerProcessSize()}
	if sp.RESTPort, err = pickRESTPort(cfg); err != nil {
		return spec{}, nil, cli.Exit(err.Error(), exitFailure)
	}
	if sp.TaskManagers < 1 {
		return spec{}, nil, cli.Exit(fmt.Sprintf("-n %d: want at least one TaskManager container", sp.TaskManagers), exitUsage)
	}
	if sp.Slots == 0 {
		sp.Slots = cfg.TaskManagerSlots()
	}
	if sp.Slots < 1 {
		return spec{}, nil, cli.Exit(fmt.Sprintf("-s %d: want at least one slot", sp.Slots), exitUsage)
	}
	if limit := cfg.TaskManagerMaxSlots(); sp.Slots > limit {
		return spec{}, nil, cli.Exit(fmt.Sprintf("-s %d: above %s (%d): want at most that many slots per TaskManager, or raise the key",
			sp.Slots, conf.TaskManagerMaxSlots.Key(), limit), exitUsage)
	}
	if s := c.String(flagTMMemory); s != "" {
		if sp.TMMemory, err = parseMB("tm", s); err != nil {
			return spec{}, nil, cli.Exit(err.Error(), exitUsage)
		}
	}
	if s := c.String(flagJMMemory); s != "" {
		if sp.JMMemory, err = parseMB("jm", s); err != nil {
			return spec{}, nil, cli.Exit(err.Error(), exitUsage)
		}
	}
	return sp, cfg, nil
}

// confDirIfExists returns --conf-dir when it exists; the default ./conf may not.
func confDirIfExists(c *cli.Context) string {
	d := lineageString(c, flagConfDir)
	if fi, err := os.Stat(d); err == nil && fi.IsDir() {
		abs, _ := filepath.Abs(d)
		return abs
	}
	if lineageIsSet(c, flagConfDir) {
		return d // let conf.Load name the missing directory
	}
	return ""
}

func lineageIsSet(c *cli.Context, name string) bool {
	for _, ctx := range c.Lineage() {
		if ctx.IsSet(name) {
			return true
		}
	}
	return false
}

// supervisorLogger is the logger of a process that supervises an application: role
// supervisor and the application ID, each set once (the CLI's own logger has role
// yarn-session, and zerolog cannot replace a field, only repeat it).
func supervisorLogger(c *cli.Context, appID string) (zerolog.Logger, error) {
	log, err := newLogger(c, "supervisor")
	if err != nil {
		return log, cli.Exit(err.Error(), exitUsage)
	}
	return log.With().Str(logging.App, appID).Logger(), nil
}

// supervise runs the application in this process until it ends or ctx does.
func supervise(ctx context.Context, w io.Writer, log zerolog.Logger, dir string, sp spec, cfg *conf.Config) error {
	app, err := containers.ParseAppID(sp.AppID)
	if err != nil {
		return cli.Exit(err.Error(), exitFailure)
	}
	if cfg == nil {
		if cfg, err = conf.Load(conf.Options{Dir: sp.ConfDir, Dynamic: sp.Dynamic, ApplicationID: sp.AppID}); err != nil {
			return cli.Exit(fmt.Sprintf("configuration: %v", err), exitInvalidConf)
		}
	}
	sc, err := supervisor.ConfigFrom(ctx, cfg, supervisor.Session{App: app, Dir: dir,
		TaskManagers: sp.TaskManagers, TaskManagerMemory: sp.TMMemory, AMMemory: sp.JMMemory, Slots: sp.Slots,
		RESTPort: sp.RESTPort, Logger: log, OneMaster: sp.Master})
	if err != nil {
		return cli.Exit(fmt.Sprintf("supervise %s: %v", sp.AppID, err), exitFailure)
	}
	defer sc.Close()
	sup, err := supervisor.New(sc)
	if err != nil {
		return cli.Exit(fmt.Sprintf("supervise %s: %v", sp.AppID, err), exitFailure)
	}
	defer removeProperties(sp.AppID)
	out, err := sup.Run(ctx)
	if err != nil {
		return cli.Exit(fmt.Sprintf("supervise %s: %v", sp.AppID, err), exitFailure)
	}
	d := out.Decision
	// Only a terminal state may remove HA data, and only when every job is
	// globally terminal; otherwise the jobs are suspended (see endHA).
	e := ended{ApplicationID: sp.AppID, Name: sp.Name, TrackingURL: out.TrackingURL, FinalStatus: orStopped(d), Reason: string(d.Reason),
		Attempts: len(out.History.Attempts), End: time.Now(), MaxAttempts: sc.Budget.MaxAttempts, Window: sc.Budget.Window.String(), History: &out.History}
	// A master daemon is one of several: the cluster outlives it.
	endHA(log, dir, cfg, !d.Restart && !sp.Master, out.StopErr, &e)
	if err := writeEnded(dir, e); err != nil {
		log.Warn().Err(err).Msg("cannot record how the application ended")
	}
	e.print(w)
	if d.FinalStatus == attempts.FinalFailed {
		msg := fmt.Sprintf("session %s failed: %s%s", sp.AppID, d.Reason, lastCause(dir))
		if !e.HARemoved {
			msg += fmt.Sprintf("; its jobs are kept: resume them with %s", e.resumeCommand())
		}
		return cli.Exit(msg, exitFailure)
	}
	return nil
}

func orStopped(d attempts.Decision) string {
	if d.FinalStatus == "" || d.FinalStatus == attempts.FinalUndefined {
		return "STOPPED"
	}
	return string(d.FinalStatus)
}

// readCommands handles attached mode's stdin: stop, quit, help.
func readCommands(r io.Reader, w io.Writer, stop func(), dir string) {
	if r == nil {
		return
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		switch strings.TrimSpace(sc.Text()) {
		case "stop", "quit":
			fmt.Fprintln(w, "Stopping the session.")
			stop()
			return
		case "help":
			fmt.Fprintln(w, "Commands: stop (or quit) stops the session; help shows this. Logs are in", dir)
		case "":
		default:
			fmt.Fprintln(w, "Unknown command. Type 'help'.")
		}
	}
}

// supervisorLog is where a detached session's keeper and each supervisor it
// ran write their output.
func supervisorLog(dir string) string { return filepath.Join(dir, "supervisor.log") }

// detach starts `yarn-session keep --app-dir DIR` (which runs `supervise` and
// restarts it should it die) in its own session, with its output in
// supervisorLog(DIR), and waits until the supervisor serves its control socket;
// it returns the supervisor's PID and a channel that gets the keeper's exit
// (cmd.Wait's error) once it has exited. A keeper that exits before the
// supervisor serves fails the call, naming the last error line of the log
// (supervisorExited; appID for the hint, "" for none).
func detach(c *cli.Context, dir, appID string) (int, <-chan error, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, nil, err
	}
	logf, err := os.OpenFile(supervisorLog(dir), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, nil, err
	}
	defer logf.Close()
	// The keeper runs the supervisor and restarts it should it die.
	cmd := exec.Command(exe, "--log-format", "json", "--log-level", lineageString(c, flagLogLevel), "keep", "--"+flagAppDir, dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, nil, fmt.Errorf("start the supervisor: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	client := supervisor.NewControlClient(dir)
	status := func() (supervisor.Status, error) {
		ctx, cancel := context.WithTimeout(c.Context, time.Second)
		defer cancel()
		return client.Status(ctx)
	}
	deadline := time.After(30 * time.Second)
	for {
		st, err := status()
		if err == nil {
			return st.SupervisorPID, exited, nil
		}
		select {
		case err := <-exited:
			// The keeper's end does not end a supervisor that already serves
			// (it lives on in the keeper's group): ask once more.
			if st, serr := status(); serr == nil {
				gone := make(chan error, 1)
				gone <- err
				return st.SupervisorPID, gone, nil
			}
			return 0, nil, errors.New(supervisorExited(dir, appID, err, "before it answered"))
		case <-deadline:
			return 0, nil, fmt.Errorf("the supervisor did not come up within 30s; see %s", supervisorLog(dir))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// superviseCommand is the detached supervisor process.
func superviseCommand() *cli.Command {
	return &cli.Command{
		Name:   "supervise",
		Hidden: true,
		Flags:  []cli.Flag{&cli.StringFlag{Name: flagAppDir, Required: true}},
		Action: func(c *cli.Context) error {
			dir := c.String(flagAppDir)
			if e, err := readEnded(dir); err == nil {
				return cli.Exit(fmt.Sprintf("supervise: application %s has ended (%s): start a new session", e.ApplicationID, e.FinalStatus), exitFailure)
			}
			sp, err := readSpec(dir)
			if err != nil {
				return cli.Exit(fmt.Sprintf("supervise: %v", err), exitFailure)
			}
			log, err := supervisorLogger(c, sp.AppID)
			if err != nil {
				return err
			}
			return supervise(c.Context, c.App.Writer, log, dir, sp, nil)
		},
	}
}

// orphaned reports whether the application of dir lost its supervisor without
// ending: a supervisor recorded running processes (supervisor.RecordFile) and
// no end was recorded.
func orphaned(dir string) bool {
	if _, err := readEnded(dir); err == nil {
		return false
	}
	_, err := supervisor.ReadRecord(dir)
	return err == nil
}

// attach follows a running session: it prints its status and takes stop, quit
// and help on stdin (quit only detaches). An ended application is answered as
// status answers it (exit 5).
func attach(c *cli.Context, a application) error {
	client, st, err := a.running(c.Context, "attach")
	if err != nil && orphaned(a.dir) {
		// Its supervisor died and the application did not end: start a new
		// one, which adopts the AM and containers that kept running.
		pid, _, derr := detach(c, a.dir, a.id)
		if derr != nil {
			return cli.Exit(fmt.Sprintf("attach %s: restart its supervisor: %v", a.id, derr), exitFailure)
		}
		fmt.Fprintf(c.App.Writer, "The supervisor of %s was not running: restarted it (pid %d); it adopts what still runs.\n", a.id, pid)
		client, st, err = a.running(c.Context, "attach")
	}
	if err != nil {
		return err
	}
	runningReport(a.dir, st).print(c.App.Writer)
	fmt.Fprintln(c.App.Writer, "Attached. Type 'stop' to stop the session, 'quit' to detach.")
	sc := bufio.NewScanner(c.App.Reader)
	for sc.Scan() {
		switch strings.TrimSpace(sc.Text()) {
		case "stop":
			return stopRunning(c, a, client, st)
		case "quit":
			return nil
		case "help":
			fmt.Fprintln(c.App.Writer, "Commands: stop stops the session; quit detaches; help shows this.")
		}
	}
	return nil
}

// stopSession stops the application. One that has already ended is no error
// (exit 0, as `yarn application -kill` answers "has already finished").
func stopSession(c *cli.Context, a application) error {
	client, st, err := a.running(c.Context, "stop")
	if exitCode(err) == exitEnded {
		if e, rerr := readEnded(a.dir); rerr == nil {
			fmt.Fprintf(c.App.Writer, "Application %s has already ended: %s, final status %s (%s) after %d attempt(s).\n",
				a.id, stateOf(e.FinalStatus), e.FinalStatus, e.Reason, e.Attempts)
		} else {
			fmt.Fprintf(c.App.Writer, "Application %s has already ended: %s, final status %s; its supervisor (pid %d) is stopping it.\n",
				a.id, stateOf(st.State), st.State, st.SupervisorPID)
		}
		return nil
	}
	if err != nil {
		return err
	}
	return stopRunning(c, a, client, st)
}

// stopRunning stops the running application whose supervisor reported st.
func stopRunning(c *cli.Context, a application, client *supervisor.ControlClient, st supervisor.Status) error {
	id, dir := a.id, a.dir
	if err := client.Stop(c.Context); err != nil {
		return cli.Exit(fmt.Sprintf("stop %s: %v", id, err), exitFailure)
	}
	if err := sessionctl.WaitGone(c.Context, supervisor.ControlSocket(dir), 60*time.Second); err != nil {
		return cli.Exit(fmt.Sprintf("stop %s: still running after 60s", id), exitFailure)
	}
	// The control socket goes when the application has stopped; the supervisor
	// then records what became of the HA data.
	e, err := sessionctl.Poll(c.Context, 90*time.Second, func() (ended, bool) {
		if e, err := readEnded(dir); err == nil {
			return e, true
		}
		if syscall.Kill(st.SupervisorPID, 0) != syscall.ESRCH {
			return ended{}, false
		}
		// Gone: a record written just before it exited is there now, or none will be.
		e, _ := readEnded(dir)
		return e, true
	}, "no record of the end in "+filepath.Join(dir, endedFile))
	if err == nil && e.ApplicationID == "" {
		err = fmt.Errorf("the supervisor (pid %d) exited without writing %s", st.SupervisorPID, filepath.Join(dir, endedFile))
	}
	if err != nil {
		fmt.Fprintf(c.App.Writer, "Session %s stopped (%v).\n", id, err)
		return nil
	}
	fmt.Fprintf(c.App.Writer, "Session %s stopped.\n", id)
	e.print(c.App.Writer)
	return nil
}

func machineMemory() string {
	if v := sessionctl.ProcField("/proc/meminfo", "MemTotal:"); v != "" {
		return v
	}
	return "unknown"
}
