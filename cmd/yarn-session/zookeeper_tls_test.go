package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/zkserver"
	"github.com/amkeeper/amkeeper/internal/zktls/tlstest"
)

// TestZooKeeperTLSStartAndHA: `zookeeper start` with a zoo.cfg naming a
// secureClientPort starts a TLS-only server in one command; `ha inspect` reaches
// it with zookeeper.client.secure and the PEM stores, and without them is told
// that the port wants TLS.
func TestZooKeeperTLSStartAndHA(t *testing.T) {
	confDir := t.TempDir()
	certs := tlstest.Generate(t, filepath.Join(confDir, "certs"))
	require.NoError(t, os.WriteFile(filepath.Join(confDir, "zoo.cfg"), []byte("tickTime=500\nsecureClientPort=0\n"+
		"ssl.keyStore.location=certs/server.pem\nssl.trustStore.location=certs/ca.pem\n"), 0o644))
	runDir := filepath.Join(t.TempDir(), "zk")
	t.Cleanup(func() { _, _ = zkserver.Stop(context.Background(), runDir, zkserver.StopOptions{}) })

	out, code := run(t, "zookeeper", "start", "--conf-dir", confDir, "--run-dir", runDir)
	require.Equal(t, 0, code, out)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	connect := lines[len(lines)-1]
	require.Regexp(t, `^127\.0\.0\.1:[0-9]+$`, connect)
	require.Contains(t, out, "Started zookeeper standalone on "+connect+" over TLS only")

	out, code = run(t, "zookeeper", "status", "--run-dir", runDir)
	require.Equal(t, 0, code)
	require.Regexp(t, `standalone\s+running\s+[0-9]+\s+`+connect+`\s+standalone`, out, "status asks srvr over TLS")

	base := []string{"ha", "inspect",
		"-D", "high-availability.type=zookeeper",
		"-D", "high-availability.zookeeper.quorum=" + connect,
		"-D", "high-availability.zookeeper.client.connection-timeout=2 s",
		"-D", "high-availability.cluster-id=application_1_0001",
		"-D", "high-availability.storageDir=file://" + t.TempDir(),
	}
	out, code = run(t, append(base,
		"-D", "zookeeper.client.secure=true",
		"-D", "zookeeper.ssl.keyStore.location="+certs.Client,
		"-D", "zookeeper.ssl.trustStore.location="+certs.CA)...)
	require.Equal(t, 0, code, "ha inspect over TLS: %s", out)

	var stderr strings.Builder
	err := newApp(&strings.Builder{}, &stderr).RunContext(context.Background(), append([]string{"yarn-session"}, base...))
	require.Error(t, err, "plain TCP to a TLS-only server")
	require.Contains(t, err.Error()+stderr.String(), "a TLS-only port? then set zookeeper.client.secure: true")
}
