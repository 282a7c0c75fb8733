package conf

import (
	"slices"
	"strings"
)

// Flink's security keys. Those amkeeper recognises but does not honour yet carry
// notHonoured: Load warns, naming the key, when one is set; the reference and
// `yarn-session config --all` list them. Supporting a key is one line: delete
// its notHonoured field (and read it where it is used).

// Why a key is not honoured yet, per family.
const (
	notYetAuthorization = "extra authorization schemes are not sent: amkeeper authenticates with amkeeper.zookeeper.digest only"
)

// GroupSecurity holds the security keys.
const GroupSecurity Group = "Security"

const securityIntro = "Flink's security keys. TLS between the application master and its TaskManagers " +
	"(security.ssl.internal.*) and on the REST endpoint (security.ssl.rest.*) takes PEM files; keys marked " +
	"\"not honoured yet\" have no effect and produce a warning naming the key when set. ZooKeeper ACLs " +
	"(high-availability.zookeeper.client.acl) are under ZooKeeper client; see docs/security.md."

func securityOption(key string, typ Type, def, reason, desc string) *Option {
	return &Option{key: key, typ: typ, group: GroupSecurity, def: def, notHonoured: reason, desc: desc}
}

func storeOption(key, desc string) *Option {
	o := securityOption(key, TypeString, "", "", desc)
	o.check = checkAbsolutePath
	return o
}

func passwordOption(key, desc string) *Option {
	o := securityOption(key, TypeString, "", "", desc+" Not used: amkeeper reads unencrypted PEM keys only "+
		"(protect the key file with mode 0600); accepted, with a warning, for Flink compatibility.")
	o.secret = true
	return o
}

// The security options, in reference order.
var (
	ZKClientAuthz      = securityOption("high-availability.zookeeper.client.authorization", TypeString, "", notYetAuthorization, "Extra scheme:auth pairs added to the ZooKeeper connection.")
	SSLInternalEnabled = securityOption("security.ssl.internal.enabled", TypeBool, "false", "",
		"Mutual TLS between the application master and its TaskManagers: the TaskManagers' command endpoints and the "+
			"AM's registration endpoint serve https only, and each side verifies the other's certificate against "+
			"security.ssl.internal.truststore. Needs security.ssl.internal.keystore and .truststore.")
	SSLInternalKeyStore = storeOption("security.ssl.internal.keystore",
		"The certificate chain and unencrypted private key (one PEM file, absolute path) every process presents for internal TLS. "+
			"JKS and PKCS12 stores are refused with the command that converts them.")
	SSLInternalKSPass  = passwordOption("security.ssl.internal.keystore-password", "The password of security.ssl.internal.keystore.")
	SSLInternalKeyPass = passwordOption("security.ssl.internal.key-password", "The password of the key in security.ssl.internal.keystore.")
	SSLInternalTrust   = storeOption("security.ssl.internal.truststore",
		"The CA certificates (PEM, absolute path) a peer's certificate must be signed by for internal TLS.")
	SSLInternalTrustPass = passwordOption("security.ssl.internal.truststore-password", "The password of security.ssl.internal.truststore.")
	SSLRESTEnabled       = securityOption("security.ssl.rest.enabled", TypeBool, "false", "",
		"TLS on the application master's REST endpoint (https). The CLI then speaks https, trusting "+
			"security.ssl.rest.truststore. Needs security.ssl.rest.keystore and .truststore.")
	SSLRESTAuth = securityOption("security.ssl.rest.authentication-enabled", TypeBool, "false", "",
		"Require a client certificate signed by a CA of security.ssl.rest.truststore on the REST endpoint (the CLI "+
			"presents security.ssl.rest.keystore). A caller with one may submit and cancel without the application secret.")
	SSLRESTKeyStore = storeOption("security.ssl.rest.keystore",
		"The REST endpoint's certificate chain and unencrypted private key (one PEM file, absolute path); with "+
			"authentication-enabled, also the CLI's client certificate.")
	SSLRESTKSPass  = passwordOption("security.ssl.rest.keystore-password", "The password of security.ssl.rest.keystore.")
	SSLRESTKeyPass = passwordOption("security.ssl.rest.key-password", "The password of the key in security.ssl.rest.keystore.")
	SSLRESTTrust   = storeOption("security.ssl.rest.truststore",
		"The CA certificates (PEM, absolute path) REST clients trust the endpoint's certificate by, and, with "+
			"authentication-enabled, the endpoint trusts client certificates by.")
	SSLRESTTrustPass = passwordOption("security.ssl.rest.truststore-password", "The password of security.ssl.rest.truststore.")
)

var securityRegistry = []*Option{
	ZKClientAuthz,
	SSLInternalEnabled, SSLInternalKeyStore, SSLInternalKSPass, SSLInternalKeyPass, SSLInternalTrust, SSLInternalTrustPass,
	SSLRESTEnabled, SSLRESTAuth, SSLRESTKeyStore, SSLRESTKSPass, SSLRESTKeyPass, SSLRESTTrust, SSLRESTTrustPass,
}

// SSL is one family of security.ssl.* keys.
type SSL struct {
	Enabled    bool   // security.ssl.<family>.enabled
	ClientAuth bool   // security.ssl.rest.authentication-enabled (internal TLS is always mutual)
	KeyStore   string // security.ssl.<family>.keystore
	TrustStore string // security.ssl.<family>.truststore
}

// SSLInternal returns the security.ssl.internal.* settings.
func (c *Config) SSLInternal() SSL {
	return SSL{Enabled: c.Bool(SSLInternalEnabled), ClientAuth: true,
		KeyStore: c.String(SSLInternalKeyStore), TrustStore: c.String(SSLInternalTrust)}
}

// SSLREST returns the security.ssl.rest.* settings.
func (c *Config) SSLREST() SSL {
	return SSL{Enabled: c.Bool(SSLRESTEnabled), ClientAuth: c.Bool(SSLRESTAuth),
		KeyStore: c.String(SSLRESTKeyStore), TrustStore: c.String(SSLRESTTrust)}
}

// checkSSL warns about security.ssl.* keys that have no effect: the passwords
// (PEM keys are unencrypted), and a family's keys while it is not enabled.
func (r *resolver) checkSSL() {
	for _, o := range []*Option{SSLInternalKSPass, SSLInternalKeyPass, SSLInternalTrustPass, SSLRESTKSPass, SSLRESTKeyPass, SSLRESTTrustPass} {
		if v := r.values[o]; v != nil && v.set {
			r.warn(o.key, v.origin, "is not used: amkeeper reads PEM stores with unencrypted keys only (protect the key file with mode 0600)")
		}
	}
	for _, fam := range [][]*Option{
		{SSLInternalEnabled, SSLInternalKeyStore, SSLInternalTrust},
		{SSLRESTEnabled, SSLRESTAuth, SSLRESTKeyStore, SSLRESTTrust},
	} {
		if v := r.values[fam[0]]; v != nil && v.parsed == true {
			continue
		}
		var unused []string
		var at Origin
		for _, o := range fam[1:] {
			if v := r.values[o]; v != nil && v.set {
				if unused == nil {
					at = v.origin
				}
				unused = append(unused, o.key)
			}
		}
		if len(unused) > 0 {
			r.warn(fam[0].key, at, "is false, so %s are not used: set %s: true", strings.Join(unused, ", "), fam[0].key)
		}
	}
}

// NotHonoured says why amkeeper does not act on the option yet ("" when it does).
func (o *Option) NotHonoured() string { return o.notHonoured }

// NotHonoured lists the recognised options amkeeper does not act on yet, in
// reference order.
func NotHonoured() []*Option {
	var out []*Option
	for _, o := range registry {
		if o.notHonoured != "" {
			out = append(out, o)
		}
	}
	return slices.Clip(out)
}

// warnNotHonoured warns about every set option amkeeper does not act on.
func (r *resolver) warnNotHonoured() {
	for _, o := range registry {
		if s := r.values[o]; o.notHonoured != "" && s != nil && s.set {
			r.warn(o.key, s.origin, "is recognised but not honoured yet (%s); it has no effect", o.notHonoured)
		}
	}
}
