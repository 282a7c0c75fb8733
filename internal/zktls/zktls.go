package zktls

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrJavaStore is wrapped by the error for a store Go cannot read: a JKS, PKCS12
// or BCFKS file. The message says how to convert it to PEM.
var ErrJavaStore = errors.New("zktls: a Java key store, which Go cannot read")

// The store types ZooKeeper's X509Util knows (zookeeper.ssl.keyStore.type).
const (
	TypePEM    = "PEM"
	TypeJKS    = "JKS"
	TypePKCS12 = "PKCS12"
	TypeBCFKS  = "BCFKS"
)

// Store names one key store or trust store.
type Store struct {
	// Key is the configuration key that named Location, for messages
	// (zookeeper.ssl.keyStore.location).
	Key string
	// Location is the file; "" means none.
	Location string
	// Type is PEM, JKS, PKCS12 or BCFKS (any case); "" infers it from the file
	// name as ZooKeeper does (.jks, .p12/.pfx, .bcfks; anything else is read as PEM).
	Type string
}

// Config is a TLS client configuration for ZooKeeper.
type Config struct {
	// KeyStore holds the client's certificate chain and private key; without one
	// the client presents no certificate (a server with ssl.clientAuth=need
	// refuses it).
	KeyStore Store
	// TrustStore holds the CA certificates the server's certificate must chain
	// to; without one, the system's roots.
	TrustStore Store
	// HostnameVerification makes the server's certificate name the host dialed
	// (zookeeper.ssl.hostnameVerification, default true in ZooKeeper).
	HostnameVerification bool
}

// TLS reads the stores and returns the configuration to dial with.
func (c Config) TLS() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.KeyStore.Location != "" {
		cert, err := LoadKeyStore(c.KeyStore)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if c.TrustStore.Location != "" {
		pool, err := LoadTrustStore(c.TrustStore)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	if !c.HostnameVerification {
		VerifyChainOnly(tc)
	}
	return tc, nil
}

// VerifyChainOnly makes tc verify the server's certificate chain against
// tc.RootCAs (nil: the system's) without checking that it names the host dialed.
// Go verifies the chain and the name together; InsecureSkipVerify only turns the
// built-in check off, and VerifyConnection does the chain here.
func VerifyChainOnly(tc *tls.Config) {
	roots := tc.RootCAs
	tc.InsecureSkipVerify = true
	tc.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("zktls: the server presented no certificate")
		}
		inter := x509.NewCertPool()
		for _, ic := range cs.PeerCertificates[1:] {
			inter.AddCert(ic)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
		return err
	}
}

// storeType returns the store's type in ZooKeeper's spelling, inferring it from
// the file name when it is not given.
func storeType(s Store) (string, error) {
	switch t := strings.ToUpper(strings.TrimSpace(s.Type)); t {
	case TypePEM, TypeJKS, TypePKCS12, TypeBCFKS:
		return t, nil
	case "":
	default:
		return "", fmt.Errorf("zktls: %s: type %q: want PEM (amkeeper reads PEM stores only)", typeKey(s.Key), s.Type)
	}
	switch strings.ToLower(filepath.Ext(s.Location)) {
	case ".jks":
		return TypeJKS, nil
	case ".p12", ".pfx":
		return TypePKCS12, nil
	case ".bcfks":
		return TypeBCFKS, nil
	}
	return TypePEM, nil
}

// typeKey turns …Store.location into …Store.type for messages.
func typeKey(locationKey string) string {
	return strings.TrimSuffix(locationKey, ".location") + ".type"
}

// readPEM reads a store that must be PEM, refusing Java stores with the command
// that converts them.
func readPEM(s Store, trust bool) ([]byte, error) {
	typ, err := storeType(s)
	if err != nil {
		return nil, err
	}
	if typ != TypePEM {
		return nil, javaStoreError(s, typ, trust)
	}
	data, err := os.ReadFile(s.Location)
	if err != nil {
		return nil, fmt.Errorf("zktls: %s %s: %w", s.Key, s.Location, err)
	}
	if !bytes.Contains(data, []byte("-----BEGIN ")) {
		switch {
		case bytes.HasPrefix(data, []byte{0xfe, 0xed, 0xfe, 0xed}):
			return nil, javaStoreError(s, TypeJKS, trust)
		case len(data) > 0 && data[0] == 0x30: // a DER SEQUENCE: PKCS12 (or BCFKS)
			return nil, javaStoreError(s, TypePKCS12, trust)
		}
		want := "PEM certificates and their unencrypted private key"
		if trust {
			want = "PEM CA certificates"
		}
		return nil, fmt.Errorf("zktls: %s %s: no PEM block in the file: want %s", s.Key, s.Location, want)
	}
	return data, nil
}

func javaStoreError(s Store, typ string, trust bool) error {
	base := strings.TrimSuffix(s.Location, filepath.Ext(s.Location))
	var how string
	switch {
	case trust && typ == TypePKCS12:
		how = fmt.Sprintf("openssl pkcs12 -in %s -nokeys -out %s.pem", s.Location, base)
	case trust:
		how = fmt.Sprintf("keytool -exportcert -rfc -keystore %s -alias <alias> -file %s.pem (keytool -list -keystore %s shows the aliases)",
			s.Location, base, s.Location)
	case typ == TypePKCS12:
		how = fmt.Sprintf("openssl pkcs12 -in %s -nodes -out %s.pem && chmod 600 %s.pem", s.Location, base, base)
	default:
		how = fmt.Sprintf("keytool -importkeystore -srckeystore %s -destkeystore %s.p12 -deststoretype PKCS12, then openssl pkcs12 -in %s.p12 -nodes -out %s.pem && chmod 600 %s.pem",
			s.Location, base, base, base, base)
	}
	set := "set " + s.Key + " to the PEM file"
	if strings.HasSuffix(s.Key, ".location") { // ZooKeeper's keys have a .type beside them
		set += " and " + typeKey(s.Key) + ": PEM"
	}
	return fmt.Errorf("zktls: %s %s is %s: %w; convert it to PEM: %s, and %s", s.Key, s.Location, typ, ErrJavaStore, how, set)
}

// LoadKeyStore reads a PEM key store: the certificate chain and the unencrypted
// private key, in one file.
func LoadKeyStore(s Store) (tls.Certificate, error) {
	data, err := readPEM(s, false)
	if err != nil {
		return tls.Certificate{}, err
	}
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] == "4,ENCRYPTED" {
			return tls.Certificate{}, fmt.Errorf("zktls: %s %s: the private key is encrypted, which amkeeper does not read: "+
				"decrypt it (openssl pkey -in %s -out key.pem), put the certificates and the decrypted key in one file readable only by its owner (chmod 600), and name that file",
				s.Key, s.Location, s.Location)
		}
	}
	cert, err := tls.X509KeyPair(data, data)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("zktls: %s %s: want PEM certificates and their unencrypted private key in one file: %w",
			s.Key, s.Location, err)
	}
	return cert, nil
}

// LoadTrustStore reads a PEM trust store: one or more CA certificates.
func LoadTrustStore(s Store) (*x509.CertPool, error) {
	data, err := readPEM(s, true)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("zktls: %s %s: no CERTIFICATE block in the file", s.Key, s.Location)
	}
	return pool, nil
}

// Identity is the subject of the client certificate tc presents, as ZooKeeper's
// x509 authentication provider names it ("CN=…", RFC 2253), or "" when tc has
// none. ZooKeeper adds x509:<Identity> to every connection's identities, so a
// node created with the "auth" ACL under TLS and SASL carries both.
func Identity(tc *tls.Config) string {
	if tc == nil || len(tc.Certificates) == 0 || len(tc.Certificates[0].Certificate) == 0 {
		return ""
	}
	leaf := tc.Certificates[0].Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(tc.Certificates[0].Certificate[0]); err != nil {
			return ""
		}
	}
	return leaf.Subject.String()
}

// Dialer returns a dial function of go-zookeeper's zk.Dialer shape that makes TLS
// connections with tc, the handshake done within timeout. With hostname
// verification the host of the address dialed is the name the server's
// certificate must carry.
func Dialer(tc *tls.Config) func(network, address string, timeout time.Duration) (net.Conn, error) {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		cfg := tc.Clone()
		if cfg.ServerName == "" {
			if host, _, err := net.SplitHostPort(address); err == nil {
				cfg.ServerName = host
			}
		}
		ctx := context.Background()
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: cfg}
		conn, err := d.DialContext(ctx, network, address)
		if err != nil {
			return nil, fmt.Errorf("zktls: %s: %w%s", address, err, hint(err))
		}
		return conn, nil
	}
}

// hint says what a failed handshake most likely means.
func hint(err error) string {
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var recordHeader tls.RecordHeaderError
	switch {
	case errors.As(err, &unknown):
		return " (the server's certificate is not signed by a CA in zookeeper.ssl.trustStore.location)"
	case errors.As(err, &hostname):
		return " (the server's certificate does not name this host; fix the certificate or set zookeeper.ssl.hostnameVerification: false)"
	case errors.As(err, &invalid):
		return " (the server's certificate is not valid: expired, not yet valid, or not for a server)"
	case strings.Contains(err.Error(), "remote error: tls:"): // crypto/tls keeps the alert type private
		return " (the server refused the TLS handshake: it needs a client certificate its trust store accepts, zookeeper.ssl.keyStore.location)"
	case errors.As(err, &recordHeader):
		return " (the server does not speak TLS on this port: is it the plain clientPort rather than the secureClientPort?)"
	case errors.Is(err, io.EOF):
		return " (the server closed the connection during the TLS handshake: is this port TLS, the server's secureClientPort?)"
	}
	return ""
}
