package jobmanager_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/amkeeper/amkeeper/recovery"
)

// pairedElection hands out grants whose resource manager confirmation waits
// until the REST server's has begun, and fails when none begins within 5 s.
type pairedElection struct{ recovery.LeaderElection }

func (e pairedElection) Run(ctx context.Context, lead func(recovery.Grant)) error {
	return e.LeaderElection.Run(ctx, func(g recovery.Grant) {
		lead(&pairedGrant{Grant: g, rest: make(chan struct{})})
	})
}

type pairedGrant struct {
	recovery.Grant
	once sync.Once
	rest chan struct{}
}

func (g *pairedGrant) Confirm(ctx context.Context, component, address string) error {
	switch component {
	case recovery.RestServer:
		g.once.Do(func() { close(g.rest) })
	case recovery.ResourceManager:
		select {
		case <-g.rest:
		case <-time.After(5 * time.Second):
			return fmt.Errorf("%s confirmed alone: the REST server's confirmation did not begin beside it", component)
		}
	}
	return g.Grant.Confirm(ctx, component, address)
}

// TestAMConfirmsItsComponentsTogether: a new leader publishes the connection
// info of its resource manager, dispatcher and REST server at once (their
// ZooKeeper writes share the server's log flushes), not one after the other.
func TestAMConfirmsItsComponentsTogether(t *testing.T) {
	runAMAlone(t, pairedElection{embeddedHA(t, t.TempDir()).Election()}) // leads: every component confirmed
}
