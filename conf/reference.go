package conf

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// WriteReference writes the Markdown configuration reference for operators: every
// registered option grouped by topic with its type, default, deprecated names and
// description, plus the value formats and the other files Load reads. It is
// generated from the registry, so it cannot drift from what Load accepts;
// docs/configuration.md is its output.
func WriteReference(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }

	p("# Configuration reference\n\n")
	p("<!-- Generated from the option registry in conf/option.go. Do not edit by hand:\n")
	p("     go test ./conf -run TestConfigurationReference -update -->\n\n")
	p("amkeeper reads the configuration directory the way Flink does: `flink-conf.yaml`, ")
	p("`masters` and `zoo.cfg`. This page is generated from the option registry in ")
	p("`conf/option.go`; after changing the registry, regenerate it with\n\n")
	p("```sh\ngo test ./conf -run TestConfigurationReference -update\n```\n\n")
	p("`yarn-session` prints the effective value of every option and where it came from.\n\n")

	p("## Where values come from\n\n")
	p("Highest precedence first:\n\n")
	p("1. `-D key=value` on the command line; repeatable, a later one wins.\n")
	p("2. An environment variable, for the few options that name one below.\n")
	p("3. `flink-conf.yaml` in the configuration directory. Flat keys (`high-availability.type: zookeeper`) ")
	p("and nested YAML (`high-availability: {type: zookeeper}`) mean the same and may be mixed; lists are ")
	p("joined with commas. A key set twice keeps the later value, with a warning naming both lines.\n")
	p("4. The default.\n\n")
	p("Older names of an option are still read, with one warning each that names the current key. ")
	p("Within one source the current name wins over older names, and older names are read in the order listed. ")
	p("An empty value means \"use the default\". ")
	p("An unknown key under a prefix amkeeper reads (`%s`) is reported as a warning, with a suggestion when a ", strings.Join(trimDots(knownPrefixes), "`, `"))
	p("known key is close; other keys are kept for Flink and otherwise ignored.\n\n")
	p("Every problem found is reported at once, each with the file and line (or `-D`, the environment ")
	p("variable, or `default`), the key, the value and what would be valid.\n\n")

	p("## Value formats\n\n")
	p("| Type | Format |\n|---|---|\n")
	p("| %s | A whole number, optional spaces, and a unit (case-insensitive): %s. ", TypeDuration, cell(quoteEach(durationUnitList())))
	p("Without a unit the number is milliseconds: `60000`, `60 s`, `1 min` and `500ms` are valid; fractions and compound forms (`1h30m`) are not. ")
	p("Negative values only where an option says so. |\n")
	p("| %s | A whole number, optional spaces, and a unit (case-insensitive, powers of 1024): %s. ", TypeMemorySize, cell(quoteEach(memoryUnitList())))
	p("Without a unit the number is bytes: `1024m`, `1g`, `1728 mb`. |\n")
	p("| %s | Ports to try in order: a port (`50010`), a range (`50000-50025`) or a comma-separated list of both ", TypePortSpec)
	p("(`50010,50011,50020-50025`); ports 1 to 65535. `0` alone means any free port. |\n")
	p("| %s | Comma-separated `host:port` entries; IPv6 addresses in brackets (`[::1]:2181`). A missing port means %d. ", TypeHostList, defaultZKPort)
	p("No chroot suffix (`host:2181/path`): use `high-availability.zookeeper.path.root`. |\n")
	p("| %s | A directory URI with scheme `file` (`file:///var/lib/amkeeper`) or `hdfs` (`hdfs:///flink/recovery`, `hdfs://namenode:8020/flink`). A bare path is refused. |\n", TypeURI)
	p("| %s | `true` or `false`, case-insensitive. |\n", TypeBool)
	p("| %s | One of the listed words, case-insensitive. |\n", TypeEnum)
	p("| %s | A decimal whole number. |\n\n", TypeInt)

	for _, g := range groupOrder {
		p("## %s\n\n%s\n\n", g, groupIntro[g])
		p("| Key | Type | Default | Description |\n|---|---|---|---|\n")
		for _, o := range registry {
			if o.group != g {
				continue
			}
			typ := o.typ.String()
			if o.typ == TypeEnum {
				typ = strings.Join(o.enum, " \\| ")
			}
			def := "(none)"
			if d := o.Default(); d != "" {
				def = "`" + d + "`"
				if o.defDoc != "" {
					def = o.defDoc
				}
			}
			desc := o.desc
			if o.env != "" {
				desc += fmt.Sprintf(" Also read from the environment variable `%s`.", o.env)
			}
			if o.secret {
				desc += " Shown as `******`."
			}
			if len(o.deprecated) > 0 {
				desc += " Older names: `" + strings.Join(o.deprecated, "`, `") + "`."
			}
			if o.notHonoured != "" {
				desc += " **Not honoured yet**: " + o.notHonoured + "; setting it only produces a warning."
			}
			p("| `%s` | %s | %s | %s |\n", o.key, typ, cell(def), cell(desc))
		}
		p("\n")
	}

	p("## conf/masters\n\n")
	p("One `host:webUIPort` per line for each JobManager (standby application master) of a standalone ")
	p("high-availability setup, as Flink's `start-cluster.sh` reads it. The port is optional (the JobManager then ")
	p("uses `rest.port`); IPv6 hosts go in brackets; blank lines and `#` comments are allowed. A malformed ")
	p("line is reported as `masters:LINE`. Several masters need `high-availability.type: zookeeper`.\n\n")
	p("## conf/zoo.cfg\n\n")
	p("The ZooKeeper server configuration Flink's `start-zookeeper-quorum.sh` reads, in Java properties form ")
	p("(`key=value`, `#` comments). amkeeper reads `server.X=host:peerPort:leaderPort` (X a whole number; a ")
	p("`;clientPort` suffix is tolerated), `clientPort`, `clientPortAddress`, `dataDir`, `tickTime` (default ")
	p("%d ms), `initLimit`, `syncLimit`, `minSessionTimeout` and `maxSessionTimeout` (defaults 2 and 20 ", defaultTickTime.Milliseconds())
	p("ticks) and keeps every other key. When it is present and high availability is on, ")
	p("`high-availability.zookeeper.client.session-timeout` outside `minSessionTimeout` and ")
	p("`maxSessionTimeout` is warned about, naming the timeout the server clamps it to (ZooKeeper grants the clamped timeout and the session runs).\n\n")

	p("## Flink keys accepted and ignored\n\n")
	p("These Flink keys appear in common configurations; amkeeper recognises them but does not use them, and warns about each one set: ")
	p("`%s`.\n", strings.Join(ignoredKeys, "`, `"))
	return bw.Flush()
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '|' && (i == 0 || s[i-1] != '\\') {
			b.WriteString(`\|`)
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// quoteEach turns "a/b, c/d" into "`a`/`b`, `c`/`d`".
func quoteEach(list string) string {
	groups := strings.Split(list, ", ")
	for i, g := range groups {
		groups[i] = "`" + strings.ReplaceAll(g, "/", "`/`") + "`"
	}
	return strings.Join(groups, ", ")
}

func trimDots(prefixes []string) []string {
	out := make([]string, len(prefixes))
	for i, p := range prefixes {
		out[i] = p + "*"
	}
	return out
}
