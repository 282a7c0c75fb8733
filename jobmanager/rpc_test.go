package jobmanager_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/netaddr/netaddrtest"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/taskmanager/tmapi"
)

// TestAMRPCEndpointBindsTheFirstFreeConfiguredPort: the TaskManagers' protocol
// is served on a listener of its own, at the first free port of
// high-availability.jobmanager.port (the first one is taken here), and that
// address — jobmanager.rpc.address with the bound port — is what leader
// retrieval publishes for the resource manager; the REST endpoint no longer
// serves the registry.
func TestAMRPCEndpointBindsTheFirstFreeConfiguredPort(t *testing.T) {
	dir := t.TempDir()
	ports := netaddrtest.FreePorts(t, 2)
	taken, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(ports[0]))
	require.NoError(t, err)
	defer taken.Close()
	spec := fmt.Sprintf("%d,%d", ports[0], ports[1])
	cfg, err := conf.Load(conf.Options{Dynamic: []string{"rest.port=0", "heartbeat.interval=50 ms",
		"high-availability.jobmanager.port=" + spec}})
	require.NoError(t, err)
	rm := &fakeRM{t: t, dir: dir}
	am, _ := runAM(t, cfg, rm, 1)
	awaitLeading(t, am, httpjson.Client{}) // the TaskManager registers at the RPC endpoint
	want := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	require.Equal(t, want, am.InternalAddress())

	published := make(chan recovery.LeaderInfo, 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = embeddedHA(t, dir).Retrieve(ctx, recovery.ResourceManager, func(i recovery.LeaderInfo) {
			if i.Known() {
				published <- i
			}
		})
	}()
	select {
	case i := <-published:
		require.Equal(t, want, i.Address, "the resource manager's published address")
	case <-time.After(10 * time.Second):
		t.Fatal("no resource manager leader published")
	}

	req, err := http.NewRequest(http.MethodPost, am.Address()+tmapi.PathRegister, strings.NewReader(`{}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := testSecret.Client(nil).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "REST does not serve the registry")
}

// TestAMRefusesToBindAForeignAddress: a bind host that is not an address of
// this machine stops the AM with an error naming the key and the value.
func TestAMRefusesToBindAForeignAddress(t *testing.T) {
	for _, tc := range []struct{ props, want string }{
		{"jobmanager.rpc.address=192.0.2.7", `jobmanager.rpc.address "192.0.2.7" is not an address of this host`},
		{"jobmanager.bind-host=192.0.2.8", `jobmanager.bind-host "192.0.2.8" is not an address of this host`},
		{"rest.bind-address=192.0.2.9", `rest.bind-address "192.0.2.9" is not an address of this host`},
	} {
		cfg, err := conf.Load(conf.Options{Dynamic: []string{"rest.port=0", tc.props}})
		require.NoError(t, err)
		am := jobmanager.NewAM(jobmanager.AMConfig{Conf: cfg, Secret: testSecret, Election: embeddedHA(t, t.TempDir()).Election(),
			AttemptID: "appattempt_1_0001_000001", Attempt: 1, Logger: logging.ForTest(t)})
		err = am.Run(context.Background())
		require.ErrorContains(t, err, tc.want, tc.props)
	}
}
