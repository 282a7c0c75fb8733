package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/conf"
)

// Flags of the budget commands.
const (
	flagAttemptLifetime = "attempt-lifetime"
	flagMTBF            = "mtbf"
	flagDuration        = "duration"
	flagRuns            = "runs"
	flagSeed            = "seed"
	flagRestart         = "restart"
	flagHistory         = "history"
	flagGridAttempts    = "attempts"
	flagGridWindows     = "windows"
)

func budgetCommand() *cli.Command {
	return &cli.Command{
		Name:  "budget",
		Usage: "explain and simulate the restart budget (yarn.application-attempts and its validity interval)",
		Subcommands: []*cli.Command{
			{
				Name:  "explain",
				Usage: "print the effective max attempts, the cap that applied, the failure window and warnings",
				Flags: append(commonFlags(),
					&cli.DurationFlag{Name: flagAttemptLifetime, Value: 30 * time.Second,
						Usage: "how long a failing attempt typically lives (start to crash), for the unbounded-restart warning"},
				),
				Action: runBudgetExplain,
			},
			{
				Name:  "simulate",
				Usage: "Monte Carlo probability that the application fails within --duration, across a grid of attempts × window",
				Description: "Attempt lifetimes are exponential with mean --mtbf (or the mean estimated from --history,\n" +
					"a session's attempt history file). Each failure is fed to the restart policy itself.\n" +
					"The configured setting is marked with *. Deterministic for a given --seed.",
				Flags: append(commonFlags(),
					&cli.DurationFlag{Name: flagMTBF, Value: 5 * time.Minute, Usage: "mean time between AM failures"},
					&cli.StringFlag{Name: flagHistory, Usage: "estimate the MTBF from this attempt history `FILE` instead of --mtbf"},
					&cli.DurationFlag{Name: flagDuration, Value: 24 * time.Hour, Usage: "how long the application should live"},
					&cli.IntFlag{Name: flagRuns, Value: 1000, Usage: "simulated applications per cell"},
					&cli.Uint64Flag{Name: flagSeed, Value: 1, Usage: "random seed"},
					&cli.DurationFlag{Name: flagRestart, Value: time.Second, Usage: "time from a failure to the next attempt running"},
					&cli.StringFlag{Name: flagGridAttempts, Value: "1,2,3,5,10", Usage: "comma-separated max attempts (rows)"},
					&cli.StringFlag{Name: flagGridWindows, Value: "0,10s,1m,10m,1h", Usage: "comma-separated validity intervals (columns); 0 or -1 = disabled"},
				),
				Action: runBudgetSimulate,
			},
		},
	}
}

// loadBudget loads the configuration and its budget; a configuration that cannot
// be used is exitInvalidConf.
func loadBudget(c *cli.Context, cmd string) (*conf.Config, attempts.Budget, []conf.Warning, error) {
	cfg, err := loadConfig(c, "")
	if err != nil {
		return nil, attempts.Budget{}, nil, cli.Exit(fmt.Sprintf("%s: %v", cmd, err), exitInvalidConf)
	}
	b, warns := attempts.BudgetFromConf(cfg)
	return cfg, b, warns, nil
}

func runBudgetExplain(c *cli.Context) error {
	const cmd = "budget explain"
	lifetime := c.Duration(flagAttemptLifetime)
	if lifetime <= 0 {
		return cli.Exit(fmt.Sprintf("%s: --%s must be positive, got %s", cmd, flagAttemptLifetime, lifetime), exitUsage)
	}
	cfg, b, warns, err := loadBudget(c, cmd)
	if err != nil {
		return err
	}
	explainBudget(c.App.Writer, cfg, b, warns, lifetime)
	return nil
}

func explainBudget(w io.Writer, cfg *conf.Config, b attempts.Budget, cfgWarns []conf.Warning, lifetime time.Duration) {
	origin := func(o *conf.Option) string { return cfg.Entry(o).Origin.String() }
	reqKey, capKey, winKey := conf.YarnApplicationAttempts.Key(), conf.YarnAMMaxAttempts.Key(), conf.YarnAttemptFailuresValidityInterval.Key()

	fmt.Fprintf(w, "Restart budget (high-availability.type %s):\n\n", cfg.HAMode())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	capNote := "not capped"
	if b.Capped() {
		capNote = "CAPPED"
	}
	fmt.Fprintf(tw, "  max attempts\t%d\t%s=%d (%s); cap %s=%d (%s): %s\n",
		b.MaxAttempts, reqKey, b.Requested, origin(conf.YarnApplicationAttempts), capKey, b.Cap, origin(conf.YarnAMMaxAttempts), capNote)
	fmt.Fprintf(tw, "  window\t%s\t%s (%s)\n", attempts.WindowString(b.Window), winKey, origin(conf.YarnAttemptFailuresValidityInterval))
	switch {
	case b.MaxAttempts == 1:
		fmt.Fprintf(tw, "  ends the application\t1 failure\tthe application master is never restarted after a failure\n")
	case b.Window <= 0:
		fmt.Fprintf(tw, "  ends the application\t%d failures\tin total, over the application's whole life\n", b.MaxAttempts)
	default:
		fmt.Fprintf(tw, "  ends the application\t%d failures\teach ending less than %s before the last\n", b.MaxAttempts, b.Window)
	}
	fmt.Fprintf(tw, "  not counted\t\tpreempted, aborted, disks failed, killed by the supervisor (always restarted)\n")
	fmt.Fprintf(tw, "  not restarted\t\tFinishApplicationMaster (SUCCEEDED, FAILED or KILLED) ends the application\n")
	tw.Flush()

	var warns []string
	for _, cw := range cfgWarns {
		warns = append(warns, cw.String())
	}
	if b.MaxAttempts == 1 && cfg.HAMode() == conf.HAZooKeeper {
		warns = append(warns, fmt.Sprintf("%s is 1 with ZooKeeper high availability: a failed application master is never restarted, so the HA state is never used", reqKey))
	}
	if n, forever := b.CountedAtSteadyFailure(lifetime); forever {
		warns = append(warns, fmt.Sprintf(
			"%s=%s is short for attempts that fail after %s (--%s): at most %d failure(s) are ever inside the window, fewer than %d, "+
				"so a crash-looping application master is restarted forever (FLINK-38112); use a window longer than %d × the attempt lifetime",
			winKey, b.Window, lifetime, flagAttemptLifetime, n, b.MaxAttempts, b.MaxAttempts-1))
	}
	if b.Window <= 0 && b.MaxAttempts > 1 {
		warns = append(warns, fmt.Sprintf("the window is disabled: every failure counts for good, so a long-running session ends after %d failures in total", b.MaxAttempts))
	}
	if len(warns) > 0 {
		fmt.Fprintf(w, "\nWarnings (%d):\n", len(warns))
		for _, s := range warns {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
}

func runBudgetSimulate(c *cli.Context) error {
	const cmd = "budget simulate"
	usage := func(format string, a ...any) error {
		return cli.Exit(cmd+": "+fmt.Sprintf(format, a...), exitUsage)
	}
	p := attempts.SimParams{
		MTBF:     c.Duration(flagMTBF),
		Duration: c.Duration(flagDuration),
		Restart:  c.Duration(flagRestart),
		Runs:     c.Int(flagRuns),
		Seed:     c.Uint64(flagSeed),
	}
	rows, err := parseAttemptsGrid(c.String(flagGridAttempts))
	if err != nil {
		return usage("--%s: %v", flagGridAttempts, err)
	}
	cols, err := parseWindowsGrid(c.String(flagGridWindows))
	if err != nil {
		return usage("--%s: %v", flagGridWindows, err)
	}
	mtbfSource := "--" + flagMTBF
	if path := c.String(flagHistory); path != "" {
		if c.IsSet(flagMTBF) {
			return usage("give either --%s or --%s, not both", flagMTBF, flagHistory)
		}
		h, err := readHistory(path)
		if err != nil {
			return cli.Exit(fmt.Sprintf("%s: %v", cmd, err), exitFailure)
		}
		mtbf, n, ok := h.MTBF()
		if !ok || mtbf <= 0 {
			return cli.Exit(fmt.Sprintf("%s: history %s has no failed attempt with a start time: cannot estimate the MTBF; give --%s", cmd, path, flagMTBF), exitFailure)
		}
		p.MTBF = mtbf
		mtbfSource = fmt.Sprintf("estimated from %d failures in %s", n, path)
	}
	switch {
	case p.MTBF <= 0:
		return usage("--%s must be positive, got %s", flagMTBF, p.MTBF)
	case p.Duration <= 0:
		return usage("--%s must be positive, got %s", flagDuration, p.Duration)
	case p.Restart < 0:
		return usage("--%s must not be negative, got %s", flagRestart, p.Restart)
	case p.Runs < 1:
		return usage("--%s must be at least 1, got %d", flagRuns, p.Runs)
	}
	_, configured, warns, err := loadBudget(c, cmd)
	if err != nil {
		return err
	}
	// The configured setting is always in the grid.
	if !slices.Contains(rows, configured.MaxAttempts) {
		rows = append(rows, configured.MaxAttempts)
		slices.Sort(rows)
	}
	cfgWin := max(configured.Window, 0)
	if !slices.Contains(cols, cfgWin) {
		cols = append(cols, cfgWin)
		slices.Sort(cols)
	}

	w := c.App.Writer
	fmt.Fprintf(w, "Probability that the application fails within %s\n", p.Duration)
	fmt.Fprintf(w, "MTBF %s (%s), restart %s, %d runs per cell, seed %d\n\n", p.MTBF, mtbfSource, p.Restart, p.Runs, p.Seed)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "attempts \\ window\t")
	for _, win := range cols {
		fmt.Fprintf(tw, "%s\t", attempts.WindowString(win))
	}
	fmt.Fprintln(tw)
	for _, a := range rows {
		fmt.Fprintf(tw, "%d\t", a)
		for _, win := range cols {
			r, err := attempts.Simulate(attempts.Budget{MaxAttempts: a, Window: win}, p)
			if err != nil {
				return cli.Exit(fmt.Sprintf("%s: %v", cmd, err), exitFailure)
			}
			mark := " "
			if a == configured.MaxAttempts && win == cfgWin {
				mark = "*"
			}
			fmt.Fprintf(tw, "%.1f%%%s\t", 100*r.DeathProbability(), mark)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n* configured: max attempts %d, window %s\n", configured.MaxAttempts, attempts.WindowString(configured.Window))
	for _, cw := range warns {
		fmt.Fprintf(w, "  warning: %s\n", cw)
	}
	return nil
}

func readHistory(path string) (attempts.History, error) {
	f, err := os.Open(path)
	if err != nil {
		return attempts.History{}, fmt.Errorf("read history: %w", err)
	}
	defer f.Close()
	h, err := attempts.DecodeHistory(f)
	if err != nil {
		return attempts.History{}, fmt.Errorf("read history %s: %w", path, err)
	}
	return h, nil
}

func parseAttemptsGrid(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a number of attempts (1 or more)", f)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// parseWindowsGrid reads Go durations; 0 and negative values (disabled) become 0.
func parseWindowsGrid(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		var d time.Duration
		if n, err := strconv.Atoi(f); err == nil && n <= 0 {
			d = 0
		} else if d, err = time.ParseDuration(f); err != nil {
			return nil, fmt.Errorf("%q is not a duration (e.g. 10s, 1m; 0 or -1 = disabled)", f)
		}
		d = max(d, 0)
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out, nil
}
