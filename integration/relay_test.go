package integration_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/zkha"
	"github.com/amkeeper/amkeeper/supervisor"
	"github.com/amkeeper/amkeeper/taskmanager/tmapi"
)

// caught is one request the attacker's server received, as it came.
type caught struct {
	method, uri, host string
	header            http.Header
	body              []byte
}

// TestRewrittenLeaderAddressGetsNoSecret is issue 13's review, finding 1: under
// the default ACL (open) anyone who can write ZooKeeper rewrites the leader's
// connection_info to an address of theirs, and the TaskManager sends its
// registration there. What the attacker receives must not hold the application
// secret (in hex, either case, or raw), and replaying it to the real AM, at
// once, as it came or addressed to the AM, is refused 401. The AM writes its
// address back; the TaskManager registers with it again, and the job runs on
// with exact output.
func TestRewrittenLeaderAddressGetsNoSecret(t *testing.T) {
	c, id, client, _, st := jobSession(t, 1, fastCounting)
	appDir := appDirFor(c, id)
	require.Eventually(t, func() bool { return len(committed(t, st, "counts")) >= 2 }, 60*time.Second, 20*time.Millisecond)
	rest := leaderOf(client)
	require.NotEmpty(t, rest)
	status, err := client.Status(t.Context())
	require.NoError(t, err)
	require.Len(t, status.Containers, 1)
	container := status.Containers[0].ID

	// The attacker: a ZooKeeper client with no credentials, and a server of its own.
	cluster := c.haValue("high-availability.zookeeper.path.root") + "/" + c.haValue("high-availability.cluster-id")
	info := cluster + zkha.ConnectionInfoPath(recovery.ResourceManager)
	mallory := zkc.Conn(t)
	published, _, err := mallory.Get(info)
	require.NoError(t, err)
	var leader recovery.LeaderInfo
	require.NoError(t, json.Unmarshal(published, &leader))
	require.NotEqual(t, rest, leader.Address, "the TaskManagers' leader is the AM's RPC endpoint, not REST")
	rpc := leader.Address

	var mu sync.Mutex
	var got []caught
	spy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, caught{method: r.Method, uri: r.RequestURI, host: r.Host, header: r.Header.Clone(), body: b})
		mu.Unlock()
		http.Error(w, "try later", http.StatusServiceUnavailable)
	}))
	defer spy.Close()
	forged, err := json.Marshal(recovery.LeaderInfo{Address: spy.URL, SessionID: leader.SessionID})
	require.NoError(t, err)

	// The AM writes its address back at once, so the rewrite is repeated until
	// the TaskManager has followed one.
	var reg caught
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range got {
			if r.uri == tmapi.PathRegister {
				reg = r
				return true
			}
		}
		_, err := mallory.Set(info, forged, -1)
		require.NoError(t, err, "connection_info is writable by anyone under acl open")
		return false
	}, 30*time.Second, 100*time.Millisecond, "the TaskManager's registration reaches the attacker")
	var sent tmapi.Registration
	require.NoError(t, json.Unmarshal(reg.body, &sent))
	require.Equal(t, container, sent.ContainerID, "it is the TaskManager's registration")

	// Nothing the attacker received holds the secret.
	raw, err := os.ReadFile(supervisor.SecretPath(appDir))
	require.NoError(t, err)
	secretHex := strings.TrimSpace(string(raw))
	secretRaw, err := hex.DecodeString(secretHex)
	require.NoError(t, err)
	mu.Lock()
	for _, r := range got {
		var wire bytes.Buffer
		wire.WriteString(r.method + " " + r.uri + " " + r.host + "\n")
		require.NoError(t, r.header.Write(&wire))
		wire.Write(r.body)
		for _, form := range []string{secretHex, strings.ToUpper(secretHex), string(secretRaw)} {
			require.NotContains(t, wire.String(), form, "%s %s", r.method, r.uri)
		}
	}
	mu.Unlock()
	require.NotEmpty(t, reg.header.Get("Authorization"), "the registration is authenticated")

	// Replayed to the real AM's RPC endpoint, at once: refused, as it came (its
	// Host names the attacker's server) and addressed to the AM.
	for _, host := range []string{reg.host, strings.TrimPrefix(rpc, "http://")} {
		req, err := http.NewRequest(reg.method, rpc+reg.uri, bytes.NewReader(reg.body))
		require.NoError(t, err)
		req.Header = reg.header.Clone()
		req.Host = host
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "replay with Host %s: %s", host, b)
		require.Equal(t, "Unauthorized\n", string(b), "no detail")
	}

	// The AM has its address back; the TaskManager is registered with it at its
	// own address, and the job runs on, its output exact.
	require.Eventually(t, func() bool {
		b, _, err := mallory.Get(info)
		return err == nil && bytes.Equal(b, published)
	}, 30*time.Second, 20*time.Millisecond, "the leader rewrites its connection_info")
	n := len(committed(t, st, "counts"))
	require.Eventually(t, func() bool { return len(committed(t, st, "counts")) >= n+3 }, 60*time.Second, 20*time.Millisecond,
		"the job runs on after the attack")
	requireExactCounts(t, committed(t, st, "counts"), n+3)
	var tms struct {
		TaskManagers []jobmanager.TaskManagerInfo `json:"taskmanagers"`
	}
	require.NoError(t, getJSON(rest+"/taskmanagers", &tms))
	require.Len(t, tms.TaskManagers, 1)
	require.Equal(t, container, tms.TaskManagers[0].ContainerID)
	require.Equal(t, sent.Address, tms.TaskManagers[0].Address)
	after, err := client.Status(t.Context())
	require.NoError(t, err)
	require.Equal(t, status.Attempt, after.Attempt, "no failover happened")
	require.Equal(t, status.Containers, after.Containers, "nor a TaskManager replaced")
}
