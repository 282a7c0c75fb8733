package conf

import "slices"

// Security keys that amkeeper recognises but does not honour yet. Each carries
// notHonoured: Load warns, naming the key, when one is set; the reference and
// `yarn-session config --all` list them. Supporting a key is one line: delete
// its notHonoured field (and read it where it is used).

// Why a key is not honoured yet, per family.
const (
	notYetAuthorization = "extra authorization schemes are not sent: amkeeper authenticates with amkeeper.zookeeper.digest only"
	notYetInternalTLS   = "TLS between amkeeper's processes is not implemented yet"
	notYetRESTTLS       = "TLS on the REST endpoint is not implemented yet: it serves plain HTTP"
)

// GroupSecurity holds the security keys.
const GroupSecurity Group = "Security"

const securityIntro = "Flink's security keys. amkeeper recognises them; those marked \"not honoured yet\" have no effect " +
	"and produce a warning naming the key when set. ZooKeeper ACLs (high-availability.zookeeper.client.acl) are " +
	"under ZooKeeper client; see docs/security.md."

func securityOption(key string, typ Type, def, reason, desc string) *Option {
	return &Option{key: key, typ: typ, group: GroupSecurity, def: def, notHonoured: reason, desc: desc}
}

func secretOption(key, reason, desc string) *Option {
	o := securityOption(key, TypeString, "", reason, desc)
	o.secret = true
	return o
}

// The security options, in reference order.
var (
	ZKClientAuthz        = securityOption("high-availability.zookeeper.client.authorization", TypeString, "", notYetAuthorization, "Extra scheme:auth pairs added to the ZooKeeper connection.")
	SSLInternalEnabled   = securityOption("security.ssl.internal.enabled", TypeBool, "false", notYetInternalTLS, "TLS for traffic between amkeeper's processes.")
	SSLInternalKeyStore  = securityOption("security.ssl.internal.keystore", TypeString, "", notYetInternalTLS, "The certificate and key for internal TLS.")
	SSLInternalKSPass    = secretOption("security.ssl.internal.keystore-password", notYetInternalTLS, "The password of security.ssl.internal.keystore.")
	SSLInternalKeyPass   = secretOption("security.ssl.internal.key-password", notYetInternalTLS, "The password of the key in security.ssl.internal.keystore.")
	SSLInternalTrust     = securityOption("security.ssl.internal.truststore", TypeString, "", notYetInternalTLS, "The CA certificates trusted for internal TLS.")
	SSLInternalTrustPass = secretOption("security.ssl.internal.truststore-password", notYetInternalTLS, "The password of security.ssl.internal.truststore.")
	SSLRESTEnabled       = securityOption("security.ssl.rest.enabled", TypeBool, "false", notYetRESTTLS, "TLS for the REST endpoint.")
	SSLRESTAuth          = securityOption("security.ssl.rest.authentication-enabled", TypeBool, "false", notYetRESTTLS, "Require client certificates on the REST endpoint.")
	SSLRESTKeyStore      = securityOption("security.ssl.rest.keystore", TypeString, "", notYetRESTTLS, "The certificate and key of the REST endpoint.")
	SSLRESTKSPass        = secretOption("security.ssl.rest.keystore-password", notYetRESTTLS, "The password of security.ssl.rest.keystore.")
	SSLRESTKeyPass       = secretOption("security.ssl.rest.key-password", notYetRESTTLS, "The password of the key in security.ssl.rest.keystore.")
	SSLRESTTrust         = securityOption("security.ssl.rest.truststore", TypeString, "", notYetRESTTLS, "The CA certificates trusted by REST clients.")
	SSLRESTTrustPass     = secretOption("security.ssl.rest.truststore-password", notYetRESTTLS, "The password of security.ssl.rest.truststore.")
)

var securityRegistry = []*Option{
	ZKClientAuthz,
	SSLInternalEnabled, SSLInternalKeyStore, SSLInternalKSPass, SSLInternalKeyPass, SSLInternalTrust, SSLInternalTrustPass,
	SSLRESTEnabled, SSLRESTAuth, SSLRESTKeyStore, SSLRESTKSPass, SSLRESTKeyPass, SSLRESTTrust, SSLRESTTrustPass,
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
