package jobmanager_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/netaddr/netaddrtest"
	"github.com/amkeeper/amkeeper/jobmanager"
)

// runAMWith runs an AM on the configuration of the -D items until the test ends
// and returns it once it serves, or the error Run returned.
func runAMWith(t *testing.T, override *conf.PortSpec, dynamic ...string) (*jobmanager.AM, error) {
	t.Helper()
	cfg, err := conf.Load(conf.Options{Dynamic: dynamic})
	require.NoError(t, err)
	am := jobmanager.NewAM(jobmanager.AMConfig{
		Conf: cfg, Secret: testSecret, Election: embeddedHA(t, t.TempDir()).Election(), RESTPort: override,
		AttemptID: "appattempt_1_0001_000001", Attempt: 1, Logger: logging.ForTest(t),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- am.Run(ctx) }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		select {
		case err := <-done:
			cancel()
			return nil, err
		case <-time.After(5 * time.Millisecond):
		}
		if am.Address() != "" {
			t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
			return am, nil
		}
	}
	cancel()
	t.Fatal("the AM did not serve within 10s")
	return nil, nil
}

// TestRESTBindPort: rest.bind-port is bound (the first free port of a list) and
// the bound port advertised; the session's kept port (--rest-port) wins over
// both, and one another process holds fails the attempt, naming it.
func TestRESTBindPort(t *testing.T) {
	busy, free := netaddrtest.BusyPort(t), netaddrtest.FreePort(t)
	list := fmt.Sprintf("%d,%d", busy, free)

	am, err := runAMWith(t, nil, "rest.bind-port="+list)
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:"+strconv.Itoa(free), am.Address(), "bound the first free port of rest.bind-port, advertised it")

	// None free: the error names the key and every port tried.
	_, err = runAMWith(t, nil, "rest.bind-port="+strconv.Itoa(busy))
	require.EqualError(t, err, fmt.Sprintf(`am: the REST endpoint: no free port in rest.bind-port "%d" on rest.address "127.0.0.1": listen tcp 127.0.0.1:%d: bind: address already in use`, busy, busy))

	// The session's kept port (the supervisor's --rest-port) wins over both and
	// is advertised as bound.
	free = netaddrtest.FreePort(t)
	kept, err := conf.ParsePortSpec(strconv.Itoa(free))
	require.NoError(t, err)
	am, err = runAMWith(t, &kept, "rest.bind-port="+list)
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:"+strconv.Itoa(free), am.Address())
	_, err = runAMWith(t, &kept)
	require.EqualError(t, err, fmt.Sprintf(`am: the REST endpoint: no free port in --rest-port (the session's kept port, or a masters-file port) "%d" on rest.address "127.0.0.1": listen tcp 127.0.0.1:%d: bind: address already in use`, free, free),
		"a kept port another process holds fails the attempt, naming it")
}
