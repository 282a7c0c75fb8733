package jobmanager_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/jobmanager"
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
	dir := t.TempDir()
	cfg, err := conf.Load(conf.Options{Dynamic: []string{"rest.port=0"}})
	require.NoError(t, err)
	am := jobmanager.NewAM(jobmanager.AMConfig{
		Conf: cfg, Secret: testSecret, Election: pairedElection{embeddedHA(t, dir).Election()},
		AttemptID: "appattempt_1_0001_000001", Attempt: 1, Logger: logging.ForTest(t),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- am.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	require.Eventually(t, func() bool {
		if am.Address() == "" {
			return false
		}
		var o jobmanager.Overview
		getJSON(t, am.Address()+"/overview", &o)
		return o.Leader
	}, 15*time.Second, 5*time.Millisecond, "the AM leads with every component confirmed")
}
