package main

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/childproc"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/sessionctl"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/zkha"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// Flags of `election` and of its hidden contender.
const (
	flagElectionRounds   = "rounds"
	flagExpiryRounds     = "expiry-rounds"
	flagSessionTimeout   = "session-timeout"
	flagContenderServers = "zookeeper"
	flagContenderPath    = "path"
)

// Limits of the flags. The throwaway ZooKeeper ticks every 500 ms and clamps a
// session timeout to 2–20 ticks.
const (
	maxElectionRounds = 1000
	maxExpiryRounds   = 100
	minBenchSession   = time.Second
	maxBenchSession   = 10 * time.Second
)

//go:embed kazoo_election.py
var kazooContenderScript []byte

// benchElectionRoot is the znode under which every round gets a fresh election.
const benchElectionRoot = "/amkeeper-bench"

// Contender kinds.
const (
	contenderOurs  = "ours"
	contenderKazoo = "kazoo"
)

// handoverScenario is how the leader leaves in a round.
type handoverScenario string

const (
	// scenarioGraceful: the leader is told to quit and leaves (node deleted,
	// session closed).
	scenarioGraceful handoverScenario = "graceful"
	// scenarioFenced: the leader is SIGKILLed, reaped, and its session closed by
	// the driver with zkclient.CloseSession, as the supervisor fences a dead AM.
	scenarioFenced handoverScenario = "fenced"
	// scenarioExpiry: the leader is SIGKILLed and nobody closes its session: the
	// next leader waits for the server to expire it.
	scenarioExpiry handoverScenario = "expiry"
)

var scenarioTitles = map[handoverScenario]string{
	scenarioGraceful: "graceful leave (quit)",
	scenarioFenced:   "kill, dead session closed",
	scenarioExpiry:   "kill, session expiry",
}

func electionCommand(o options) *cli.Command {
	return &cli.Command{
		Name: "election",
		Usage: "leader-election handover of ours against python3-kazoo's Election recipe, on one throwaway ZooKeeper, " +
			"for a graceful leave and for SIGKILL",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: flagElectionRounds, Value: 20, Usage: fmt.Sprintf("handovers per kind for the graceful and the fenced kill scenarios (1–%d)", maxElectionRounds)},
			&cli.IntFlag{Name: flagExpiryRounds, Value: 2, Usage: fmt.Sprintf("handovers per kind by session expiry, each costing about a session timeout (0–%d)", maxExpiryRounds)},
			&cli.DurationFlag{Name: flagSessionTimeout, Value: 2 * time.Second, Usage: fmt.Sprintf("ZooKeeper session timeout of every contender (%s–%s)", minBenchSession, maxBenchSession)},
		},
		Action: func(c *cli.Context) error { return runElection(c, o.kazooPython) },
	}
}

// electionContenderCommand is one of our contenders: the AM's election code path
// (configuration → zkclient → recovery.Election) in a process of its own, driven
// over stdin/stdout by `election`.
func electionContenderCommand() *cli.Command {
	return &cli.Command{
		Name:   "election-contender",
		Usage:  "one contender of `election` (started by the bench)",
		Hidden: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: flagContenderServers, Required: true, Usage: "ZooKeeper connect string host:port[,host:port…]"},
			&cli.StringFlag{Name: flagContenderPath, Required: true, Usage: "the election's cluster path (path.root/cluster-id)"},
			&cli.DurationFlag{Name: flagSessionTimeout, Value: 2 * time.Second, Usage: "ZooKeeper session timeout"},
		},
		Action: runElectionContender,
	}
}

// validateElection checks the flags of `election`.
func validateElection(rounds, expiry int, timeout time.Duration) error {
	switch {
	case rounds < 1 || rounds > maxElectionRounds:
		return fmt.Errorf("--%s must be between 1 and %d, got %d", flagElectionRounds, maxElectionRounds, rounds)
	case expiry < 0 || expiry > maxExpiryRounds:
		return fmt.Errorf("--%s must be between 0 and %d, got %d", flagExpiryRounds, maxExpiryRounds, expiry)
	case timeout < minBenchSession || timeout > maxBenchSession:
		return fmt.Errorf("--%s must be between %s and %s (the bench's ZooKeeper allows 2–20 ticks of 500 ms), got %s",
			flagSessionTimeout, minBenchSession, maxBenchSession, timeout)
	}
	return nil
}

// kazooVersion checks that python can import kazoo and returns its version.
func kazooVersion(ctx context.Context, python string) (string, error) {
	if _, err := os.Stat(python); err != nil {
		return "", fmt.Errorf("no %s (apt-get install python3-kazoo): %w", python, err)
	}
	out, err := exec.CommandContext(ctx, python, "-c", "import kazoo.version; print(kazoo.version.__version__)").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s cannot import kazoo (apt-get install python3-kazoo): %w: %s", python, err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// runElection runs the election bench, with kazoo's contender on python.
func runElection(c *cli.Context, python string) error {
	ctx := c.Context
	rounds, expiryRounds, timeout := c.Int(flagElectionRounds), c.Int(flagExpiryRounds), c.Duration(flagSessionTimeout)
	if err := validateElection(rounds, expiryRounds, timeout); err != nil {
		return cli.Exit("election: "+err.Error(), exitUsage)
	}
	version, err := kazooVersion(ctx, python)
	if err != nil {
		return cli.Exit("election: "+err.Error(), exitFailure)
	}
	exe, err := os.Executable()
	if err != nil {
		return cli.Exit(fmt.Sprintf("election: find this executable: %v", err), exitFailure)
	}
	bn, err := startBench(c, "election")
	if err != nil {
		return err
	}
	defer bn.close()
	log := bn.log
	script := filepath.Join(bn.dir, "kazoo_election.py")
	if err := os.WriteFile(script, kazooContenderScript, 0o600); err != nil {
		return cli.Exit(fmt.Sprintf("election: write the kazoo contender: %v", err), exitFailure)
	}

	connect := bn.connect
	servers := strings.Split(connect, ",")
	watcher, err := zkclient.Connect(ctx, zkclient.Config{
		Servers: servers, SessionTimeout: 10 * time.Second, ConnectionTimeout: 15 * time.Second, Logger: log,
	})
	if err != nil {
		return cli.Exit(fmt.Sprintf("election: %v", err), exitFailure)
	}
	defer watcher.Close()

	b := &electionBench{
		servers:   servers,
		connect:   connect,
		timeout:   timeout,
		exe:       exe,
		python:    python,
		script:    script,
		logLevel:  c.String(flagLogLevel),
		logFormat: c.String(flagLogFormat),
		stderr:    contenderStderr(c.App.ErrWriter),
		watcher:   watcher,
		log:       log,
		rss:       map[string]string{},
		handovers: map[handoverScenario]map[string][]float64{},
	}
	defer b.killAll()

	// Rounds alternate which kind goes first, so neither always runs on a
	// server that has just served the other.
	order := func(r int) []string {
		if r%2 == 0 {
			return []string{contenderOurs, contenderKazoo}
		}
		return []string{contenderKazoo, contenderOurs}
	}
	for r := 0; r < rounds; r++ {
		for _, sc := range []handoverScenario{scenarioGraceful, scenarioFenced} {
			for _, kind := range order(r) {
				if err := b.measure(ctx, kind, sc, r); err != nil {
					return cli.Exit(fmt.Sprintf("election: %v", err), exitFailure)
				}
			}
		}
	}
	for r := 0; r < expiryRounds; r++ {
		for _, kind := range order(r) {
			if err := b.measure(ctx, kind, scenarioExpiry, r); err != nil {
				return cli.Exit(fmt.Sprintf("election: %v", err), exitFailure)
			}
		}
	}
	b.report(c.App.Writer, version, rounds, expiryRounds)
	return nil
}

// electionBench drives the contenders of `election`.
type electionBench struct {
	servers   []string
	connect   string
	timeout   time.Duration
	exe       string // this binary: our contender
	python    string // runs kazoo's contender
	script    string // kazoo's contender
	logLevel  string
	logFormat string
	stderr    io.Writer
	watcher   *zkclient.Client // counts contenders before the leader is made to leave
	log       zerolog.Logger

	live      []*contender
	rss       map[string]string // kind → RSS of one elected contender
	handovers map[handoverScenario]map[string][]float64
}

// measure runs one round: two contenders of kind on a fresh election, the first
// elected is made to leave as sc says, and the handover (ms) is recorded.
func (b *electionBench) measure(ctx context.Context, kind string, sc handoverScenario, round int) error {
	d, err := b.round(ctx, kind, sc, round)
	if err != nil {
		return fmt.Errorf("%s %s round %d: %w", kind, sc, round+1, err)
	}
	ms := float64(d.Nanoseconds()) / 1e6
	if b.handovers[sc] == nil {
		b.handovers[sc] = map[string][]float64{}
	}
	b.handovers[sc][kind] = append(b.handovers[sc][kind], ms)
	b.log.Debug().Str("kind", kind).Str("scenario", string(sc)).Int("round", round+1).
		Float64(logging.Duration+"_ms", ms).Msg("handover")
	return nil
}

func (b *electionBench) round(ctx context.Context, kind string, sc handoverScenario, round int) (time.Duration, error) {
	electionPath := fmt.Sprintf("%s/%s-%s-%d", benchElectionRoot, kind, sc, round+1)
	nodes := electionPath // where the contenders' nodes appear
	if kind == contenderOurs {
		nodes = electionPath + "/leader/latch" // below the contender's chroot
	}
	first, err := b.start(kind, electionPath)
	if err != nil {
		return 0, err
	}
	defer b.retire(first)
	if _, err := first.expect(ctx, lineSession, 30*time.Second); err != nil {
		return 0, err
	}
	if _, err := first.expect(ctx, lineLeader, 15*time.Second); err != nil {
		return 0, err
	}
	if _, ok := b.rss[kind]; !ok {
		b.rss[kind] = sessionctl.RSS(first.pid())
	}
	second, err := b.start(kind, electionPath)
	if err != nil {
		return 0, err
	}
	defer b.retire(second)
	if _, err := second.expect(ctx, lineSession, 30*time.Second); err != nil {
		return 0, err
	}
	if err := b.waitNodes(ctx, nodes, 2, 15*time.Second); err != nil {
		return 0, err
	}

	within := 15 * time.Second
	var t0 time.Time
	switch sc {
	case scenarioGraceful:
		t0 = time.Now()
		if err := first.send("quit"); err != nil {
			return 0, err
		}
	case scenarioFenced, scenarioExpiry:
		t0 = time.Now()
		if err := first.kill(); err != nil {
			return 0, err
		}
		if sc == scenarioFenced {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := zkclient.CloseSession(cctx, b.servers, nil, first.session.id, first.session.password, 0)
			cancel()
			if err != nil {
				return 0, fmt.Errorf("close the killed leader's session: %w", err)
			}
		} else {
			within = 3*b.timeout + 15*time.Second
		}
	}
	next, err := second.expect(ctx, lineLeader, within)
	if err != nil {
		return 0, err
	}
	if !next.at.After(t0) {
		return 0, fmt.Errorf("the second contender led at %s, before the first was made to leave at %s",
			next.at.Format(time.RFC3339Nano), t0.Format(time.RFC3339Nano))
	}
	if sc == scenarioGraceful {
		if err := first.waitExit(ctx, 15*time.Second); err != nil {
			return 0, fmt.Errorf("the leader that quit: %w", err)
		}
	}
	return next.at.Sub(t0), nil
}

// waitNodes polls (no watch, so nothing of ours fires during the handover) until
// p has n children.
func (b *electionBench) waitNodes(ctx context.Context, p string, n int, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		names, _, err := b.watcher.Children(ctx, p)
		if err == nil && len(names) >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %d contenders under %s: %w (last listing: %d, %v)", n, p, ctx.Err(), len(names), err)
		case <-tick.C:
		}
	}
}

// start runs one contender of kind on the election at electionPath.
func (b *electionBench) start(kind, electionPath string) (*contender, error) {
	var cmd *exec.Cmd
	switch kind {
	case contenderOurs:
		var args []string
		if b.logLevel != "" {
			args = append(args, "--"+flagLogLevel, b.logLevel)
		}
		if b.logFormat != "" {
			args = append(args, "--"+flagLogFormat, b.logFormat)
		}
		cmd = exec.Command(b.exe, append(args, "election-contender", "--"+flagContenderServers, b.connect,
			"--"+flagContenderPath, electionPath, "--"+flagSessionTimeout, b.timeout.String())...)
	case contenderKazoo:
		cmd = exec.Command(b.python, b.script, b.connect, electionPath, strconv.FormatFloat(b.timeout.Seconds(), 'f', 3, 64))
	default:
		return nil, fmt.Errorf("unknown contender kind %q", kind)
	}
	p, err := startContender(kind, cmd, b.stderr)
	if err != nil {
		return nil, err
	}
	b.live = append(b.live, p)
	return p, nil
}

// retire ends a contender at the end of its round: asked to quit (so its
// session is closed, not left to expire), killed if it does not go.
func (b *electionBench) retire(p *contender) {
	if p.exitedNow() {
		return
	}
	if p.send("quit") == nil {
		t := time.NewTimer(5 * time.Second)
		defer t.Stop()
		select {
		case <-p.exited:
			return
		case <-t.C:
		}
	}
	_ = p.kill()
}

// contenderStderr is where the contenders' stderr goes: the file itself when
// the app writes to one (the kernel interleaves the lines), otherwise w behind a
// mutex, since exec copies each contender's stderr on a goroutine of its own.
func contenderStderr(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok {
		return f
	}
	return &lockedWriter{w: w}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// killAll kills and reaps every contender still running.
func (b *electionBench) killAll() {
	for _, p := range b.live {
		_ = p.kill()
	}
	b.live = nil
}

// report prints the table and the summary line.
func (b *electionBench) report(w io.Writer, kazooVer string, rounds, expiryRounds int) {
	fmt.Fprintf(w, "Leader election handover: ours (recovery.Election, go-zookeeper) vs kazoo %s (Election recipe, %s)\n", kazooVer, b.python)
	fmt.Fprintf(w, "contenders in separate processes, one standalone ZooKeeper (tickTime 500 ms), session timeout %s\n", b.timeout)
	fmt.Fprintf(w, "handover = from the driver's quit or SIGKILL to the next contender's leader timestamp\n\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario (ms)\trounds\tours p50\tours p99\tkazoo p50\tkazoo p99\tours/kazoo p50\t")
	for _, sc := range []handoverScenario{scenarioGraceful, scenarioFenced, scenarioExpiry} {
		ours, kazoo := b.handovers[sc][contenderOurs], b.handovers[sc][contenderKazoo]
		if len(ours) == 0 {
			continue
		}
		n := rounds
		if sc == scenarioExpiry {
			n = expiryRounds
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t\n", scenarioTitles[sc], n,
			pct(ours, 50), pct(ours, 99), pct(kazoo, 50), pct(kazoo, 99), fmtRatio(handoverRatio(ours, kazoo)))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nRSS of an elected contender: ours %s, kazoo %s\n", b.rss[contenderOurs], b.rss[contenderKazoo])
	fmt.Fprintf(w, "election graceful ratio=%s kill ratio=%s\n",
		fmtRatio(handoverRatio(b.handovers[scenarioGraceful][contenderOurs], b.handovers[scenarioGraceful][contenderKazoo])),
		fmtRatio(handoverRatio(b.handovers[scenarioFenced][contenderOurs], b.handovers[scenarioFenced][contenderKazoo])))
}

// handoverRatio is ours p50 / kazoo p50; 0 when it cannot be computed.
func handoverRatio(ours, kazoo []float64) float64 {
	k := pct(kazoo, 50)
	if len(ours) == 0 || k <= 0 {
		return 0
	}
	return pct(ours, 50) / k
}

func fmtRatio(r float64) string {
	if r <= 0 {
		return "n/a"
	}
	return strconv.FormatFloat(r, 'f', 2, 64)
}

// The contenders' line protocol, on their stdout.
const (
	lineSession = "session" // "session <id-hex> <password-hex>": connected
	lineLeader  = "leader"  // "leader <unix-ns>": elected
)

// contenderLine is one parsed line of a contender's stdout.
type contenderLine struct {
	kind     string
	id       int64     // session
	password []byte    // session; a secret: never printed
	at       time.Time // leader
}

// String never prints the password.
func (l contenderLine) String() string {
	switch l.kind {
	case lineSession:
		return fmt.Sprintf("session 0x%x", l.id)
	case lineLeader:
		return "leader " + l.at.Format(time.RFC3339Nano)
	}
	return l.kind
}

// parseContenderLine parses one line of the contender protocol. Errors quote
// only the line's first word: a session line carries the password.
func parseContenderLine(line string) (contenderLine, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return contenderLine{}, errors.New("empty line")
	}
	switch {
	case f[0] == lineSession && len(f) == 3:
		id, err := parseSessionID(f[1])
		if err != nil {
			return contenderLine{}, fmt.Errorf("session line: id: %w", err)
		}
		pw, err := hex.DecodeString(f[2])
		if err != nil || len(pw) == 0 {
			return contenderLine{}, errors.New("session line: password is not hex")
		}
		return contenderLine{kind: lineSession, id: id, password: pw}, nil
	case f[0] == lineLeader && len(f) == 2:
		ns, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || ns <= 0 {
			return contenderLine{}, fmt.Errorf("leader line: %q is not a positive Unix time in nanoseconds", f[1])
		}
		return contenderLine{kind: lineLeader, at: time.Unix(0, ns)}, nil
	}
	return contenderLine{}, fmt.Errorf("unexpected line starting %q with %d fields", f[0], len(f))
}

// parseSessionID reads a session ID in hex: signed as Go and Python print a
// negative int64, or unsigned 64-bit as some clients print it.
func parseSessionID(s string) (int64, error) {
	if id, err := strconv.ParseInt(s, 16, 64); err == nil {
		return id, nil
	}
	u, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a hex session ID", s)
	}
	return int64(u), nil
}

// contender is one running contender process and its stdout, parsed.
type contender struct {
	kind    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   chan contenderLine // closed when stdout closes
	bad     chan error         // a line that does not parse
	exited  chan struct{}      // closed once the process has been reaped
	session contenderLine      // the session line, once seen
}

// startContender starts cmd from a goroutine locked to its OS thread until the
// child is reaped: Linux sends the parent-death signal when the forking thread
// ends, and the Go runtime ends a thread when a goroutine locked to it returns,
// so only a thread that lives exactly as long as the child makes Pdeathsig mean
// "when the bench dies".
func startContender(kind string, cmd *exec.Cmd, stderr io.Writer) (*contender, error) {
	cmd.SysProcAttr = childproc.SysProcAttr(childproc.OwnGroup)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s contender: %w", kind, err)
	}
	// Our own pipe rather than StdoutPipe: Wait runs concurrently with reading,
	// and must not close the read end under us.
	r, w, err := os.Pipe()
	if err != nil {
		stdin.Close()
		return nil, fmt.Errorf("start %s contender: %w", kind, err)
	}
	cmd.Stdout = w
	p := &contender{
		kind: kind, cmd: cmd, stdin: stdin,
		lines:  make(chan contenderLine, 4),
		bad:    make(chan error, 1),
		exited: make(chan struct{}),
	}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(p.exited)
	}()
	err = <-started
	w.Close()
	if err != nil {
		r.Close()
		stdin.Close()
		return nil, fmt.Errorf("start %s contender: %w", kind, err)
	}
	go p.read(r)
	return p, nil
}

func (p *contender) read(r *os.File) {
	defer r.Close()
	defer close(p.lines)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		l, err := parseContenderLine(sc.Text())
		if err != nil {
			select {
			case p.bad <- err:
			default:
			}
			continue
		}
		p.lines <- l
	}
}

func (p *contender) pid() int { return p.cmd.Process.Pid }

// expect waits for the contender's next line and requires it to be of kind.
func (p *contender) expect(ctx context.Context, kind string, within time.Duration) (contenderLine, error) {
	t := time.NewTimer(within)
	defer t.Stop()
	select {
	case l, ok := <-p.lines:
		switch {
		case !ok:
			return l, fmt.Errorf("%s contender (pid %d) ended before its %s line: %s", p.kind, p.pid(), kind, p.status())
		case l.kind != kind:
			return l, fmt.Errorf("%s contender (pid %d): want a %s line, got %s", p.kind, p.pid(), kind, l)
		}
		if kind == lineSession {
			p.session = l
		}
		return l, nil
	case err := <-p.bad:
		return contenderLine{}, fmt.Errorf("%s contender (pid %d): %w", p.kind, p.pid(), err)
	case <-t.C:
		return contenderLine{}, fmt.Errorf("%s contender (pid %d): no %s line within %s", p.kind, p.pid(), kind, within)
	case <-ctx.Done():
		return contenderLine{}, ctx.Err()
	}
}

// send writes one line to the contender's stdin.
func (p *contender) send(line string) error {
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		return fmt.Errorf("%s contender (pid %d): send %q: %w", p.kind, p.pid(), line, err)
	}
	return nil
}

// kill sends SIGKILL and returns once the process has been reaped.
func (p *contender) kill() error {
	err := p.cmd.Process.Kill()
	<-p.exited
	if errors.Is(err, os.ErrProcessDone) {
		err = nil
	}
	return err
}

// waitExit waits for the contender to exit by itself, with status 0.
func (p *contender) waitExit(ctx context.Context, within time.Duration) error {
	t := time.NewTimer(within)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		return fmt.Errorf("%s contender (pid %d) still running %s after quit", p.kind, p.pid(), within)
	case <-ctx.Done():
		return ctx.Err()
	}
	if !p.cmd.ProcessState.Success() {
		return fmt.Errorf("%s contender (pid %d): %s", p.kind, p.pid(), p.cmd.ProcessState)
	}
	return nil
}

func (p *contender) exitedNow() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// status describes how the process ended, or that it still runs.
func (p *contender) status() string {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.String()
	case <-t.C:
		return "still running"
	}
}

// runElectionContender is one of our contenders: it builds the ZooKeeper client
// and the election as haservices.Open does for the AM, prints its session, and
// contends until told to quit (or its stdin closes).
func runElectionContender(c *cli.Context) error {
	log, err := newLogger(c, "election-contender")
	if err != nil {
		return err
	}
	p := path.Clean("/" + strings.Trim(c.String(flagContenderPath), "/"))
	if path.Dir(p) == "/" || path.Base(p) == "" {
		return cli.Exit(fmt.Sprintf("election-contender: --%s %q: want /root/cluster-id", flagContenderPath, p), exitUsage)
	}
	cfg, err := conf.Load(conf.Options{
		Dynamic: []string{
			conf.ZKQuorum.Key() + "=" + c.String(flagContenderServers),
			conf.ZKPathRoot.Key() + "=" + path.Dir(p),
			conf.HAClusterID.Key() + "=" + path.Base(p),
			conf.ZKSessionTimeout.Key() + "=" + strconv.FormatInt(c.Duration(flagSessionTimeout).Milliseconds(), 10) + " ms",
		},
		LookupEnv: func(string) (string, bool) { return "", false },
	})
	if err != nil {
		return cli.Exit(fmt.Sprintf("election-contender: configuration: %v", err), exitUsage)
	}

	ctx, cancel := context.WithCancel(c.Context)
	defer cancel()
	zc, err := zkha.ClientConfig(cfg, log)
	if err != nil {
		return cli.Exit(fmt.Sprintf("election-contender: %v", err), exitUsage)
	}
	cl, err := zkclient.Connect(ctx, zc)
	if err != nil {
		return cli.Exit(fmt.Sprintf("election-contender: %v", err), exitFailure)
	}
	defer cl.Close()
	s := cl.Session()
	// stdout is the bench's pipe: the only place the password goes.
	if _, err := fmt.Fprintf(c.App.Writer, "%s %x %x\n", lineSession, s.ID, s.Password); err != nil {
		return cli.Exit(fmt.Sprintf("election-contender: write the session line: %v", err), exitFailure)
	}

	go func() {
		// "quit", or the end of stdin (the bench is gone), ends the contention.
		defer cancel()
		sc := bufio.NewScanner(c.App.Reader)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "quit" {
				return
			}
		}
	}()
	el := zkha.NewElection(zkha.ElectionConfig{
		Client:            cl,
		TolerateSuspended: cfg.TolerateSuspendedConnections(),
		Logger:            log,
	})
	var werr error
	err = el.Run(ctx, func(g recovery.Grant) {
		if _, err := fmt.Fprintf(c.App.Writer, "%s %d\n", lineLeader, time.Now().UnixNano()); err != nil {
			werr = err
			cancel()
		}
		<-g.Done()
	})
	if werr != nil {
		return cli.Exit(fmt.Sprintf("election-contender: write the leader line: %v", werr), exitFailure)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return cli.Exit(fmt.Sprintf("election-contender: %v", err), exitFailure)
	}
	if err := cl.Close(); err != nil {
		return cli.Exit(fmt.Sprintf("election-contender: close the zookeeper session: %v", err), exitFailure)
	}
	return nil
}
