package integration_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/internal/sessionctl"
	"github.com/amkeeper/amkeeper/internal/zktls/tlstest"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/supervisor"
	"github.com/amkeeper/amkeeper/taskmanager/tmapi"
)

// tlsClient is an HTTPS client trusting caFile and presenting the certificate
// and key in certFile ("" for none).
func tlsClient(t *testing.T, caFile, certFile string) *http.Client {
	t.Helper()
	ca, err := os.ReadFile(caFile)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(ca))
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, certFile)
		require.NoError(t, err)
		tc.Certificates = []tls.Certificate{cert}
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
}

// requirePlainRefused: a plain HTTP request to an https address is answered
// 400 by the TLS server and goes no further.
func requirePlainRefused(t *testing.T, httpsURL string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + strings.TrimPrefix(httpsURL, "https://"))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s", body)
	require.Equal(t, "Client sent an HTTP request to an HTTPS server.\n", string(body))
}

// TestJobSessionWithInternalAndRESTTLS runs a job session with
// security.ssl.internal.* (mutual TLS between the AM and its TaskManagers) and
// security.ssl.rest.* with client authentication on, every certificate made
// here. The CLI submits over https and prints https URLs; a client with a
// certificate of the CA submits a second job without the application secret;
// the AM is SIGKILLed and the next attempt leads the same TaskManager over TLS;
// both jobs' output is exact. Refused: plain HTTP to the REST, registry and
// TaskManager ports, and a certificate of another CA on each of them (even with
// the secret); a TaskManager process with such a certificate stays unregistered
// and warns, naming the key store. Without the feature the session serves plain HTTP and nothing
// here reaches a leader.
func TestJobSessionWithInternalAndRESTTLS(t *testing.T) {
	certs := tlstest.Generate(t, filepath.Join(t.TempDir(), "ours"))
	other := tlstest.Generate(t, filepath.Join(t.TempDir(), "theirs")) // another CA and its certificates
	good := tlsClient(t, certs.CA, certs.Client)
	c, id, client, jobs, st := jobSessionWith(t, 1, func(c *cli) {
		c.ha = append(c.ha,
			"-D", "security.ssl.internal.enabled=true",
			"-D", "security.ssl.internal.keystore="+certs.Server,
			"-D", "security.ssl.internal.truststore="+certs.CA,
			"-D", "security.ssl.rest.enabled=true",
			"-D", "security.ssl.rest.authentication-enabled=true",
			"-D", "security.ssl.rest.keystore="+certs.Server,
			"-D", "security.ssl.rest.truststore="+certs.CA)
		c.rest = good
	}, fastCounting)
	require.Len(t, jobs, 1, "the CLI submitted over https with the session's REST TLS")
	rest := leaderVia(good, client)
	require.True(t, strings.HasPrefix(rest, "https://127.0.0.1:"), rest)
	out, err := c.run("", "status", "-id", id)
	require.NoError(t, err)
	require.Contains(t, out, "\nJobManager Web Interface: "+rest+"\n", "status prints the https URL")

	// A client certificate of the CA stands for the secret: no Authorization header.
	sub, err := sessionctl.NewSubmission([]byte(strings.Replace(strings.Replace(fastCounting, "path: counts", "path: counts-cert", 1),
		"name: counting", "name: counting-cert", 1)), "cert.yaml")
	require.NoError(t, err)
	require.NoError(t, httpjson.Client{HTTP: good}.Do(context.Background(),
		httpjson.Request{Method: http.MethodPost, URL: rest + "/jobs", Body: sub, Status: http.StatusAccepted}, nil))

	// The same submission with a certificate of another CA never gets to HTTP.
	wrongCA := tlsClient(t, certs.CA, other.Client)
	sub2, err := sessionctl.NewSubmission([]byte(strings.Replace(fastCounting, "path: counts", "path: counts-other", 1)), "other.yaml")
	require.NoError(t, err)
	err = httpjson.Client{HTTP: wrongCA}.Do(context.Background(),
		httpjson.Request{Method: http.MethodPost, URL: rest + "/jobs", Body: sub2, Status: http.StatusAccepted}, nil)
	require.ErrorContains(t, err, "tls: unknown certificate authority")
	_, err = tlsClient(t, certs.CA, "").Get(rest + "/overview")
	require.ErrorContains(t, err, "tls: certificate required", "no client certificate: refused")
	requirePlainRefused(t, rest)

	require.Eventually(t, func() bool {
		return len(committed(t, st, "counts")) >= 3 && len(committed(t, st, "counts-cert")) >= 3
	}, 60*time.Second, 20*time.Millisecond, "both jobs commit output, their tasks deployed over internal TLS")
	var listed struct {
		Jobs []jobmanager.JobStatus `json:"jobs"`
	}
	require.NoError(t, getJSONWith(good, rest+"/jobs", &listed))
	require.Len(t, listed.Jobs, 2, "the wrong CA's submission was not taken")

	// Internal TLS: the TaskManager and the AM's registry take only certificates
	// of the CA, even from a caller with the application secret.
	secret, err := sessionctl.SessionSecret(appDirFor(c, id))
	require.NoError(t, err)
	var tms struct {
		TaskManagers []jobmanager.TaskManagerInfo `json:"taskmanagers"`
	}
	require.NoError(t, getJSONWith(good, rest+"/taskmanagers", &tms))
	require.Len(t, tms.TaskManagers, 1)
	tm := tms.TaskManagers[0].Address
	require.True(t, strings.HasPrefix(tm, "https://127.0.0.1:"), tm)
	registry := followLeader(t, c.ha, recovery.ResourceManager)
	var reg string
	require.Eventually(t, func() bool { reg = registry().Address; return reg != "" }, 30*time.Second, 20*time.Millisecond)
	require.True(t, strings.HasPrefix(reg, "https://127.0.0.1:"), reg)
	require.NotEqual(t, rest, reg, "the registry has a port of its own")

	ours := tmapi.NewTaskManagerClient(tlsClient(t, certs.CA, certs.Client), secret)
	status, err := ours.Status(context.Background(), tm)
	require.NoError(t, err, "a certificate of the CA and the secret: served")
	require.Equal(t, tms.TaskManagers[0].ContainerID, status.ContainerID)
	_, err = tmapi.NewTaskManagerClient(tlsClient(t, certs.CA, other.Client), secret).Status(context.Background(), tm)
	require.ErrorContains(t, err, "tls: unknown certificate authority")
	_, err = tmapi.NewRegistryClient(tlsClient(t, certs.CA, other.Client), secret).Register(context.Background(), reg,
		tmapi.Registration{ContainerID: tms.TaskManagers[0].ContainerID, Slots: 1, Address: "https://127.0.0.1:1"})
	require.ErrorContains(t, err, "tls: unknown certificate authority")
	_, err = tmapi.NewTaskManagerClient(tlsClient(t, other.CA, certs.Client), secret).Status(context.Background(), tm)
	require.ErrorContains(t, err, "x509: certificate signed by unknown authority", "a client that trusts another CA refuses the TaskManager")
	requirePlainRefused(t, tm)
	requirePlainRefused(t, reg)

	// A TaskManager process with the secret but a certificate of another CA
	// cannot register, and says why in its log.
	var args []string
	for i := 1; i < len(c.ha); i += 2 {
		if !strings.HasPrefix(c.ha[i], "security.ssl.internal.keystore=") {
			args = append(args, "-D", c.ha[i])
		}
	}
	args = append(args, "-D", "security.ssl.internal.keystore="+other.Client)
	foreign := start(t, supervisor.SecretPath(appDirFor(c, id)), "foreign-tm",
		append([]string{"taskmanager", "--container-id", "container_1_0001_01_000099"}, args...)...)
	var warned string
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(foreign.log)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "cannot register with the leader over TLS") {
				warned = line
				return true
			}
		}
		return false
	}, 30*time.Second, 20*time.Millisecond, "the foreign TaskManager warns that TLS failed")
	assert.Contains(t, warned, `"level":"warn"`)
	assert.Contains(t, warned, "remote error: tls: unknown certificate authority (the server refused the handshake: "+
		"it wants a client certificate signed by a CA it trusts; this side presents security.ssl.internal.keystore)")
	require.NoError(t, getJSONWith(good, rest+"/taskmanagers", &tms))
	require.Len(t, tms.TaskManagers, 1, "the foreign TaskManager is not registered")
	foreign.kill(t)

	// Failover: the next attempt leads the same TaskManager, over TLS.
	before, err := client.Status(context.Background())
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(before.AMPID, syscall.SIGKILL))
	require.Eventually(t, func() bool {
		after, err := client.Status(context.Background())
		return err == nil && after.Attempt > before.Attempt && leaderVia(good, client) != ""
	}, 60*time.Second, 20*time.Millisecond, "the next attempt leads")
	n, m := len(committed(t, st, "counts")), len(committed(t, st, "counts-cert"))
	require.Eventually(t, func() bool {
		return len(committed(t, st, "counts")) >= n+3 && len(committed(t, st, "counts-cert")) >= m+3
	}, 60*time.Second, 20*time.Millisecond, "both jobs run on under the next attempt")
	after, err := client.Status(context.Background())
	require.NoError(t, err)
	require.Len(t, after.Containers, 1)
	assert.Equal(t, before.Containers[0].ID, after.Containers[0].ID, "the TaskManager followed the new leader over TLS")
	requireExactCounts(t, committed(t, st, "counts"), n+3)
	requireExactCounts(t, committed(t, st, "counts-cert"), m+3)
}
