package zkclient

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
)

// GSSAPI (RFC 4752) with Kerberos 5, the client side, as ZooKeeper's server
// (Java's GSSAPI SaslServer) expects it: the initial response is the Kerberos
// AP-REQ in a GSS-API token for <service>/<host> in the client's realm; the
// server answers (after an AP-REP, should it send one) with a wrap token
// offering its security layers and buffer size; the client checks that token
// against the session key — only the real service could have made it — and
// answers with a wrap token choosing no security layer. Tickets come from a
// keytab (a fresh login per connection) or from the ticket cache.

// gssapiMech is the GSSAPI mechanism for one Kerberos login.
type gssapiMech struct {
	service  string
	cfg      *config.Config
	kt       *keytab.Keytab // nil: the ticket cache
	cache    string
	user     string // principal without the realm
	realm    string
	identity string // user@realm
}

var _ SASLMechanism = (*gssapiMech)(nil)

// newGSSAPI builds the Kerberos mechanism: it reads the Kerberos configuration
// and the keytab or ticket cache now, so a bad path is reported before any
// connection.
func newGSSAPI(k KerberosLogin, service string) (SASLMechanism, error) {
	confPath := k.Krb5Conf
	if confPath == "" {
		confPath = defaultKrb5Conf()
	}
	cfg, err := config.Load(confPath)
	if err != nil {
		return nil, fmt.Errorf("zkclient: sasl: Kerberos configuration %s (security.kerberos.krb5-conf.path, KRB5_CONFIG): %w", confPath, err)
	}
	m := &gssapiMech{service: service, cfg: cfg}
	switch {
	case k.Keytab != "":
		if k.Principal == "" {
			return nil, fmt.Errorf("zkclient: sasl: keytab %s: no principal to log in as (security.kerberos.login.principal)", k.Keytab)
		}
		if err := checkPrivate(k.Keytab, "it holds the principal's keys"); err != nil {
			return nil, err
		}
		if m.kt, err = keytab.Load(k.Keytab); err != nil {
			return nil, fmt.Errorf("zkclient: sasl: keytab %s: %w", k.Keytab, err)
		}
		m.user, m.realm = splitPrincipal(k.Principal, cfg.LibDefaults.DefaultRealm)
	case k.UseTicketCache:
		m.cache = k.TicketCache
		if m.cache == "" {
			m.cache = defaultTicketCache()
		}
		if err := checkOwnCache(m.cache); err != nil {
			return nil, err
		}
		cc, err := credentials.LoadCCache(m.cache)
		if err != nil {
			return nil, fmt.Errorf("zkclient: sasl: ticket cache %s: %w (run kinit, or configure a keytab)", m.cache, err)
		}
		m.user, m.realm = cc.GetClientPrincipalName().PrincipalNameString(), cc.GetClientRealm()
		if k.Principal != "" {
			if u, r := splitPrincipal(k.Principal, m.realm); u != m.user || r != m.realm {
				return nil, fmt.Errorf("zkclient: sasl: ticket cache %s holds %s@%s, not %s", m.cache, m.user, m.realm, k.Principal)
			}
		}
	default:
		return nil, errors.New("zkclient: sasl: Kerberos login without a keytab, and the ticket cache is not allowed (security.kerberos.login.use-ticket-cache)")
	}
	m.identity = m.user + "@" + m.realm
	return m, nil
}

// splitPrincipal splits user[/host][@REALM]; a principal without a realm is in
// the default realm.
func splitPrincipal(p, defaultRealm string) (user, realm string) {
	if i := strings.LastIndexByte(p, '@'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return p, defaultRealm
}

// Name implements SASLMechanism.
func (m *gssapiMech) Name() string { return "GSSAPI" }

// Identity implements SASLMechanism.
func (m *gssapiMech) Identity() string { return m.identity }

// login returns a Kerberos client with a TGT; Destroy it after use (it runs a
// renewal goroutine).
func (m *gssapiMech) login() (*client.Client, error) {
	if m.kt != nil {
		cl := client.NewWithKeytab(m.user, m.realm, m.kt, m.cfg, client.DisablePAFXFAST(true))
		if err := cl.Login(); err != nil {
			cl.Destroy()
			return nil, fmt.Errorf("log in as %s with its keytab: %w", m.identity, err)
		}
		return cl, nil
	}
	cc, err := credentials.LoadCCache(m.cache)
	if err != nil {
		return nil, fmt.Errorf("ticket cache %s: %w", m.cache, err)
	}
	cl, err := client.NewFromCCache(cc, m.cfg, client.DisablePAFXFAST(true))
	if err != nil {
		return nil, fmt.Errorf("ticket cache %s: %w (run kinit again)", m.cache, err)
	}
	return cl, nil
}

// Start implements SASLMechanism: it gets a service ticket for the server and
// builds the AP-REQ.
func (m *gssapiMech) Start(address string) (SASLExchange, error) {
	spn := m.service + "/" + serviceHost(address)
	cl, err := m.login()
	if err != nil {
		return nil, err
	}
	defer cl.Destroy()
	tkt, key, err := cl.GetServiceTicket(spn)
	if err != nil {
		return nil, fmt.Errorf("service ticket for %s@%s: %w", spn, m.realm, err)
	}
	tok, err := spnego.NewKRB5TokenAPREQ(cl, tkt, key, []int{gssapi.ContextFlagInteg, gssapi.ContextFlagConf}, []int{})
	if err != nil {
		return nil, fmt.Errorf("AP-REQ for %s: %w", spn, err)
	}
	apreq, err := tok.Marshal()
	if err != nil {
		return nil, fmt.Errorf("AP-REQ for %s: %w", spn, err)
	}
	return &gssapiExchange{apreq: apreq, key: key, spn: spn}, nil
}

// serviceHost is the host part of the server's principal: the address's host,
// an IP address replaced by its name, as ZooKeeper's client canonicalizes it.
func serviceHost(address string) string {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	if net.ParseIP(host) != nil {
		if names, err := net.LookupAddr(host); err == nil && len(names) > 0 {
			host = strings.TrimSuffix(names[0], ".")
		}
	}
	return strings.ToLower(host)
}

type gssapiExchange struct {
	apreq []byte
	key   types.EncryptionKey
	spn   string
	step  int
}

// Security layers (RFC 4752 section 3.3).
const (
	layerNone = 1
)

func (e *gssapiExchange) Step(challenge []byte) ([]byte, bool, error) {
	e.step++
	if e.step == 1 {
		return e.apreq, false, nil
	}
	if e.step > 4 {
		return nil, true, errors.New("GSSAPI: the server sent more tokens than the exchange has")
	}
	// A CFX wrap token starts 0x05 0x04 (RFC 4121 4.2.6.2); anything else here
	// is the AP-REP of a mutual authentication, answered with an empty token.
	if len(challenge) < 2 || challenge[0] != 0x05 || challenge[1] != 0x04 {
		return []byte{}, false, nil
	}
	var wt gssapi.WrapToken
	if err := wt.Unmarshal(challenge, true); err != nil {
		return nil, true, fmt.Errorf("GSSAPI: the server's security layer token: %w", err)
	}
	if ok, err := wt.Verify(e.key, keyusage.GSSAPI_ACCEPTOR_SEAL); !ok {
		return nil, true, fmt.Errorf("GSSAPI: the server's token does not verify with the session key for %s: it is not that service: %w", e.spn, err)
	}
	if len(wt.Payload) != 4 {
		return nil, true, fmt.Errorf("GSSAPI: the server's security layer offer has %d bytes, want 4", len(wt.Payload))
	}
	if wt.Payload[0]&layerNone == 0 {
		return nil, true, fmt.Errorf("GSSAPI: the server offers security layers %#x and not \"none\"; set the server's quality of protection to auth", wt.Payload[0])
	}
	// No security layer, no receive buffer, no authorization ID (the server
	// uses the authenticated principal).
	reply, err := gssapi.NewInitiatorWrapToken([]byte{layerNone, 0, 0, 0}, e.key)
	if err != nil {
		return nil, true, fmt.Errorf("GSSAPI: %w", err)
	}
	b, err := reply.Marshal()
	if err != nil {
		return nil, true, fmt.Errorf("GSSAPI: %w", err)
	}
	return b, true, nil
}
