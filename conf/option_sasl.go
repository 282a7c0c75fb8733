package conf

import "strings"

// ZooKeeper SASL (issue 14): Flink's keys, and where a Go process finds the
// JAAS file a JVM would get from -Djava.security.auth.login.config.
var (
	ZKSASLDisable = &Option{
		key: "zookeeper.sasl.disable", typ: TypeBool, group: GroupZooKeeper, def: "false",
		desc: "When true, the ZooKeeper client never authenticates with SASL, even when a JAAS file or a Kerberos " +
			"login is configured.",
	}
	ZKSASLServiceName = &Option{
		key: "zookeeper.sasl.service-name", typ: TypeString, group: GroupZooKeeper, def: "zookeeper",
		desc: "The Kerberos service name of the ZooKeeper servers: a server at host:port is <service-name>/<host>.",
	}
	ZKSASLLoginContext = &Option{
		key: "zookeeper.sasl.login-context-name", typ: TypeString, group: GroupZooKeeper, def: "Client",
		desc: "The JAAS login context (section) the ZooKeeper client logs in with: a section of " +
			"amkeeper.zookeeper.sasl.jaas-file, or one listed in security.kerberos.login.contexts.",
	}
	ZKSASLJAASFile = &Option{
		key: "amkeeper.zookeeper.sasl.jaas-file", typ: TypeString, group: GroupZooKeeper, env: "AMKEEPER_ZK_JAAS_FILE",
		desc: "A JAAS file (what a JVM gets with -Djava.security.auth.login.config) whose section " +
			"zookeeper.sasl.login-context-name holds the ZooKeeper login: DigestLoginModule with username and password " +
			"(DIGEST-MD5), or Krb5LoginModule with principal and keyTab or useTicketCache (Kerberos). When it holds a " +
			"password it must be readable by its owner only.",
	}
	KerberosKeytab = &Option{
		key: "security.kerberos.login.keytab", typ: TypeString, group: GroupZooKeeper,
		desc: "The keytab of security.kerberos.login.principal, for the login contexts in security.kerberos.login.contexts.",
	}
	KerberosPrincipal = &Option{
		key: "security.kerberos.login.principal", typ: TypeString, group: GroupZooKeeper,
		desc: "The Kerberos principal (user[/host]@REALM) amkeeper logs in as, with security.kerberos.login.keytab.",
	}
	KerberosUseTicketCache = &Option{
		key: "security.kerberos.login.use-ticket-cache", typ: TypeBool, group: GroupZooKeeper, def: "true",
		desc: "Without a keytab, log in from the Kerberos ticket cache (kinit; $KRB5CCNAME, else /tmp/krb5cc_<uid>).",
	}
	KerberosContexts = &Option{
		key: "security.kerberos.login.contexts", typ: TypeString, group: GroupZooKeeper,
		desc: "Comma-separated JAAS login contexts that use the Kerberos login above; list zookeeper.sasl.login-context-name " +
			"(Client) here to authenticate to ZooKeeper with Kerberos.",
	}
	KerberosKrb5Conf = &Option{
		key: "security.kerberos.krb5-conf.path", typ: TypeString, group: GroupZooKeeper,
		desc: "The Kerberos configuration (realms, KDCs). Default: $KRB5_CONFIG, else /etc/krb5.conf.",
	}
)

// saslOptions are registered after the ZooKeeper client's options.
var saslOptions = []*Option{
	ZKSASLDisable, ZKSASLServiceName, ZKSASLLoginContext, ZKSASLJAASFile,
	KerberosKeytab, KerberosPrincipal, KerberosUseTicketCache, KerberosContexts, KerberosKrb5Conf,
}

// ZooKeeperSASL is how the ZooKeeper client authenticates with SASL.
type ZooKeeperSASL struct {
	// Enabled: zookeeper.sasl.disable is false and there is a login for the
	// login context (a JAAS file, or the context is a Kerberos login context).
	Enabled      bool
	LoginContext string
	ServiceName  string
	JAASFile     string
	// Kerberos: the login context is in security.kerberos.login.contexts, so the
	// login is Keytab/Principal or the ticket cache, not the JAAS file.
	Kerberos       bool
	Keytab         string
	Principal      string
	UseTicketCache bool
	Krb5Conf       string
}

// ZooKeeperSASL returns the ZooKeeper client's SASL settings.
func (c *Config) ZooKeeperSASL() ZooKeeperSASL {
	s := ZooKeeperSASL{
		LoginContext:   c.String(ZKSASLLoginContext),
		ServiceName:    c.String(ZKSASLServiceName),
		JAASFile:       c.String(ZKSASLJAASFile),
		Keytab:         c.String(KerberosKeytab),
		Principal:      c.String(KerberosPrincipal),
		UseTicketCache: c.Bool(KerberosUseTicketCache),
		Krb5Conf:       c.String(KerberosKrb5Conf),
	}
	s.Kerberos = listHas(c.String(KerberosContexts), s.LoginContext)
	s.Enabled = !c.Bool(ZKSASLDisable) && (s.JAASFile != "" || s.Kerberos)
	return s
}

func listHas(list, word string) bool {
	for _, w := range splitList(list) {
		if w == word {
			return true
		}
	}
	return false
}

func splitList(list string) []string {
	var out []string
	for _, w := range strings.Split(list, ",") {
		if w = strings.TrimSpace(w); w != "" {
			out = append(out, w)
		}
	}
	return out
}

// checkSASL reports SASL settings that cannot work, and Kerberos settings that
// are set but not used by anything.
func (r *resolver) checkSASL() {
	text := func(o *Option) string {
		if v := r.values[o]; v != nil && v.valid && v.parsed != nil {
			s, _ := v.parsed.(string)
			return s
		}
		return ""
	}
	context := text(ZKSASLLoginContext)
	if context == "" {
		context = ZKSASLLoginContext.def
	}
	contexts := r.values[KerberosContexts]
	kerberos := listHas(text(KerberosContexts), context)
	keytab, principal := r.values[KerberosKeytab], r.values[KerberosPrincipal]
	if kerberos {
		useCache := true
		if v := r.values[KerberosUseTicketCache]; v.valid && v.parsed != nil {
			useCache, _ = v.parsed.(bool)
		}
		switch {
		case keytab.set && !principal.set:
			r.problem(KerberosPrincipal.key, "", keytab.origin,
				"is required with security.kerberos.login.keytab: name the keytab's principal, e.g. amkeeper/host@EXAMPLE.COM")
		case principal.set && !keytab.set && !useCache:
			r.problem(KerberosKeytab.key, "", principal.origin,
				"is required when security.kerberos.login.use-ticket-cache is false: give the keytab of "+text(KerberosPrincipal))
		case !keytab.set && !useCache:
			r.problem(KerberosKeytab.key, "", contexts.origin,
				"is required when "+context+" is a Kerberos login context and security.kerberos.login.use-ticket-cache is false")
		}
		if jaas := r.values[ZKSASLJAASFile]; jaas.set {
			r.warn(ZKSASLJAASFile.key, jaas.origin,
				"is not used for ZooKeeper: its login context %s is in security.kerberos.login.contexts, so the Kerberos login keys apply", context)
		}
	} else {
		for _, o := range []*Option{KerberosKeytab, KerberosPrincipal} {
			if v := r.values[o]; v.set {
				r.warn(o.key, v.origin,
					"is set but not used: the ZooKeeper login context %s is not in security.kerberos.login.contexts (add it there to authenticate to ZooKeeper with Kerberos)", context)
			}
		}
	}
	if d := r.values[ZKSASLDisable]; d.set && d.parsed == true && (kerberos || r.values[ZKSASLJAASFile].set) {
		r.warn(ZKSASLDisable.key, d.origin, "is true: the ZooKeeper client does not authenticate with SASL although a login is configured")
	}
}
