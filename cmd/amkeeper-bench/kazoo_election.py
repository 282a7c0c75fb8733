"""One contender of `amkeeper-bench election`: kazoo's Election recipe.

Run by the bench with Debian's interpreter:

    /usr/bin/python3 kazoo_election.py HOSTS ELECTION_PATH SESSION_TIMEOUT_SECONDS

It speaks the bench's line protocol, the same as `amkeeper-bench
election-contender`:

    stdout  "session <id-hex> <password-hex>"  once the session is established
    stdout  "leader <unix-nanoseconds>"        when elected (CLOCK_REALTIME)
    stdin   "quit"                              leave: return from the leader
                                                function (the recipe deletes our
                                                node), close the session, exit 0

stdout is a pipe to the bench and nothing else: the session password is a
secret and is never logged.
"""

import logging
import sys
import time
import uuid

from kazoo.client import KazooClient


def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def lead():
    emit("leader %d" % time.time_ns())
    while True:
        line = sys.stdin.readline()
        if line == "" or line.strip() == "quit":  # "" is EOF: the bench is gone
            return


def main():
    if len(sys.argv) != 4:
        sys.stderr.write("usage: kazoo_election.py HOSTS ELECTION_PATH SESSION_TIMEOUT_SECONDS\n")
        return 2
    hosts, election_path, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    logging.basicConfig(level=logging.WARNING, format="kazoo contender: %(levelname)s %(name)s: %(message)s")

    zk = KazooClient(hosts=hosts, timeout=timeout)
    zk.start(timeout=15)
    session_id, password = zk.client_id
    emit("session %x %s" % (session_id, password.hex()))

    zk.Election(election_path, uuid.uuid4().hex).run(lead)
    zk.stop()
    zk.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
