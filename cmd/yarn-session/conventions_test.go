package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/privdir"
	"github.com/amkeeper/amkeeper/internal/version"
)

// TestUsageErrorsExit2WithAHint: an unknown flag, command or argument, a bad
// -o, a missing required value, and no -id with no session recorded exit 2 with
// one line naming the problem and where to read the usage, never the whole help.
func TestUsageErrorsExit2WithAHint(t *testing.T) {
	t.Setenv(privdir.EnvHome, t.TempDir())
	t.Setenv("TMPDIR", t.TempDir())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "flag provided but not defined: -bogus\nRun 'yarn-session --help' for usage."},
		{[]string{"status", "--bogus"}, "flag provided but not defined: -bogus\nRun 'yarn-session status --help' for usage."},
		{[]string{"zookeeper", "start", "--bogus"}, "flag provided but not defined: -bogus\nRun 'yarn-session zookeeper start --help' for usage."},
		{[]string{"zookeeper", "bogus"}, "unknown command \"bogus\" for yarn-session zookeeper\nRun 'yarn-session zookeeper --help' for usage."},
		{[]string{"bogus"}, "unknown command \"bogus\"; see yarn-session --help"},
		{[]string{"status", "extra"}, "yarn-session status takes no arguments, got \"extra\"\nRun 'yarn-session status --help' for usage."},
		{[]string{"config", "-o", "yaml"}, "-o \"yaml\": want text or json"},
		{[]string{"checkpoints", "fallback", "00aa"}, "checkpoints fallback: --to is required: the retained checkpoint to restore from"},
		{[]string{"completion", "fish"}, "completion \"fish\": want bash or zsh\nRun 'yarn-session completion --help' for usage."},
	} {
		var out strings.Builder
		err := newApp(&out, &out).Run(append([]string{"yarn-session"}, tc.args...))
		require.Error(t, err, "%v", tc.args)
		require.Equal(t, exitUsage, exitCode(err), "%v", tc.args)
		require.Equal(t, tc.want, err.Error(), "%v", tc.args)
		require.NotContains(t, out.String(), "GLOBAL OPTIONS", "%v: no full help", tc.args)
	}
	_, code := run(t, "status")
	require.Equal(t, exitUsage, code, "no -id and no .yarn-properties")
}

// TestHelpForEveryCommand: help works for every visible command, and a command
// with subcommands lists them (`help zookeeper` listed none).
func TestHelpForEveryCommand(t *testing.T) {
	for _, c := range newApp(nil, nil).Commands {
		if c.Hidden {
			continue
		}
		out, code := run(t, "help", c.Name)
		require.Equal(t, 0, code, c.Name)
		require.Contains(t, out, "yarn-session "+c.Name+" - "+c.Usage, c.Name)
		for _, s := range c.Subcommands {
			require.Regexp(t, `(?m)^   `+s.Name+`\s+`, out, "help %s lists %s", c.Name, s.Name)
			sub, code := run(t, c.Name, s.Name, "--help")
			require.Equal(t, 0, code, "%s %s --help", c.Name, s.Name)
			require.Contains(t, sub, "yarn-session "+c.Name+" "+s.Name, "%s %s --help", c.Name, s.Name)
		}
	}
	out, _ := run(t, "help", "zookeeper")
	for _, s := range []string{"start", "stop", "status"} {
		require.Regexp(t, `(?m)^   `+s+`\s+`, out)
	}
}

func TestVersionAndCompletion(t *testing.T) {
	out, code := run(t, "--version")
	require.Equal(t, 0, code)
	require.Equal(t, "yarn-session version "+version.Version()+" (revision "+version.Revision()+")\n", out)

	// Completing words runs the binary (urfave/cli reads os.Args): integration's TestShellCompletion.
	out, code = run(t, "completion", "bash")
	require.Equal(t, 0, code)
	require.Contains(t, out, "--generate-bash-completion")
	require.Contains(t, out, "complete -o bashdefault -o default -F _yarn_session_complete yarn-session\n")
}

// TestConfigJSON: config -o json parses, with the documented field names.
func TestConfigJSON(t *testing.T) {
	out, code := run(t, "config", "-o", "json", "-D", "high-availability.type=zookeeper", "-D", "yarn.application-attempts=0")
	require.Equal(t, exitInvalidConf, code)
	var got configJSON
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Contains(t, got.Entries, configEntryJSON{Key: "high-availability.type", Value: "zookeeper", Origin: "-D", Set: true})
	require.NotEmpty(t, got.Errors)
	require.Equal(t, "yarn.application-attempts", got.Errors[0].Key)
	require.NotEmpty(t, got.NotHonoured)
}
