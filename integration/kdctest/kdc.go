package kdctest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Realm is the realm every KDC of this package serves.
const Realm = "AMKEEPER.TEST"

// enctypes are understood by MIT Kerberos, Java 17 and gokrb5 alike.
const enctypes = "aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96"

// KDC is a running krb5kdc with its realm's files.
type KDC struct {
	t    testing.TB
	dir  string
	port int
	env  []string
}

// Krb5Conf returns the krb5.conf clients of the realm use (KRB5_CONFIG, Java's
// -Djava.security.krb5.conf).
func (k *KDC) Krb5Conf() string { return filepath.Join(k.dir, "krb5.conf") }

// Addr returns the KDC's address, 127.0.0.1:port.
func (k *KDC) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(k.port)) }

// tool finds an MIT Kerberos program.
func tool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin"} {
		if p := filepath.Join(dir, name); isExec(p) {
			return p
		}
	}
	t.Fatalf("kdctest: %s not found: run scripts/install-deps (Debian packages krb5-kdc, krb5-admin-server, krb5-user)", name)
	return ""
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// Start creates the realm and starts its KDC.
func Start(t testing.TB) *KDC {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	k := &KDC{t: t, dir: dir, port: port}
	krb5 := fmt.Sprintf(`[libdefaults]
 default_realm = %[1]s
 dns_lookup_realm = false
 dns_lookup_kdc = false
 rdns = false
 udp_preference_limit = 1
 default_tkt_enctypes = %[3]s
 default_tgs_enctypes = %[3]s
 permitted_enctypes = %[3]s

[realms]
 %[1]s = {
  kdc = 127.0.0.1:%[2]d
 }
`, Realm, port, enctypes)
	kdc := fmt.Sprintf(`[kdcdefaults]
 kdc_ports = %[2]d
 kdc_tcp_ports = %[2]d

[realms]
 %[1]s = {
  database_name = %[3]s/principal
  key_stash_file = %[3]s/stash
  acl_file = %[3]s/kadm5.acl
  max_life = 1h
  max_renewable_life = 1h
  supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
 }

[logging]
 kdc = FILE:%[3]s/kdc.log
`, Realm, port, dir)
	for name, content := range map[string]string{"krb5.conf": krb5, "kdc.conf": kdc, "kadm5.acl": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	k.env = append(os.Environ(), "KRB5_CONFIG="+k.Krb5Conf(), "KRB5_KDC_PROFILE="+filepath.Join(dir, "kdc.conf"))
	k.run(tool(t, "kdb5_util"), "create", "-s", "-r", Realm, "-P", "kdctest-master-"+strconv.Itoa(port))

	cmd := exec.Command(tool(t, "krb5kdc"), "-n", "-r", Realm)
	cmd.Env = k.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatalf("kdctest: start krb5kdc: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "kdc.log"))
			t.Logf("kdctest: krb5kdc output:\n%s\nkdc.log:\n%s", out.String(), log)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if c, err := net.DialTimeout("tcp", k.Addr(), time.Second); err == nil {
			c.Close()
			return k
		}
		select {
		case <-exited:
			t.Fatalf("kdctest: krb5kdc exited while starting: %s", out.String())
		case <-ctx.Done():
			t.Fatalf("kdctest: krb5kdc not listening on %s after 20s: %s", k.Addr(), out.String())
		case <-tick.C:
		}
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	// The KDC listens on UDP and TCP: a port free for both.
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("kdctest: no port free for both TCP and UDP")
	return 0
}

func (k *KDC) run(name string, args ...string) string {
	k.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = k.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		k.t.Fatalf("kdctest: %s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (k *KDC) kadmin(query string) {
	k.t.Helper()
	k.run(tool(k.t, "kadmin.local"), "-r", Realm, "-q", query)
}

// AddKeytab creates principal (without the realm: "zookeeper/localhost") with
// a random key and returns a new keytab (0600) holding it.
func (k *KDC) AddKeytab(principal string) string {
	k.t.Helper()
	k.kadmin("addprinc -randkey " + principal)
	kt := filepath.Join(k.dir, strings.NewReplacer("/", "_", "@", "_").Replace(principal)+".keytab")
	k.kadmin("ktadd -k " + kt + " " + principal)
	return kt
}

// AddPassword creates principal with a password (for kinit). The password goes
// through kadmin.local's argv: a throwaway realm's only.
func (k *KDC) AddPassword(principal, password string) {
	k.t.Helper()
	k.kadmin(fmt.Sprintf("addprinc -pw %s %s", password, principal))
}

// Kinit gets principal's tickets into a new ticket cache file with kinit and
// returns its path.
func (k *KDC) Kinit(principal, password string) string {
	k.t.Helper()
	cache := filepath.Join(k.t.TempDir(), "krb5cc")
	cmd := exec.Command(tool(k.t, "kinit"), "-c", "FILE:"+cache, principal+"@"+Realm)
	cmd.Env = k.env
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		k.t.Fatalf("kdctest: kinit %s: %v\n%s", principal, err, out)
	}
	return cache
}

// Remove deletes principal from the realm: its keytabs and tickets stop working
// for new logins.
func (k *KDC) Remove(principal string) {
	k.t.Helper()
	k.kadmin("delprinc -force " + principal)
}
