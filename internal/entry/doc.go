// Package entry defines the am and taskmanager process commands once, for their
// thin mains (cmd/am, cmd/taskmanager) and for the hidden yarn-session
// subcommands the supervisor re-executes its own binary with. The supervisor
// passes everything on the command line and in the environment: nothing needs a
// configuration directory beyond the one the user gave. Secrets never come on
// the command line (every user can read it): the application secret's file is
// named by appsecret.EnvFile, and -D items whose keys are secrets come in
// conf.EnvSecretDynamic. Both processes refuse to start without the secret.
package entry
