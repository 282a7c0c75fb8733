package zkserver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// SASL on the server side. ZooKeeper reads its JAAS configuration from the JVM
// system property java.security.auth.login.config (ZooKeeper's own scripts take
// it from SERVER_JVMFLAGS), and the rest from zoo.cfg: every key zoo.cfg does
// not know becomes a zookeeper.<key> system property, so authProvider.N and
// enforce.auth.* can sit there.

// SASLServer is what a server needs to authenticate clients with SASL: zoo.cfg
// lines and JVM flags (Options.JVMFlags, zktest.WithJVMFlags).
type SASLServer struct {
	JAASFile string   // the server's JAAS file (0600: it holds the users' passwords)
	ZooCfg   []string // lines for zoo.cfg
	JVMFlags []string // -Djava.security.auth.login.config=…, and -D properties zoo.cfg cannot carry
}

// SASL server settings.
const (
	saslProvider = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
	// JAASProperty is the JVM system property naming the JAAS file.
	JAASProperty = "java.security.auth.login.config"
)

// saslLines are the zoo.cfg lines of a SASL server; require refuses every
// request of a connection that has not authenticated with SASL.
func saslLines(require bool) []string {
	lines := []string{"authProvider.sasl=" + saslProvider}
	if require {
		lines = append(lines, "enforce.auth.enabled=true", "enforce.auth.schemes=sasl")
	}
	return lines
}

// WriteSASLDigest writes dir/jaas-server.conf, a JAAS file whose Server section
// lets users (name → password) in with DIGEST-MD5, and returns the server's
// settings. With require set, a client that has not authenticated with SASL is
// refused (enforce.auth.schemes=sasl).
func WriteSASLDigest(dir string, users map[string]string, require bool) (SASLServer, error) {
	if len(users) == 0 {
		return SASLServer{}, errors.New("zkserver: sasl digest: no users")
	}
	names := make([]string, 0, len(users))
	for u := range users {
		if u == "" || strings.ContainsAny(u, " \t\r\n\"=;{}") {
			return SASLServer{}, fmt.Errorf("zkserver: sasl digest: user name %q: want a name without spaces, quotes or JAAS punctuation", u)
		}
		if strings.ContainsAny(users[u], "\"\r\n") {
			return SASLServer{}, fmt.Errorf("zkserver: sasl digest: the password of %s contains a quote or a line break, which a JAAS file cannot hold", u)
		}
		names = append(names, u)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required")
	for _, u := range names {
		fmt.Fprintf(&b, "\n  user_%s=\"%s\"", u, users[u])
	}
	b.WriteString(";\n};\n")
	return writeJAAS(dir, b.String(), saslLines(require))
}

func writeJAAS(dir, content string, lines []string) (SASLServer, error) {
	path := filepath.Join(dir, "jaas-server.conf")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return SASLServer{}, fmt.Errorf("zkserver: sasl: %w", err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return SASLServer{}, fmt.Errorf("zkserver: sasl: %w", err)
	}
	return SASLServer{JAASFile: path, ZooCfg: lines, JVMFlags: []string{"-D" + JAASProperty + "=" + path}}, nil
}

// WriteSASLKerberos writes dir/jaas-server.conf, a JAAS file whose Server
// section logs the server in as principal (zookeeper/<host>@REALM) from keytab,
// and returns the server's settings: GSSAPI clients are let in, with the
// Kerberos configuration krb5Conf (the JVM's java.security.krb5.conf). With
// require set, a client that has not authenticated with SASL is refused.
func WriteSASLKerberos(dir, keytab, principal, krb5Conf string, require bool) (SASLServer, error) {
	for name, v := range map[string]string{"keytab": keytab, "principal": principal, "krb5.conf": krb5Conf} {
		if v == "" || strings.ContainsAny(v, "\"\r\n") {
			return SASLServer{}, fmt.Errorf("zkserver: sasl kerberos: %s %q: want a non-empty value without quotes or line breaks", name, v)
		}
	}
	content := fmt.Sprintf(`Server {
  com.sun.security.auth.module.Krb5LoginModule required
  useKeyTab=true
  keyTab="%s"
  storeKey=true
  useTicketCache=false
  principal="%s";
};
`, keytab, principal)
	s, err := writeJAAS(dir, content, saslLines(require))
	if err != nil {
		return s, err
	}
	s.JVMFlags = append(s.JVMFlags, "-Djava.security.krb5.conf="+krb5Conf)
	return s, nil
}
