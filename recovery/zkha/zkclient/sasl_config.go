package zkclient

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// SASLConfig says how a Client authenticates with SASL, in the terms of
// ZooKeeper's Java client: a JAAS login context (the section of a JAAS file)
// whose login module decides the mechanism — DigestLoginModule gives DIGEST-MD5
// with its username and password, Krb5LoginModule gives GSSAPI (Kerberos) with
// its principal and keytab or ticket cache — or a Kerberos login given directly
// (Flink's security.kerberos.login.* keys).
type SASLConfig struct {
	// LoginContext names the JAAS section (default DefaultLoginContext).
	LoginContext string
	// JAASFile is the JAAS file holding LoginContext's section; read on Connect.
	// It must not be readable by group or others when it holds a password.
	JAASFile string
	// Kerberos, when set, is the login for GSSAPI and JAASFile is not read.
	Kerberos *KerberosLogin
	// ServiceName is the Kerberos service of the servers (default
	// DefaultSASLService): a server at host:port is <ServiceName>/<host>.
	ServiceName string
	// Krb5Conf is the Kerberos configuration for a JAAS Krb5LoginModule login
	// (default $KRB5_CONFIG, else /etc/krb5.conf); Kerberos has its own.
	Krb5Conf string
}

// Defaults of SASLConfig, as in ZooKeeper's client (zookeeper.sasl.clientconfig,
// zookeeper.sasl.client.username).
const (
	DefaultLoginContext = "Client"
	DefaultSASLService  = "zookeeper"
)

// KerberosLogin is a Kerberos client login: a keytab, or a ticket cache.
type KerberosLogin struct {
	// Principal is the client principal, user[/host]@REALM. With a ticket cache
	// it may be empty: the cache's principal is used.
	Principal string
	// Keytab is the keytab file; "" means use the ticket cache.
	Keytab string
	// UseTicketCache allows the ticket cache when there is no keytab.
	UseTicketCache bool
	// TicketCache is the cache file (default $KRB5CCNAME, else /tmp/krb5cc_<uid>).
	TicketCache string
	// Krb5Conf is the Kerberos configuration (default $KRB5_CONFIG, else /etc/krb5.conf).
	Krb5Conf string
}

// JAAS login modules this package understands.
const (
	digestLoginModule = "org.apache.zookeeper.server.auth.DigestLoginModule"
	krb5LoginModule   = "com.sun.security.auth.module.Krb5LoginModule"
)

// mechanism builds the configured mechanism, reading the JAAS file when there
// is one. Errors name the file, the section and what would be valid.
func (s SASLConfig) mechanism() (SASLMechanism, error) {
	if s.LoginContext == "" {
		s.LoginContext = DefaultLoginContext
	}
	if s.ServiceName == "" {
		s.ServiceName = DefaultSASLService
	}
	if s.Kerberos != nil {
		return newGSSAPI(*s.Kerberos, s.ServiceName)
	}
	if s.JAASFile == "" {
		return nil, fmt.Errorf("zkclient: sasl: no JAAS file and no Kerberos login for login context %s", s.LoginContext)
	}
	entries, err := readJAAS(s.JAASFile)
	if err != nil {
		return nil, err
	}
	var sec []jaasModule
	var names []string
	for _, e := range entries {
		names = append(names, e.name)
		if e.name == s.LoginContext {
			sec = e.modules
		}
	}
	if sec == nil {
		return nil, fmt.Errorf("zkclient: sasl: JAAS file %s has no section %s (it has: %s); set zookeeper.sasl.login-context-name to one of them",
			s.JAASFile, s.LoginContext, strings.Join(names, ", "))
	}
	if len(sec) != 1 {
		return nil, fmt.Errorf("zkclient: sasl: JAAS file %s: section %s has %d login modules; want one (%s or %s)",
			s.JAASFile, s.LoginContext, len(sec), digestLoginModule, krb5LoginModule)
	}
	m := sec[0]
	where := fmt.Sprintf("JAAS file %s, section %s", s.JAASFile, s.LoginContext)
	switch m.class {
	case digestLoginModule:
		user, pass := m.options["username"], m.options["password"]
		if user == "" {
			return nil, fmt.Errorf("zkclient: sasl: %s: %s needs username=\"...\"", where, digestLoginModule)
		}
		if _, ok := m.options["password"]; !ok {
			return nil, fmt.Errorf("zkclient: sasl: %s: %s needs password=\"...\"", where, digestLoginModule)
		}
		if err := checkPrivate(s.JAASFile, "it holds a password"); err != nil {
			return nil, err
		}
		return DigestMD5{User: user, Password: pass}, nil
	case krb5LoginModule:
		k := KerberosLogin{Principal: m.options["principal"], TicketCache: m.options["ticketCache"], Krb5Conf: s.Krb5Conf}
		if truthy(m.options["useKeyTab"]) {
			k.Keytab = m.options["keyTab"]
			if k.Keytab == "" {
				return nil, fmt.Errorf("zkclient: sasl: %s: useKeyTab=true needs keyTab=\"/path/to/keytab\"", where)
			}
		}
		k.UseTicketCache = truthy(m.options["useTicketCache"])
		if k.Keytab == "" && !k.UseTicketCache {
			return nil, fmt.Errorf("zkclient: sasl: %s: %s needs useKeyTab=true with keyTab, or useTicketCache=true", where, krb5LoginModule)
		}
		return newGSSAPI(k, s.ServiceName)
	}
	return nil, fmt.Errorf("zkclient: sasl: %s: login module %s is not supported; want %s (DIGEST-MD5) or %s (GSSAPI)",
		where, m.class, digestLoginModule, krb5LoginModule)
}

func truthy(v string) bool { return strings.EqualFold(v, "true") }

// checkPrivate refuses a secret file that group or others can read or write.
func checkPrivate(path, why string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("zkclient: sasl: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("zkclient: sasl: %s is accessible to group or others (mode %04o) and %s: run chmod 600 %s",
			path, perm, why, path)
	}
	return nil
}

// checkOwnCache refuses a ticket cache that is not a regular file of this
// user's, private to it: in a shared directory such as /tmp another user could
// have planted one, and amkeeper would log in, and own its nodes, as them.
func checkOwnCache(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("zkclient: sasl: ticket cache: %w (run kinit, or configure a keytab)", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Errorf("zkclient: sasl: ticket cache %s is not a regular file (%s): remove it and run kinit", path, fi.Mode().Type())
	case ok && int(st.Uid) != os.Geteuid():
		return fmt.Errorf("zkclient: sasl: ticket cache %s belongs to uid %d, not to uid %d running this: remove it and run kinit, or set KRB5CCNAME to a cache of yours",
			path, st.Uid, os.Geteuid())
	}
	return checkPrivate(path, "it holds Kerberos tickets")
}

// jaasEntry is one section of a JAAS file: Name { module flag options; … };
type jaasEntry struct {
	name    string
	modules []jaasModule
}

type jaasModule struct {
	class   string
	flag    string
	options map[string]string
}

// readJAAS parses a JAAS configuration file (the syntax of Java's
// ConfigFile: // and /* */ comments, quoted or bare option values).
func readJAAS(path string) ([]jaasEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("zkclient: sasl: JAAS file: %w", err)
	}
	entries, err := parseJAAS(string(b))
	if err != nil {
		return nil, fmt.Errorf("zkclient: sasl: JAAS file %s: %w", path, err)
	}
	return entries, nil
}

type jaasToken struct {
	text   string
	quoted bool
	line   int
}

// describe names a token for an error without its text, which may be a
// password written in the wrong place: only punctuation is shown.
func (t jaasToken) describe() string {
	switch {
	case t.quoted:
		return "a quoted value"
	case len(t.text) == 1 && strings.ContainsAny(t.text, "{};="):
		return fmt.Sprintf("%q", t.text)
	}
	return "a word"
}

func lexJAAS(s string) ([]jaasToken, error) {
	var out []jaasToken
	line := 1
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case strings.HasPrefix(s[i:], "//"):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case strings.HasPrefix(s[i:], "/*"):
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated /* comment", line)
			}
			line += strings.Count(s[i:i+2+end], "\n")
			i += end + 4
		case c == '{' || c == '}' || c == ';' || c == '=':
			out = append(out, jaasToken{text: string(c), line: line})
			i++
		case c == '"':
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated quoted string", line)
			}
			out = append(out, jaasToken{text: s[i+1 : i+1+end], quoted: true, line: line})
			line += strings.Count(s[i+1:i+1+end], "\n")
			i += end + 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n{};=\"", rune(s[j])) {
				j++
			}
			out = append(out, jaasToken{text: s[i:j], line: line})
			i = j
		}
	}
	return out, nil
}

func parseJAAS(s string) ([]jaasEntry, error) {
	toks, err := lexJAAS(s)
	if err != nil {
		return nil, err
	}
	pos := 0
	next := func() (jaasToken, bool) {
		if pos >= len(toks) {
			return jaasToken{}, false
		}
		pos++
		return toks[pos-1], true
	}
	expect := func(want string) error {
		t, ok := next()
		if !ok {
			return fmt.Errorf("unexpected end of file, want %q", want)
		}
		if t.quoted || t.text != want {
			return fmt.Errorf("line %d: got %s, want %q", t.line, t.describe(), want)
		}
		return nil
	}
	var entries []jaasEntry
	for pos < len(toks) {
		name, _ := next()
		if name.quoted || strings.ContainsAny(name.text, "{};=") {
			return nil, fmt.Errorf("line %d: got %s, want a section name", name.line, name.describe())
		}
		if err := expect("{"); err != nil {
			return nil, err
		}
		e := jaasEntry{name: name.text}
		for {
			t, ok := next()
			if !ok {
				return nil, fmt.Errorf("section %s: unexpected end of file, want }", e.name)
			}
			if !t.quoted && t.text == "}" {
				break
			}
			flag, ok := next()
			if !ok || flag.quoted {
				return nil, fmt.Errorf("line %d: a login module needs a flag (required, requisite, sufficient or optional)", t.line)
			}
			m := jaasModule{class: t.text, flag: flag.text, options: map[string]string{}}
			for {
				k, ok := next()
				if !ok {
					return nil, fmt.Errorf("section %s: unexpected end of file, want ;", e.name)
				}
				if !k.quoted && k.text == ";" {
					break
				}
				if err := expect("="); err != nil {
					return nil, err
				}
				v, ok := next()
				if !ok {
					return nil, fmt.Errorf("line %d: an option has no value", k.line)
				}
				m.options[k.text] = v.text
			}
			e.modules = append(e.modules, m)
		}
		if err := expect(";"); err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// defaultTicketCache is where MIT Kerberos keeps a user's tickets by default.
func defaultTicketCache() string {
	if v := os.Getenv("KRB5CCNAME"); v != "" {
		return strings.TrimPrefix(v, "FILE:")
	}
	return "/tmp/krb5cc_" + strconv.Itoa(os.Getuid())
}

// defaultKrb5Conf is MIT Kerberos's configuration file.
func defaultKrb5Conf() string {
	if v := os.Getenv("KRB5_CONFIG"); v != "" {
		return v
	}
	return "/etc/krb5.conf"
}
