package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/internal/version"
)

// parentHelpTemplate is urfave/cli's help for a command with subcommands,
// listing them from Subcommands: its own template reads categories that are set
// only once the command runs, so `yarn-session help zookeeper` listed none.
const parentHelpTemplate = `NAME:
   {{template "helpNameTemplate" .}}

USAGE:
   {{.HelpName}} command [command options]{{if .Description}}

DESCRIPTION:
   {{template "descriptionTemplate" .}}{{end}}

COMMANDS:{{template "visibleCommandTemplate" .}}{{if .VisibleFlags}}

OPTIONS:{{template "visibleFlagTemplate" .}}{{end}}
`

// withConventions applies the CLI conventions to app and every command in it:
// --version, shell completion, usage errors (unknown flag or command, stray
// arguments) exiting 2 with a hint instead of the whole help, and help for
// every command with subcommands that lists them.
func withConventions(app *cli.App) *cli.App {
	app.Version = version.Version() + " (revision " + version.Revision() + ")"
	app.EnableBashCompletion = true
	app.OnUsageError = usageError(app.Name)
	app.Commands = append(app.Commands, completionCommand())
	for _, c := range app.Commands {
		conventions(c, app.Name)
	}
	return app
}

func conventions(c *cli.Command, parent string) {
	full := parent + " " + c.Name
	c.OnUsageError = usageError(full)
	if len(c.Subcommands) > 0 {
		if c.CustomHelpTemplate == "" {
			c.CustomHelpTemplate = parentHelpTemplate
		}
		if c.Action == nil {
			c.Action = func(ctx *cli.Context) error {
				if ctx.Args().Present() {
					return cli.Exit(fmt.Sprintf("unknown command %q for %s\nRun '%s --help' for usage.", ctx.Args().First(), full, full), exitUsage)
				}
				return cli.ShowSubcommandHelp(ctx)
			}
		}
		for _, s := range c.Subcommands {
			conventions(s, full)
		}
		return
	}
	if c.Hidden || c.ArgsUsage != "" || c.Action == nil || c.SkipFlagParsing {
		return
	}
	action := c.Action
	c.Action = func(ctx *cli.Context) error {
		if ctx.Args().Present() {
			return cli.Exit(fmt.Sprintf("%s takes no arguments, got %q\nRun '%s --help' for usage.", full, strings.Join(ctx.Args().Slice(), " "), full), exitUsage)
		}
		return action(ctx)
	}
}

// usageError turns urfave/cli's flag errors into exit 2 with a hint.
func usageError(full string) cli.OnUsageErrorFunc {
	return func(_ *cli.Context, err error, _ bool) error {
		return cli.Exit(fmt.Sprintf("%v\nRun '%s --help' for usage.", err, full), exitUsage)
	}
}

// completionScript drives urfave/cli's completion: the program lists the
// commands and flags that fit the words typed so far when given
// --generate-bash-completion.
const completionScript = `_yarn_session_complete() {
  local cur="${COMP_WORDS[COMP_CWORD]}" words
  if [[ "$cur" == -* ]]; then
    words=$("${COMP_WORDS[@]:0:COMP_CWORD}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    words=$("${COMP_WORDS[@]:0:COMP_CWORD}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o bashdefault -o default -F _yarn_session_complete yarn-session
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: source <(yarn-session completion bash), or zsh",
		ArgsUsage: "bash|zsh",
		Action: func(c *cli.Context) error {
			switch shell := c.Args().First(); shell {
			case "bash":
				fmt.Fprint(c.App.Writer, completionScript)
			case "zsh":
				fmt.Fprint(c.App.Writer, "autoload -U +X bashcompinit && bashcompinit\n"+completionScript)
			default:
				return cli.Exit(fmt.Sprintf("completion %q: want bash or zsh\nRun 'yarn-session completion --help' for usage.", shell), exitUsage)
			}
			return nil
		},
	}
}
