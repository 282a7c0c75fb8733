package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
)

const flagOutput = "output"

// outputFlag is -o/--output, for the commands whose output scripts read
// (status, list, config, ha inspect): text for people, json with field
// names documented in docs/sessions.md.
func outputFlag() cli.Flag {
	return &cli.StringFlag{Name: flagOutput, Aliases: []string{"o"}, Value: "text", Usage: "output format: text or json"}
}

// outputJSON reports whether -o json was asked for; any value but text or
// json is a usage error.
func outputJSON(c *cli.Context) (bool, error) {
	switch v := c.String(flagOutput); v {
	case "text", "":
		return false, nil
	case "json":
		return true, nil
	default:
		return false, cli.Exit(fmt.Sprintf("-o %q: want text or json", v), exitUsage)
	}
}

// writeJSON writes v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
