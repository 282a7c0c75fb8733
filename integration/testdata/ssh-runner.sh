#!/bin/sh
# Stands in for ssh in the daemon tests (amkeeper.ssh.command): it is called
# as ssh is, `ssh-runner.sh -n [options] HOST -- COMMAND`, records that call in
# $SSH_RUNNER_LOG, and runs COMMAND with sh on this machine, where each "host"
# is a loopback address of its own.
printf '%s\n' "$*" >> "${SSH_RUNNER_LOG:?set SSH_RUNNER_LOG}"
[ "$1" = "-n" ] || { echo "ssh-runner: want -n first, got: $*" >&2; exit 255; }
shift
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done
[ "$#" -eq 2 ] || { echo "ssh-runner: want HOST -- COMMAND" >&2; exit 255; }
exec sh -c "$2"
