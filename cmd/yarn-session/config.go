package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/conf"
)

const flagAll = "all"

func configCommand() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "print the effective configuration with each value's origin, deprecation warnings and validation errors",
		Description: "Reads flink-conf.yaml, masters and zoo.cfg from --conf-dir and applies -D properties.\n" +
			"Exits non-zero when the configuration is invalid.",
		Flags: append(commonFlags(),
			&cli.BoolFlag{Name: flagAll, Usage: "list every key, not only those that are set or belong to high availability"},
			&cli.StringFlag{Name: flagAppID, Aliases: []string{"id"}, Usage: "application ID used as the default cluster-id"},
			outputFlag(),
		),
		Action: runConfig,
	}
}

func runConfig(c *cli.Context) error {
	asJSON, err := outputJSON(c)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(c, c.String(flagAppID))
	var invalid *conf.ValidationError
	if err != nil && !errors.As(err, &invalid) {
		return cli.Exit(fmt.Sprintf("config: %v", err), exitInvalidConf)
	}
	log := logger(c)
	log.Debug().Str("conf_dir", cfg.Dir()).Int("warnings", len(cfg.Warnings())).Msg("configuration loaded")
	w := c.App.Writer
	if asJSON {
		if err := writeJSON(w, configOutput(cfg, c.Bool(flagAll), invalid)); err != nil {
			return err
		}
		if invalid != nil {
			return cli.Exit(fmt.Sprintf("config: invalid configuration (%d problems)", len(invalid.Problems)), exitInvalidConf)
		}
		return nil
	}
	printEntries(w, cfg, c.Bool(flagAll))
	printNotHonoured(w)
	if ws := cfg.Warnings(); len(ws) > 0 {
		fmt.Fprintf(w, "\nWarnings (%d):\n", len(ws))
		for _, warn := range ws {
			fmt.Fprintf(w, "  %s\n", warn)
		}
	}
	if invalid != nil {
		fmt.Fprintf(w, "\nErrors (%d):\n", len(invalid.Problems))
		for _, p := range invalid.Problems {
			fmt.Fprintf(w, "  %s\n", p.Error())
		}
		return cli.Exit(fmt.Sprintf("config: invalid configuration (%d problems)", len(invalid.Problems)), exitInvalidConf)
	}
	return nil
}

// haPrefixes select the keys shown without --all: the ones high availability and
// the restart budget depend on.
var haPrefixes = []string{"high-availability", "yarn.", "amkeeper."}

func printEntries(w io.Writer, cfg *conf.Config, all bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tORIGIN")
	for _, e := range cfg.Entries() {
		if !all && !e.Set && !hasAnyPrefix(e.Option.Key(), haPrefixes) {
			continue
		}
		v := e.Display()
		if v == "" {
			v = "(unset)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Option.Key(), v, e.Origin)
	}
	tw.Flush()
}

// printNotHonoured lists the keys amkeeper recognises and does not act on yet,
// one line per reason.
func printNotHonoured(w io.Writer) {
	var reasons []string
	keys := map[string][]string{}
	for _, o := range conf.NotHonoured() {
		r := o.NotHonoured()
		if _, ok := keys[r]; !ok {
			reasons = append(reasons, r)
		}
		keys[r] = append(keys[r], o.Key())
	}
	if len(reasons) == 0 {
		return
	}
	fmt.Fprintf(w, "\nRecognised but not honoured yet (setting them has no effect but a warning):\n")
	for _, r := range reasons {
		fmt.Fprintf(w, "  %s: %s\n", strings.Join(keys[r], ", "), r)
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
