package zkserver

import (
	"crypto/tls"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/zktls"
)

// TLS-only servers: a zoo.cfg with secureClientPort and no clientPort starts a
// server that accepts clients over TLS only (ZooKeeper's Netty connection factory,
// which this package sets unless zoo.cfg names one). Its key and trust stores are
// ZooKeeper's own keys, ssl.keyStore.location and ssl.trustStore.location (with
// .type; PEM stores, which ZooKeeper 3.8 reads): Start and StatusOf probe the
// server over TLS with them, presenting the server's own certificate as the
// client's (ssl.clientAuth=need is ZooKeeper's default), so they must be PEM.
const (
	KeySecureClientPort        = "secureClientPort"
	KeySecureClientPortAddress = "secureClientPortAddress"
	KeyCnxnFactory             = "serverCnxnFactory"
	KeySSLKeyStore             = "ssl.keyStore.location"
	KeySSLTrustStore           = "ssl.trustStore.location"
	// NettyCnxnFactory is the connection factory TLS needs.
	NettyCnxnFactory = "org.apache.zookeeper.server.NettyServerCnxnFactory"
)

// secureOf reports whether cfg asks for a TLS-only server, and its secure port
// (0: pick a free one).
func secureOf(cfg *conf.ZooCfg) (bool, int, error) {
	v, ok := cfg.Other[KeySecureClientPort]
	if !ok {
		return false, 0, nil
	}
	port, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || port < 0 || port > 65535 {
		return false, 0, fmt.Errorf("zkserver: %s: %s=%q: want a port number (0 picks a free one)", cfg.Path, KeySecureClientPort, v)
	}
	if cfg.Line("clientPort") != 0 {
		return false, 0, fmt.Errorf("zkserver: %s sets both clientPort (line %d) and %s (line %d): amkeeper starts TLS-only servers; remove clientPort, or %s for a plain server",
			cfg.Path, cfg.Line("clientPort"), KeySecureClientPort, cfg.Line(KeySecureClientPort), KeySecureClientPort)
	}
	if cfg.Other[KeySSLKeyStore] == "" {
		return false, 0, fmt.Errorf("zkserver: %s: %s needs %s (a PEM file with the server's certificate and key)", cfg.Path, KeySecureClientPort, KeySSLKeyStore)
	}
	return true, port, nil
}

// storePath resolves a store location relative to zoo.cfg's directory, as the
// server runs in another directory.
func storePath(cfg *conf.ZooCfg, key string) string {
	p := strings.TrimSpace(cfg.Other[key])
	if p == "" || filepath.IsAbs(p) || cfg.Path == "" {
		return p
	}
	return filepath.Join(filepath.Dir(cfg.Path), p)
}

// probeTLS is how Start and StatusOf talk to a TLS-only server: its own
// certificate as the client's, its trust store as the roots, and no host name
// check (they dial a loopback address the certificate need not name).
func probeTLS(cfg *conf.ZooCfg) (*tls.Config, error) {
	store := func(key string) zktls.Store {
		return zktls.Store{Key: key, Location: storePath(cfg, key), Type: cfg.Other[strings.TrimSuffix(key, ".location")+".type"]}
	}
	tc, err := zktls.Config{KeyStore: store(KeySSLKeyStore), TrustStore: store(KeySSLTrustStore)}.TLS()
	if err != nil {
		return nil, fmt.Errorf("zkserver: %s: %w", cfg.Path, err)
	}
	return tc, nil
}

// secureLines are the keys render writes for a TLS-only member, replacing what
// zoo.cfg says for them.
func secureLines(cfg *conf.ZooCfg, other map[string]string) {
	delete(other, KeySecureClientPort)
	delete(other, KeySecureClientPortAddress)
	if _, ok := other[KeyCnxnFactory]; !ok {
		other[KeyCnxnFactory] = NettyCnxnFactory
	}
	for _, k := range []string{KeySSLKeyStore, KeySSLTrustStore} {
		if p := storePath(cfg, k); p != "" {
			other[k] = p
		}
	}
}
