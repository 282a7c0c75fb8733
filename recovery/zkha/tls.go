package zkha

import (
	"fmt"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/zktls"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// Dialer returns the dial function of every ZooKeeper connection the
// configuration asks for: nil (plain TCP) unless zookeeper.client.secure, else TLS
// with the zookeeper.ssl.* stores, read now so that a missing or unreadable
// store (or a Java key store) is reported before anything connects.
func Dialer(cfg *conf.Config) (zkclient.Dialer, error) {
	dial, _, err := dialer(cfg)
	return dial, err
}

// dialer is Dialer, and the subject of the client certificate it presents ("" for
// none): ZooKeeper counts it among the connection's identities.
func dialer(cfg *conf.Config) (zkclient.Dialer, string, error) {
	t := cfg.ZooKeeperTLS()
	if !t.Secure {
		return nil, "", nil
	}
	tc, err := zktls.Config{
		KeyStore:             zktls.Store{Key: conf.ZKSSLKeyStoreLocation.Key(), Location: t.KeyStore, Type: t.KeyStoreType},
		TrustStore:           zktls.Store{Key: conf.ZKSSLTrustStoreLocation.Key(), Location: t.TrustStore, Type: t.TrustStoreType},
		HostnameVerification: t.HostnameVerification,
	}.TLS()
	if err != nil {
		return nil, "", fmt.Errorf("zookeeper TLS (%s): %w", conf.ZKClientSecure.Key(), err)
	}
	return zktls.Dialer(tc), zktls.Identity(tc), nil
}
