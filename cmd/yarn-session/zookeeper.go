package main

import (
	"fmt"
	"os"
	"path/filepath"
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
	return &cli.Command{
		Name:  "zookeeper",
		Usage: "start, stop or list ZooKeeper servers from zoo.cfg on this machine, like Flink's start-zookeeper-quorum.sh",
		Subcommands: []*cli.Command{
			{
				Name:  "start",
				Usage: "start the zoo.cfg servers that run on this machine and print the client connect string",
				Description: "Starts every server.X of zoo.cfg on localhost or a loopback address (one standalone server\n" +
					"when zoo.cfg has no server.X lines), detached, and returns once all serve. The last line on\n" +
					"stdout is the client connect string (host:port,...). clientPort=0 or --free-port picks free ports.\n" +
					"SERVER_JVMFLAGS adds JVM flags, as in ZooKeeper's zkServer.sh: for a SASL server,\n" +
					"-Djava.security.auth.login.config=<server JAAS file> with authProvider.sasl in zoo.cfg.",
				Flags: append(commonFlags(),
					&cli.StringFlag{Name: flagZooCfg, Usage: "zoo.cfg to read; wins over --conf-dir (default: zoo.cfg in --conf-dir)"},
					runDir,
					&cli.BoolFlag{Name: flagFreePort, Usage: "give each server a free client port instead of zoo.cfg's clientPort"},
					&cli.DurationFlag{Name: flagTimeout, Value: zkserver.DefaultStartTimeout, Usage: "how long the servers may take to serve"},
				),
				Action: runZooKeeperStart,
			},
			{
				Name:   "stop",
				Usage:  "stop the servers recorded in the run directory (SIGTERM, then SIGKILL after --grace)",
				Flags:  []cli.Flag{runDir, &cli.DurationFlag{Name: flagStopGrace, Value: zkserver.DefaultStopGrace, Usage: "wait after SIGTERM before SIGKILL"}},
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

func runZooKeeperStart(c *cli.Context) error {
	path := c.String(flagZooCfg)
	if path == "" {
		path = filepath.Join(lineageString(c, flagConfDir), conf.ZooCfgFile)
	}
	cfg, err := conf.ParseZooCfg(path)
	if err != nil {
		return cli.Exit(fmt.Sprintf("zookeeper start: %v", err), exitInvalidConf)
	}
	res, err := zkserver.Start(c.Context, cfg, zkserver.Options{
		RunDir:   c.String(flagRunDir),
		FreePort: c.Bool(flagFreePort),
		Timeout:  c.Duration(flagTimeout),
		// As ZooKeeper's zkServer.sh: e.g. the JAAS file of a SASL server.
		JVMFlags: strings.Fields(os.Getenv(envServerJVMFlags)),
		Logger:   logger(c),
	})
	if res != nil {
		for _, s := range res.Skipped {
			fmt.Fprintf(c.App.ErrWriter, "Skipping %s: not this machine.\n", s)
		}
	}
	if err != nil {
		return cli.Exit(fmt.Sprintf("zookeeper start: %v", err), exitFailure)
	}
	w := c.App.Writer
	secure := false
	for _, s := range res.Servers {
		over := ""
		if s.Secure() {
			over, secure = " over TLS only", true
		}
		fmt.Fprintf(w, "Started zookeeper %s on %s%s (pid %d, log %s).\n", s.Name, s.Addr, over, s.PID, s.LogPath())
	}
	if secure {
		fmt.Fprintln(c.App.ErrWriter, "Clients need zookeeper.client.secure: true, zookeeper.ssl.trustStore.location (the CA, PEM) and, "+
			"as the server requires client certificates unless ssl.clientAuth says otherwise, zookeeper.ssl.keyStore.location.")
	}
	fmt.Fprintln(w, res.ConnectString())
	return nil
}

func runZooKeeperStop(c *cli.Context) error {
	runDir := c.String(flagRunDir)
	results, err := zkserver.Stop(c.Context, runDir, zkserver.StopOptions{Grace: c.Duration(flagStopGrace), Logger: logger(c)})
	w := c.App.Writer
	if len(results) == 0 && err == nil {
		fmt.Fprintf(w, "No zookeeper servers recorded in %s.\n", runDir)
		return nil
	}
	for _, r := range results {
		switch r.Outcome {
		case zkserver.OutcomeStopped, zkserver.OutcomeKilled:
			fmt.Fprintf(w, "Stopped zookeeper %s (pid %d, %s).\n", r.Name, r.PID, r.Outcome)
		case zkserver.OutcomeStale:
			fmt.Fprintf(w, "No zookeeper %s (pid %d) is running anymore; removed its pid file.\n", r.Name, r.PID)
		case zkserver.OutcomeNotRunning:
			fmt.Fprintf(w, "No zookeeper %s to stop.\n", r.Name)
		default:
			fmt.Fprintf(w, "Did not stop zookeeper %s (pid %d): %s.\n", r.Name, r.PID, r.Outcome)
		}
	}
	if err != nil {
		return cli.Exit(fmt.Sprintf("zookeeper stop: %v", err), exitFailure)
	}
	return nil
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
