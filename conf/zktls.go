package conf

import (
	"path/filepath"
	"strings"
)

// TLS to ZooKeeper. The keys are ZooKeeper's own client properties
// (ZKClientConfig, X509Util): a Flink JobManager reads them as JVM system
// properties (env.java.opts: -Dzookeeper.client.secure=true …); amkeeper reads
// them from flink-conf.yaml under the same names, or -D.

var (
	ZKClientSecure = &Option{
		key: "zookeeper.client.secure", typ: TypeBool, group: GroupZooKeeper, def: "false",
		desc: "Connect to ZooKeeper over TLS (the servers' secureClientPort). Every ZooKeeper connection of the " +
			"application master, the TaskManagers, the supervisor's session closer and the CLI then uses TLS.",
	}
	ZKSSLKeyStoreLocation = &Option{
		key: "zookeeper.ssl.keyStore.location", typ: TypeString, group: GroupZooKeeper, check: checkAbsolutePath,
		desc: "The client's certificate chain and unencrypted private key, in one PEM file (absolute path), " +
			"presented to servers that require client certificates (ssl.clientAuth). Unset: no client certificate.",
	}
	ZKSSLKeyStoreType = &Option{
		key: "zookeeper.ssl.keyStore.type", typ: TypeString, group: GroupZooKeeper,
		desc: "PEM. JKS, PKCS12 and BCFKS stores are refused with the openssl/keytool command that converts them. " +
			"Unset: from the file name (.jks, .p12, .pfx, .bcfks), else PEM.",
	}
	ZKSSLKeyStorePassword = &Option{
		key: "zookeeper.ssl.keyStore.password", typ: TypeString, group: GroupZooKeeper, secret: true,
		desc: "Not used: amkeeper reads unencrypted PEM keys only (protect the file with mode 0600); an encrypted key is " +
			"refused with the command that decrypts it. Accepted, with a warning, for ZooKeeper compatibility.",
	}
	ZKSSLTrustStoreLocation = &Option{
		key: "zookeeper.ssl.trustStore.location", typ: TypeString, group: GroupZooKeeper, check: checkAbsolutePath,
		desc: "The CA certificates (PEM, absolute path) the servers' certificates must chain to. Unset: the system's roots.",
	}
	ZKSSLTrustStoreType = &Option{
		key: "zookeeper.ssl.trustStore.type", typ: TypeString, group: GroupZooKeeper,
		desc: "PEM; as zookeeper.ssl.keyStore.type.",
	}
	ZKSSLTrustStorePassword = &Option{
		key: "zookeeper.ssl.trustStore.password", typ: TypeString, group: GroupZooKeeper, secret: true,
		desc: "Not used: a PEM trust store has no password. Accepted, with a warning, for ZooKeeper compatibility.",
	}
	ZKSSLHostnameVerification = &Option{
		key: "zookeeper.ssl.hostnameVerification", typ: TypeBool, group: GroupZooKeeper, def: "true",
		desc: "The server's certificate must name the host in high-availability.zookeeper.quorum (DNS name or IP " +
			"address). false still verifies the certificate chain.",
	}
)

// zkTLSOptions are registered after the other ZooKeeper client options.
var zkTLSOptions = []*Option{
	ZKClientSecure, ZKSSLKeyStoreLocation, ZKSSLKeyStoreType, ZKSSLKeyStorePassword,
	ZKSSLTrustStoreLocation, ZKSSLTrustStoreType, ZKSSLTrustStorePassword, ZKSSLHostnameVerification,
}

func checkAbsolutePath(v any) string {
	if s, _ := v.(string); s != "" && !filepath.IsAbs(s) {
		return "is not an absolute path: the application master and TaskManagers run in directories of their own"
	}
	return ""
}

// ZooKeeperTLS is the TLS configuration of ZooKeeper connections.
type ZooKeeperTLS struct {
	Secure                     bool   // zookeeper.client.secure
	KeyStore, KeyStoreType     string // zookeeper.ssl.keyStore.location, .type
	TrustStore, TrustStoreType string // zookeeper.ssl.trustStore.location, .type
	HostnameVerification       bool   // zookeeper.ssl.hostnameVerification
}

// ZooKeeperTLS returns the zookeeper.client.secure and zookeeper.ssl.* settings.
func (c *Config) ZooKeeperTLS() ZooKeeperTLS {
	return ZooKeeperTLS{
		Secure:               c.Bool(ZKClientSecure),
		KeyStore:             c.String(ZKSSLKeyStoreLocation),
		KeyStoreType:         c.String(ZKSSLKeyStoreType),
		TrustStore:           c.String(ZKSSLTrustStoreLocation),
		TrustStoreType:       c.String(ZKSSLTrustStoreType),
		HostnameVerification: c.Bool(ZKSSLHostnameVerification),
	}
}

// checkZooKeeperTLS warns about TLS keys that have no effect.
func (r *resolver) checkZooKeeperTLS() {
	for _, o := range []*Option{ZKSSLKeyStorePassword, ZKSSLTrustStorePassword} {
		if v := r.values[o]; v != nil && v.set {
			r.warn(o.key, v.origin, "is not used: amkeeper reads PEM stores with unencrypted keys only (protect the key file with mode 0600)")
		}
	}
	if secure := r.values[ZKClientSecure]; secure != nil && secure.parsed == true {
		return
	}
	var unused []string
	var at Origin
	for _, o := range zkTLSOptions[1:] {
		if v := r.values[o]; v != nil && v.set {
			if unused == nil {
				at = v.origin
			}
			unused = append(unused, o.key)
		}
	}
	if len(unused) > 0 {
		r.warn(ZKClientSecure.key, at, "is false, so %s are not used: set zookeeper.client.secure: true to connect over TLS",
			strings.Join(unused, ", "))
	}
}
