package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/zkserver"
)

const (
	flagZooCfg    = "zoo-cfg"
	flagRunDir    = "run-dir"
	flagFreePort  = "free-port"
	flagTimeout   = "timeout"
	flagStopGrace = "grace"
	flagServerID  = "server-id"
)

// envServerJVMFlags holds extra JVM flags for the servers, as in ZooKeeper's own
// scripts (-Djava.security.auth.login.config=… for SASL).
const envServerJVMFlags = "SERVER_JVMFLAGS"

func zookeeperCommand() *cli.Command {
	runDir := &cli.StringFlag{
		Name:    flagRunDir,
		Usage:   "directory with one subdirectory per server (config, log, pid file, data)",
		Value:   zkserver.DefaultRunDir(),
		EnvVars: []string{"AMKEEPER_ZK_RUN_DIR"},
	}
	serverID := &cli.Int64Flag{Name: flagServerID, Usage: "only server.`N` of zoo.cfg, here whatever its host (what the other hosts are sent over ssh)"}
	return &cli.Command{
		Name:  "zookeeper",
		Usage: "start, stop or list the ZooKeeper servers of zoo.cfg (other hosts over ssh), like Flink's start-zookeeper-quorum.sh",
		Subcommands: []*cli.Command{
			{
				Name:  "start",
				Usage: "start the zoo.cfg servers that run on this machine and print the client connect string",
				Description: "Starts every server.X of zoo.cfg, as Flink's start-zookeeper-quorum.sh: those on this machine\n" +
					"(localhost, its host name or an address of one of its interfaces; one standalone server when\n" +
					"zoo.cfg has no server.X lines) detached here, the others over ssh (amkeeper.ssh.command,\n" +
					"env.ssh.opts) with --server-id, and returns once all serve. The last line on stdout is the client\n" +
					"connect string (host:port,...). clientPort=0 or --free-port picks free ports.\n" +
					"SERVER_JVMFLAGS adds JVM flags, as in ZooKeeper's zkServer.sh: for a SASL server,\n" +
					"-Djava.security.auth.login.config=<server JAAS file> with authProvider.sasl in zoo.cfg.",
				Flags: append(commonFlags(),
					&cli.StringFlag{Name: flagZooCfg, Usage: "zoo.cfg to read; wins over --conf-dir (default: zoo.cfg in --conf-dir)"},
					runDir,
					&cli.BoolFlag{Name: flagFreePort, Usage: "give each server a free client port instead of zoo.cfg's clientPort"},
					&cli.DurationFlag{Name: flagTimeout, Value: zkserver.DefaultStartTimeout, Usage: "how long the servers may take to serve"},
					serverID,
				),
				Action: runZooKeeperStart,
			},
			{
				Name: "stop",
				Usage: "stop the servers recorded in the run directory (SIGTERM, then SIGKILL after --grace), and over ssh " +
					"those of zoo.cfg on other hosts",
				Flags: append(commonFlags(), runDir,
					&cli.StringFlag{Name: flagZooCfg, Usage: "zoo.cfg naming the other hosts to stop (default: zoo.cfg in --conf-dir, when there is one)"},
					&cli.DurationFlag{Name: flagStopGrace, Value: zkserver.DefaultStopGrace, Usage: "wait after SIGTERM before SIGKILL"},
					serverID),
				Action: runZooKeeperStop,
			},
			{
				Name:        "status",
				Usage:       "list the servers recorded in the run directory",
				Description: "Exits 0 when at least one server is recorded and every recorded server runs, 1 otherwise.",
				Flags:       []cli.Flag{runDir},
				Action:      runZooKeeperStatus,
			},
		},
	}
}

// zooCfgPath is --zoo-cfg, else zoo.cfg in the configuration directory.
func zooCfgPath(c *cli.Context) string {
	if p := c.String(flagZooCfg); p != "" {
		return p
	}
	return filepath.Join(lineageString(c, flagConfDir), conf.ZooCfgFile)
}

// zkPlan splits zoo.cfg's servers into those this command runs here and those
// it reaches over ssh: with --server-id only that one, here; otherwise each
// server on this machine (thisMachine) here and every other over ssh.
func zkPlan(c *cli.Context, cfg *conf.ZooCfg) (here func(conf.ZooServer) bool, others []conf.ZooServer, err error) {
	if c.IsSet(flagServerID) {
		id := c.Int64(flagServerID)
		for _, s := range cfg.Servers {
			if s.ID == id {
				return func(s conf.ZooServer) bool { return s.ID == id }, nil, nil
			}
		}
		return nil, nil, fmt.Errorf("--%s %d: %s has no server.%d line", flagServerID, id, cfg.Path, id)
	}
	local := map[int64]bool{}
	for _, s := range cfg.Servers {
		if thisMachine(c.Context, s.Host) {
			local[s.ID] = true
		} else {
			others = append(others, s)
		}
	}
	return func(s conf.ZooServer) bool { return local[s.ID] }, others, nil
}

// zkRemoteArgs are the zookeeper flags a remote host gets for server id.
func zkRemoteArgs(c *cli.Context, verb, zooCfg string, id int64) []string {
	args := []string{"zookeeper", verb, "--" + flagServerID, strconv.FormatInt(id, 10)}
	if verb == "start" {
		args = append(args, "--"+flagZooCfg, zooCfg)
		if c.Bool(flagFreePort) {
			args = append(args, "--"+flagFreePort)
		}
	}
	if c.IsSet(flagRunDir) {
		args = append(args, "--"+flagRunDir, c.String(flagRunDir))
	}
	return args
}

// zkRemote is how this command reaches other hosts: newRemote over the
// configuration directory's flink-conf.yaml (amkeeper.ssh.command, env.ssh.opts).
func zkRemote(c *cli.Context) (*remote, error) {
	cfg, err := conf.Load(conf.Options{Dir: confDirIfExists(c), Dynamic: lineageDynamic(c)})
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return newRemote(c, cfg)
}

func runZooKeeperStart(c *cli.Context) error {
	path, err := filepath.Abs(zooCfgPath(c))
	if err != nil {
		return cli.Exit(fmt.Sprintf("zookeeper start: %v", err), exitInvalidConf)
	}
	cfg, err := conf.ParseZooCfg(path)
	if err != nil {
		return cli.Exit(fmt.Sprintf("zookeeper start: %v", err), exitInvalidConf)
	}
	here, others, err := zkPlan(c, cfg)
	if err != nil {
		return cli.Exit(fmt.Sprintf("zookeeper start: %v", err), exitUsage)
	}
	w := c.App.Writer
	if len(cfg.Servers) == 0 {
		fmt.Fprintln(w, "Starting zookeeper daemon on host localhost.")
	}
	anyHere := len(cfg.Servers) == 0
	for _, s := range cfg.Servers {
		if here(s) || slices.Contains(others, s) {
			fmt.Fprintf(w, "Starting zookeeper daemon on host %s.\n", s.Host)
		}
		anyHere = anyHere || here(s)
	}
	// The others start at the same time: a member serves only once a quorum runs.
	type started struct {
		connect string
		err     error
	}
	results := make([]chan started, len(others))
	if len(others) > 0 {
		r, err := zkRemote(c)
		if err != nil {
			return cli.Exit(fmt.Sprintf("zookeeper start: %v", err), exitInvalidConf)
		}
		for i, s := range others {
			results[i] = make(chan started, 1)
			go func() {
				var out strings.Builder
				err := r.runTo(c.Context, s.Host, &out, c.App.ErrWriter, zkRemoteArgs(c, "start", path, s.ID)...)
				lines := strings.Split(strings.TrimSpace(out.String()), "\n")
				fmt.Fprint(c.App.ErrWriter, out.String())
				results[i] <- started{connect: lines[len(lines)-1], err: err}
			}()
		}
	}
	var connect []string
	var failed []string
	if anyHere {
		res, err := zkserver.Start(c.Context, cfg, zkserver.Options{
			RunDir:   c.String(flagRunDir),
			FreePort: c.Bool(flagFreePort),
			Timeout:  c.Duration(flagTimeout),
			// As ZooKeeper's zkServer.sh: e.g. the JAAS file of a SASL server.
			JVMFlags: strings.Fields(os.Getenv(envServerJVMFlags)),
			Logger:   logger(c),
			Local:    here,
		})
		if err != nil {
			failed = append(failed, err.Error())
		} else {
			connect = append(connect, zkStarted(c, res)...)
		}
	}
	for i, s := range others {
		r := <-results[i]
		if r.err != nil {
			failed = append(failed, fmt.Sprintf("server.%d on %s: %v", s.ID, s.Host, r.err))
			continue
		}
		connect = append(connect, r.connect)
	}
	if len(failed) > 0 {
		return cli.Exit(fmt.Sprintf("zookeeper start: %s", strings.Join(failed, "; ")), exitFailure)
	}
	fmt.Fprintln(w, strings.Join(connect, ","))
	return nil
}

// zkStarted prints the servers started here and returns their addresses.
func zkStarted(c *cli.Context, res *zkserver.Started) []string {
	w := c.App.Writer
	var addrs []string
	secure := false
	for _, s := range res.Servers {
		over := ""
		if s.Secure() {
			over, secure = " over TLS only", true
		}
		fmt.Fprintf(w, "Started zookeeper %s on %s%s (pid %d, log %s).\n", s.Name, s.Addr, over, s.PID, s.LogPath())
		addrs = append(addrs, s.Addr)
	}
	if secure {
		fmt.Fprintln(c.App.ErrWriter, "Clients need zookeeper.client.secure: true, zookeeper.ssl.trustStore.location (the CA, PEM) and, "+
			"as the server requires client certificates unless ssl.clientAuth says otherwise, zookeeper.ssl.keyStore.location.")
	}
	return addrs
}

func runZooKeeperStop(c *cli.Context) error {
	runDir := c.String(flagRunDir)
	w := c.App.Writer
	stopOpts := zkserver.StopOptions{Grace: c.Duration(flagStopGrace), Logger: logger(c)}
	cfg, cfgErr := conf.ParseZooCfg(zooCfgPath(c))
	if cfgErr != nil || len(cfg.Servers) == 0 {
		// No ensemble to go through: every server recorded here.
		if c.IsSet(flagServerID) {
			return cli.Exit(fmt.Sprintf("zookeeper stop: --%s needs a zoo.cfg with server.X lines (%s)", flagServerID, zooCfgPath(c)), exitInvalidConf)
		}
		results, err := zkserver.Stop(c.Context, runDir, stopOpts)
		if len(results) == 0 && err == nil {
			fmt.Fprintf(w, "No zookeeper servers recorded in %s.\n", runDir)
			return nil
		}
		printStopped(w, results, "localhost")
		if err != nil {
			return cli.Exit(fmt.Sprintf("zookeeper stop: %v", err), exitFailure)
		}
		return nil
	}
	// As stop-zookeeper-quorum.sh: each server.X of zoo.cfg in turn, over ssh
	// on the other hosts.
	here, others, err := zkPlan(c, cfg)
	if err != nil {
		return cli.Exit(fmt.Sprintf("zookeeper stop: %v", err), exitUsage)
	}
	var r *remote
	if len(others) > 0 {
		if r, err = zkRemote(c); err != nil {
			return cli.Exit(fmt.Sprintf("zookeeper stop: %v", err), exitInvalidConf)
		}
	}
	var failed []string
	for _, s := range cfg.Servers {
		name := "server." + strconv.FormatInt(s.ID, 10)
		switch {
		case here(s):
			stopOpts.Only = func(n string) bool { return n == name }
			results, err := zkserver.Stop(c.Context, runDir, stopOpts)
			if len(results) == 0 && err == nil {
				fmt.Fprintf(w, "No zookeeper daemon to stop on host %s.\n", s.Host)
			}
			printStopped(w, results, s.Host)
			if err != nil {
				failed = append(failed, err.Error())
			}
		case slices.Contains(others, s):
			if err := r.run(c.Context, s.Host, zkRemoteArgs(c, "stop", "", s.ID)...); err != nil {
				failed = append(failed, fmt.Sprintf("%s on %s: %v", name, s.Host, err))
			}
		}
	}
	if len(failed) > 0 {
		return cli.Exit(fmt.Sprintf("zookeeper stop: %s", strings.Join(failed, "; ")), exitFailure)
	}
	return nil
}

// printStopped prints Stop's results; host names the servers' host.
func printStopped(w io.Writer, results []zkserver.StopResult, host string) {
	for _, r := range results {
		switch r.Outcome {
		case zkserver.OutcomeStopped, zkserver.OutcomeKilled:
			fmt.Fprintf(w, "Stopping zookeeper daemon (pid: %d) on host %s.\n", r.PID, host)
		case zkserver.OutcomeStale:
			fmt.Fprintf(w, "No zookeeper %s (pid %d) is running anymore; removed its pid file.\n", r.Name, r.PID)
		case zkserver.OutcomeNotRunning:
			fmt.Fprintf(w, "No zookeeper %s to stop.\n", r.Name)
		default:
			fmt.Fprintf(w, "Did not stop zookeeper %s (pid %d): %s.\n", r.Name, r.PID, r.Outcome)
		}
	}
}

func runZooKeeperStatus(c *cli.Context) error {
	runDir := c.String(flagRunDir)
	list, err := zkserver.StatusOf(c.Context, runDir)
	if err != nil {
		return cli.Exit(fmt.Sprintf("zookeeper status: %v", err), exitFailure)
	}
	if len(list) == 0 {
		return cli.Exit(fmt.Sprintf("zookeeper status: no zookeeper servers recorded in %s", runDir), exitFailure)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tSTATE\tPID\tADDRESS\tMODE\tLOG")
	down := 0
	for _, s := range list {
		pid, mode := "-", s.Mode
		if s.PID != 0 {
			pid = fmt.Sprint(s.PID)
		}
		if mode == "" {
			mode = "-"
		}
		if s.State != zkserver.StateRunning {
			down++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.State, pid, s.Addr, mode, s.LogPath())
	}
	tw.Flush()
	if down > 0 {
		return cli.Exit(fmt.Sprintf("zookeeper status: %d of %d servers not running", down, len(list)), exitFailure)
	}
	return nil
}
