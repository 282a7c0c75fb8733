package zkserver_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/zkserver"
	"github.com/amkeeper/amkeeper/internal/zktls"
	"github.com/amkeeper/amkeeper/internal/zktls/tlstest"
)

// TestStartTLSOnly: a zoo.cfg with secureClientPort (and no clientPort) starts a
// server that serves over TLS only, with stores named relative to zoo.cfg;
// StatusOf reads its mode over TLS; a plain four-letter word gets nothing.
func TestStartTLSOnly(t *testing.T) {
	dir := t.TempDir()
	tlstest.Generate(t, filepath.Join(dir, "certs"))
	cfgPath := filepath.Join(dir, "zoo.cfg")
	require.NoError(t, os.WriteFile(cfgPath, []byte("tickTime=500\nsecureClientPort=0\n"+
		"ssl.keyStore.location=certs/server.pem\nssl.trustStore.location=certs/ca.pem\n"), 0o644))

	res, runDir := start(t, cfgPath, zkserver.Options{})
	require.Len(t, res.Servers, 1)
	addr := res.Servers[0].Addr
	effective, err := os.ReadFile(filepath.Join(res.Servers[0].Dir, "zoo.cfg"))
	require.NoError(t, err)
	require.Contains(t, string(effective), "serverCnxnFactory="+zkserver.NettyCnxnFactory)
	require.Contains(t, string(effective), "ssl.keyStore.location="+filepath.Join(dir, "certs", "server.pem"))
	require.NotContains(t, string(effective), "clientPort=")

	list, err := zkserver.StatusOf(context.Background(), runDir)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, zkserver.StateRunning, list[0].State)
	require.Equal(t, "standalone", list[0].Mode, "srvr over TLS")
	require.Equal(t, addr, list[0].Addr)

	// Plain: four bytes are less than a TLS record header, so the server waits
	// for more and never answers.
	pctx, pcancel := context.WithTimeout(context.Background(), time.Second)
	defer pcancel()
	answer, err := zkserver.FourLetter(pctx, addr, "srvr")
	require.ErrorIs(t, err, context.DeadlineExceeded, "plain srvr on the TLS port answered %q", answer)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// A client over TLS with the client certificate gets a session.
	tc, err := zktls.Config{
		KeyStore:             zktls.Store{Key: "keyStore", Location: filepath.Join(dir, "certs", "client.pem")},
		TrustStore:           zktls.Store{Key: "trustStore", Location: filepath.Join(dir, "certs", "ca.pem")},
		HostnameVerification: true,
	}.TLS()
	require.NoError(t, err)
	answer, err = zkserver.FourLetterTLS(ctx, addr, "ruok", tc)
	require.NoError(t, err)
	require.Equal(t, "imok", answer)
}

// TestStartTLSRefusals: what a TLS zoo.cfg gets wrong is named before any JVM
// starts: both ports, no key store, a Java key store.
func TestStartTLSRefusals(t *testing.T) {
	dir := t.TempDir()
	certs := tlstest.Generate(t, filepath.Join(dir, "certs"))
	jks := filepath.Join(dir, "server.jks")
	require.NoError(t, os.WriteFile(jks, []byte{0xfe, 0xed, 0xfe, 0xed}, 0o600))
	for _, tc := range []struct{ name, cfg, want string }{
		{"both ports", "clientPort=2181\nsecureClientPort=2281\nssl.keyStore.location=" + certs.Server,
			"sets both clientPort (line 2) and secureClientPort (line 3): amkeeper starts TLS-only servers"},
		{"no key store", "secureClientPort=2281\n", "secureClientPort needs ssl.keyStore.location"},
		{"java key store", "secureClientPort=2281\nssl.keyStore.location=" + jks,
			"ssl.keyStore.location " + jks + " is JKS: " + zktls.ErrJavaStore.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "zoo.cfg")
			require.NoError(t, os.WriteFile(path, []byte("tickTime=500\n"+tc.cfg+"\n"), 0o644))
			cfg, err := conf.ParseZooCfg(path)
			require.NoError(t, err)
			_, err = zkserver.Start(context.Background(), cfg, zkserver.Options{RunDir: filepath.Join(t.TempDir(), "run")})
			require.ErrorContains(t, err, tc.want)
		})
	}
}
