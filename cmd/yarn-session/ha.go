package main

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/haservices"
)

const (
	flagClean    = "clean"
	flagGrace    = "grace"
	flagLocalDir = "local-dir"
)

func haCommand() *cli.Command {
	return &cli.Command{
		Name:  "ha",
		Usage: "inspect a cluster's high-availability data",
		Subcommands: []*cli.Command{{
			Name:  "inspect",
			Usage: "list pointers with their storage status, lock holders and orphaned payloads; --clean removes what is broken",
			Description: "Exits 0 when every pointer is readable and no payload is orphaned, 1 otherwise.\n" +
				"--clean removes orphaned payloads older than --grace and broken pointers no live instance holds a lock on;\n" +
				"it never removes a readable pointer or a payload a pointer references.\n" +
				"A foreign pointer (naming a file outside the cluster's own payloads) is listed and kept, with the file it\n" +
				"names and the payloads it displaced: remove or rewrite it by hand.",
			Flags: append(commonFlags(),
				&cli.StringFlag{Name: flagAppID, Aliases: []string{"id"}, Usage: "application ID (the default cluster-id)"},
				&cli.BoolFlag{Name: flagClean, Usage: "remove orphaned payloads and broken pointers"},
				&cli.DurationFlag{Name: flagGrace, Value: recovery.DefaultOrphanGrace, Usage: "minimum age of an orphaned payload before --clean removes it (a payload is written before its pointer)"},
				&cli.StringFlag{Name: flagLocalDir, Usage: "embedded mode (high-availability.type NONE): the AM's local HA directory"},
				outputFlag(),
			),
			Action: runHAInspect,
		}},
	}
}

func runHAInspect(c *cli.Context) error {
	asJSON, err := outputJSON(c)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(c, c.String(flagAppID))
	if err != nil {
		return cli.Exit(fmt.Sprintf("ha inspect: %v", err), exitInvalidConf)
	}
	if cfg.HAMode() != conf.HAZooKeeper && c.String(flagLocalDir) == "" {
		return cli.Exit("ha inspect: high-availability.type is NONE: give the AM's local HA directory with --local-dir", exitUsage)
	}
	ctx, cancel := context.WithTimeout(c.Context, cfg.ConnectionTimeout()+time.Minute)
	defer cancel()
	svc, err := haservices.Open(ctx, cfg, haservices.Options{LocalDir: c.String(flagLocalDir), Logger: logger(c)})
	if err != nil {
		return cli.Exit(fmt.Sprintf("ha inspect: %v", err), exitFailure)
	}
	defer svc.Close()
	in := svc.Inspector()
	report, err := in.Inspect(ctx)
	if err != nil {
		return cli.Exit(fmt.Sprintf("ha inspect: %v", err), exitFailure)
	}
	w := c.App.Writer
	var out haInspectJSON
	if asJSON {
		out = haInspectOutput(report)
	} else {
		fmt.Fprint(w, report.String())
	}
	if c.Bool(flagClean) && !report.Healthy() {
		res, err := in.Clean(ctx, report, c.Duration(flagGrace))
		if err != nil {
			return cli.Exit(fmt.Sprintf("ha inspect: clean: %v", err), exitFailure)
		}
		if asJSON {
			out.Removed = append([]string{}, res.Removed...)
			for _, k := range res.Kept {
				out.Kept = append(out.Kept, haKeptJSON{What: k.What, Reason: k.Reason})
			}
		} else {
			fmt.Fprintf(w, "\nRemoved (%d):\n", len(res.Removed))
			for _, r := range res.Removed {
				fmt.Fprintf(w, "  %s\n", r)
			}
			if len(res.Kept) > 0 {
				fmt.Fprintf(w, "Kept (%d):\n", len(res.Kept))
				for _, k := range res.Kept {
					fmt.Fprintf(w, "  %s: %s\n", k.What, k.Reason)
				}
			}
		}
		if report, err = in.Inspect(ctx); err != nil {
			return cli.Exit(fmt.Sprintf("ha inspect: %v", err), exitFailure)
		}
		out.Healthy = report.Healthy()
	}
	if asJSON {
		if err := writeJSON(w, out); err != nil {
			return err
		}
	}
	if !report.Healthy() {
		return cli.Exit(fmt.Sprintf("ha inspect: %d broken or foreign pointers, %d orphaned payloads", len(report.Problems()), len(report.Orphans)), exitFailure)
	}
	return nil
}
