package zktest

import (
	"context"

	"github.com/amkeeper/amkeeper/internal/zkserver"
)

// ErrNotServing is returned by Server.Mode while a server runs but does not serve
// requests (starting, electing a leader, or cut off from its quorum).
var ErrNotServing = zkserver.ErrNotServing

// FourLetter sends a four-letter-word command ("srvr", "ruok", "mntr", "stat", …) to
// the ZooKeeper server at addr and returns its whole answer. The harness's servers
// allow every command (4lw.commands.whitelist=*). A deadline or cancellation of ctx
// ends the exchange with an error that wraps ctx's error.
func FourLetter(ctx context.Context, addr, cmd string) (string, error) {
	return zkserver.FourLetter(ctx, addr, cmd)
}
