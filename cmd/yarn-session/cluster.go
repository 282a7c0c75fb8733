package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/conf"
)

// start-cluster and stop-cluster: Flink's start-cluster.sh and stop-cluster.sh.
// Each host of conf/masters and conf/workers gets `yarn-session jobmanager
// start` or `taskmanager start`: directly when the host is this machine,
// otherwise over ssh (amkeeper.ssh.command, env.ssh.opts) with the same binary
// and configuration directory paths, as Flink's scripts assume the same
// installation path on every host.

func clusterCommands() []*cli.Command {
	return []*cli.Command{
		{
			Name:  "start-cluster",
			Usage: "start the masters of conf/masters and the TaskManagers of conf/workers, each on its host (over ssh for other hosts)",
			Flags: commonFlags(),
			Action: func(c *cli.Context) error {
				return runCluster(c, true)
			},
		},
		{
			Name:  "stop-cluster",
			Usage: "stop the TaskManagers of conf/workers and the masters of conf/masters, each on its host (over ssh for other hosts)",
			Flags: commonFlags(),
			Action: func(c *cli.Context) error {
				return runCluster(c, false)
			},
		},
	}
}

// clusterHosts reads conf/masters and conf/workers (without a workers file:
// localhost, as Flink's scripts).
func clusterHosts(cfg *conf.Config) ([]conf.Master, []conf.Worker, error) {
	masters := cfg.Masters()
	if len(masters) == 0 {
		return nil, nil, fmt.Errorf("%s lists no master", filepath.Join(cfg.Dir(), conf.MastersFile))
	}
	workers, err := conf.ParseWorkers(filepath.Join(cfg.Dir(), conf.WorkersFile))
	if errors.Is(err, fs.ErrNotExist) {
		return masters, []conf.Worker{{Host: "localhost"}}, nil
	}
	return masters, workers, err
}

func runCluster(c *cli.Context, start bool) error {
	what := "stop-cluster"
	if start {
		what = "start-cluster"
	}
	if confDirIfExists(c) == "" {
		return cli.Exit(fmt.Sprintf("%s: no configuration directory %s", what, lineageString(c, flagConfDir)), exitInvalidConf)
	}
	cfg, err := conf.Load(conf.Options{Dir: confDirIfExists(c), Dynamic: lineageDynamic(c)})
	if err != nil {
		return cli.Exit(fmt.Sprintf("%s: configuration: %v", what, err), exitInvalidConf)
	}
	masters, workers, err := clusterHosts(cfg)
	if err != nil {
		return cli.Exit(fmt.Sprintf("%s: %v", what, err), exitInvalidConf)
	}
	r, err := newRemote(c, cfg)
	if err != nil {
		return cli.Exit(fmt.Sprintf("%s: %v", what, err), exitFailure)
	}
	var failed []string
	run := func(host string, args ...string) {
		if err := r.run(c.Context, host, args...); err != nil {
			failed = append(failed, fmt.Sprintf("%s on %s: %v", strings.Join(args, " "), host, err))
		}
	}
	masterArgs := func(verb string, m conf.Master) []string {
		args := []string{"jobmanager", verb, "--" + flagHost, m.Host}
		if m.WebUIPort != 0 {
			args = append(args, "--"+flagWebUIPort, strconv.Itoa(m.WebUIPort))
		}
		return args
	}
	if start {
		peers := 0
		if z := cfg.ZooCfg(); z != nil {
			peers = len(z.Servers)
		}
		fmt.Fprintf(c.App.Writer, "Starting HA cluster with %d masters and %d peers in ZooKeeper quorum.\n", len(masters), peers)
		for _, m := range masters {
			run(m.Host, masterArgs("start", m)...)
		}
		for _, w := range workers {
			run(w.Host, "taskmanager", "start", "--"+flagHost, w.Host)
		}
	} else {
		// As stop-cluster.sh: the TaskManagers first, then the masters.
		for _, w := range uniqueWorkers(workers) {
			run(w.Host, "taskmanager", "stop", "--"+flagHost, w.Host)
		}
		for _, m := range masters {
			run(m.Host, masterArgs("stop", m)...)
		}
	}
	if len(failed) > 0 {
		return cli.Exit(fmt.Sprintf("%s: %s", what, strings.Join(failed, "; ")), exitFailure)
	}
	return nil
}

// uniqueWorkers drops repeated hosts: one stop there stops all of its
// TaskManagers.
func uniqueWorkers(ws []conf.Worker) []conf.Worker {
	seen := map[string]bool{}
	var out []conf.Worker
	for _, w := range ws {
		if !seen[w.Host] {
			seen[w.Host] = true
			out = append(out, w)
		}
	}
	return out
}

// remote runs yarn-session commands on a host: this binary for this machine,
// the ssh command for the others.
type remote struct {
	exe     string
	base    []string // --conf-dir, --log-level and the public -D items
	secrets []string // -D items whose keys are secrets: environment only, never sent
	ssh     []string // amkeeper.ssh.command and -n and env.ssh.opts
	w, ew   io.Writer
}

func newRemote(c *cli.Context, cfg *conf.Config) (*remote, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	public, secret, err := conf.SplitSecretDynamic(lineageDynamic(c))
	if err != nil {
		return nil, err
	}
	var base []string
	if cfg.Dir() != "" {
		base = []string{"--" + flagConfDir, cfg.Dir()}
	}
	if lineageIsSet(c, flagLogLevel) {
		base = append(base, "--"+flagLogLevel, lineageString(c, flagLogLevel))
	}
	for _, kv := range public {
		base = append(base, "-"+flagDynamic, kv)
	}
	ssh := strings.Fields(cfg.String(conf.SSHCommand))
	if len(ssh) == 0 {
		return nil, fmt.Errorf("%s is empty: name the ssh command", conf.SSHCommand.Key())
	}
	ssh = append(ssh, "-n")
	ssh = append(ssh, strings.Fields(cfg.String(conf.SSHOpts))...)
	return &remote{exe: exe, base: base, secrets: secret, ssh: ssh, w: c.App.Writer, ew: c.App.ErrWriter}, nil
}

// run runs `yarn-session <base> args…` on host, its output passed through.
func (r *remote) run(ctx context.Context, host string, args ...string) error {
	return r.runTo(ctx, host, r.w, r.ew, args...)
}

// runTo is run with the command's output to stdout and stderr.
func (r *remote) runTo(ctx context.Context, host string, stdout, stderr io.Writer, args ...string) error {
	argv := append(append([]string{r.exe}, r.base...), args...)
	var cmd *exec.Cmd
	if thisMachine(ctx, host) {
		cmd = exec.CommandContext(ctx, argv[0], argv[1:]...)
		if len(r.secrets) > 0 {
			cmd.Env = append(os.Environ(), conf.EnvSecretDynamic+"="+strings.Join(r.secrets, "\n"))
		}
	} else {
		if len(r.secrets) > 0 {
			fmt.Fprintf(r.ew, "warning: not sending the secret -D properties to %s: put them in its flink-conf.yaml\n", host)
		}
		quoted := make([]string, len(argv))
		for i, a := range argv {
			quoted[i] = shellQuote(a)
		}
		sshArgv := append(append(append([]string{}, r.ssh...), host, "--"), strings.Join(quoted, " "))
		cmd = exec.CommandContext(ctx, sshArgv[0], sshArgv[1:]...)
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd.Run()
}

// shellQuote quotes s for the remote shell ssh runs a command with.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// thisMachine reports whether host is this machine: localhost, this machine's
// host name, or a name or address that resolves to an address assigned to one
// of its interfaces. An address only routed here is not: 127.0.0.2 reaches
// this machine through lo, whose address is 127.0.0.1, so it is treated as
// another host — which is how tests stand up several hosts on one machine.
func thisMachine(ctx context.Context, host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if h, err := os.Hostname(); err == nil && strings.EqualFold(host, h) {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		found, err := net.DefaultResolver.LookupIPAddr(lctx, host)
		if err != nil {
			return false
		}
		for _, a := range found {
			ips = append(ips, a.IP)
		}
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		for _, ip := range ips {
			if n.IP.Equal(ip) {
				return true
			}
		}
	}
	return false
}
