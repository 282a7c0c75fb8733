// Package entry defines the am and taskmanager process commands once, for their
// thin mains (cmd/am, cmd/taskmanager) and for the hidden yarn-session
// subcommands the supervisor re-executes its own binary with. The supervisor
// passes everything on the command line and in the environment: nothing needs a
// configuration directory beyond the one the user gave.
package entry
