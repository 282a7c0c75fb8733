package zkha_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/zktls"
	"github.com/amkeeper/amkeeper/internal/zktls/tlstest"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/haservices"
	"github.com/amkeeper/amkeeper/recovery/recoverytest"
)

// TestServicesOverTLS: with zookeeper.client.secure and PEM stores the HA
// services work against a TLS-only server (leadership, a guarded write, its
// recovery by the next leader); a wrong CA and a Java key store are refused by
// name.
func TestServicesOverTLS(t *testing.T) {
	certs := tlstest.Generate(t, t.TempDir())
	c := zktest.Start(t, zktest.WithTLS(certs.Server, certs.CA))
	tlsKeys := func(ca string) []string {
		return []string{"zookeeper.client.secure=true", "zookeeper.ssl.keyStore.location=" + certs.Client,
			"zookeeper.ssl.trustStore.location=" + ca}
	}
	cfg := recoverytest.Config(t, "zookeeper", c, tlsKeys(certs.CA)...)

	first := recoverytest.OpenServices(t, cfg, "")
	ctx := context.Background()
	recoverytest.LeadOnce(t, first, func(g recovery.Grant) {
		graphs, err := first.JobGraphStore(ctx)
		require.NoError(t, err)
		require.NoError(t, graphs.Put(ctx, g, jobID, []byte("over tls")))
	})
	second := recoverytest.OpenServices(t, cfg, "")
	recoverytest.LeadOnce(t, second, func(recovery.Grant) {
		graphs, err := second.JobGraphStore(ctx)
		require.NoError(t, err)
		got, err := graphs.Recover(ctx, jobID)
		require.NoError(t, err)
		require.Equal(t, "over tls", string(got))
	})

	open := func(cfg *conf.Config) error {
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		s, err := haservices.Open(ctx, cfg, haservices.Options{Logger: logging.ForTest(t)})
		if err == nil {
			s.Close()
		}
		return err
	}
	err := open(recoverytest.Config(t, "zookeeper", c, append(tlsKeys(certs.OtherCA),
		"high-availability.zookeeper.client.connection-timeout=2 s")...))
	require.ErrorContains(t, err, "certificate signed by unknown authority (the server's certificate is not signed by a CA in zookeeper.ssl.trustStore.location)")

	jks := filepath.Join(t.TempDir(), "client.jks")
	require.NoError(t, os.WriteFile(jks, []byte{0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2}, 0o600))
	err = open(recoverytest.Config(t, "zookeeper", c, "zookeeper.client.secure=true", "zookeeper.ssl.keyStore.location="+jks))
	require.ErrorIs(t, err, zktls.ErrJavaStore)
	require.ErrorContains(t, err, "zookeeper.ssl.keyStore.location "+jks+" is JKS")
	require.ErrorContains(t, err, "keytool -importkeystore -srckeystore "+jks)
}
