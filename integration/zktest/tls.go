package zktest

import (
	"crypto/tls"
	"fmt"

	"github.com/amkeeper/amkeeper/internal/zkserver"
	"github.com/amkeeper/amkeeper/internal/zktls"
)

// WithTLS makes every server TLS-only: its client port is a secureClientPort
// (ZooKeeper's Netty connection factory, ssl.clientAuth=need) with keyStore (a PEM
// file: the server's certificate and unencrypted key) and trustStore (PEM CA
// certificates). Addrs then name the TLS ports, Mode and the readiness probe go
// over TLS presenting the server's own certificate, and Conn connects over TLS
// with it. Generate the files with internal/zktls/tlstest.
func WithTLS(keyStore, trustStore string) Option {
	return func(o *options) { o.tlsKeyStore, o.tlsTrustStore = keyStore, trustStore }
}

// clientTLS is the harness's own TLS configuration for a TLS-only cluster (nil
// otherwise): the server's certificate as the client's, its trust store as roots.
func (o options) clientTLS() (*tls.Config, error) {
	if o.tlsKeyStore == "" {
		return nil, nil
	}
	tc, err := zktls.Config{
		KeyStore:             zktls.Store{Key: "zktest.WithTLS keyStore", Location: o.tlsKeyStore},
		TrustStore:           zktls.Store{Key: "zktest.WithTLS trustStore", Location: o.tlsTrustStore},
		HostnameVerification: true,
	}.TLS()
	if err != nil {
		return nil, fmt.Errorf("zktest: %w", err)
	}
	return tc, nil
}

// TLS returns the TLS configuration the harness connects with, nil for a plain
// cluster.
func (c *Cluster) TLS() *tls.Config { return c.tls }

// tlsLines are the zoo.cfg lines of a TLS-only server listening on port.
func (o options) tlsLines(port int) []string {
	return []string{
		fmt.Sprintf("%s=%d", zkserver.KeySecureClientPort, port),
		zkserver.KeySecureClientPortAddress + "=127.0.0.1",
		zkserver.KeyCnxnFactory + "=" + zkserver.NettyCnxnFactory,
		zkserver.KeySSLKeyStore + "=" + o.tlsKeyStore,
		"ssl.keyStore.type=PEM",
		zkserver.KeySSLTrustStore + "=" + o.tlsTrustStore,
		"ssl.trustStore.type=PEM",
	}
}
