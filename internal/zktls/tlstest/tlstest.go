// Package tlstest generates the certificates a test needs for TLS (to ZooKeeper,
// between amkeeper's processes, on REST): a CA, a server certificate for
// 127.0.0.1 and localhost, a client certificate, and a second CA that signed
// neither. Files are PEM, written 0600 into a directory of the test's; nothing
// is checked in.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Files are the PEM files Generate wrote.
type Files struct {
	CA       string // the CA certificate: the trust store of server and client
	Server   string // the server's certificate and unencrypted key (CN zookeeper)
	Client   string // the client's certificate and unencrypted key (CN amkeeper-client)
	OtherCA  string // a CA that signed neither certificate: a wrong trust store
	ClientCN string
}

// Generate writes fresh certificates into dir (created if missing).
func Generate(t testing.TB, dir string) Files {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	f := Files{
		CA: filepath.Join(dir, "ca.pem"), Server: filepath.Join(dir, "server.pem"),
		Client: filepath.Join(dir, "client.pem"), OtherCA: filepath.Join(dir, "other-ca.pem"),
		ClientCN: "amkeeper-client",
	}
	ca, caKey := newCA(t, "amkeeper test CA")
	other, _ := newCA(t, "some other CA")
	write(t, f.CA, certPEM(ca))
	write(t, f.OtherCA, certPEM(other))
	write(t, f.Server, leaf(t, ca, caKey, "zookeeper", true))
	write(t, f.Client, leaf(t, ca, caKey, f.ClientCN, false))
	return f
}

func nextSerial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newCA(t testing.TB, cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(t), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

// leaf returns a certificate signed by ca and its PKCS#8 key, PEM, in one file.
// Both usages are allowed on every certificate: ZooKeeper's trust manager checks
// them per side.
func leaf(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, server bool) []byte {
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(t), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})...)
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func write(t testing.TB, path string, data []byte) {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
