package recoverytest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/haservices"
)

// Config builds a configuration through conf.Load, as the AM does: mode is
// high-availability.type, c the ZooKeeper cluster (nil for NONE), storage in a
// fresh directory, a fresh cluster ID, two retained checkpoints.
func Config(t *testing.T, mode string, c *zktest.Cluster, extra ...string) *conf.Config {
	t.Helper()
	dyn := []string{
		"high-availability.type=" + mode,
		"high-availability.storageDir=file://" + t.TempDir(),
		"high-availability.cluster-id=app_" + fmt.Sprint(time.Now().UnixNano()),
		"high-availability.zookeeper.client.session-timeout=4 s",
		"high-availability.zookeeper.client.retry-wait=100 ms",
		"state.checkpoints.num-retained=2",
	}
	if c != nil {
		dyn = append(dyn, "high-availability.zookeeper.quorum="+c.ConnectString(),
			"high-availability.zookeeper.path.root=/services-test")
	}
	cfg, err := conf.Load(conf.Options{Dynamic: append(dyn, extra...)})
	require.NoError(t, err)
	return cfg
}

// OpenServices opens the services cfg asks for (haservices.Open), closed when
// the test ends; local is embedded mode's directory.
func OpenServices(t *testing.T, cfg *conf.Config, local string) *recovery.Services {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	s, err := haservices.Open(ctx, cfg, haservices.Options{LocalDir: local, Logger: logging.ForTest(t)})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// LeadOnce runs the election until the first grant and hands it to f.
func LeadOnce(t *testing.T, s *recovery.Services, f func(g recovery.Grant)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ran := false
	_ = s.Election().Run(ctx, func(g recovery.Grant) {
		f(g)
		ran = true
		cancel()
	})
	require.True(t, ran, "never granted leadership")
}
