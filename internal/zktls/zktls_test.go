package zktls_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/zktls"
	"github.com/amkeeper/amkeeper/internal/zktls/tlstest"
)

const (
	keyKey   = "zookeeper.ssl.keyStore.location"
	trustKey = "zookeeper.ssl.trustStore.location"
)

// TestJavaStoresRefusedWithConversion: a JKS or PKCS12 store, by its type, its
// file name or its first bytes, is refused with ErrJavaStore, the key, the file
// and the command that converts it.
func TestJavaStoresRefusedWithConversion(t *testing.T) {
	dir := t.TempDir()
	jks := filepath.Join(dir, "client.jks")
	require.NoError(t, os.WriteFile(jks, []byte{0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2}, 0o600))
	disguised := filepath.Join(dir, "keystore") // JKS bytes, no telling name
	require.NoError(t, os.WriteFile(disguised, []byte{0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2}, 0o600))
	p12 := filepath.Join(dir, "trust.p12")
	require.NoError(t, os.WriteFile(p12, []byte{0x30, 0x82, 0x01, 0x00}, 0o600))
	der := filepath.Join(dir, "truststore.bin") // DER bytes: PKCS12
	require.NoError(t, os.WriteFile(der, []byte{0x30, 0x82, 0x01, 0x00}, 0o600))

	for _, tc := range []struct {
		name string
		cfg  zktls.Config
		want []string
	}{
		{"jks by name", zktls.Config{KeyStore: zktls.Store{Key: keyKey, Location: jks}},
			[]string{keyKey + " " + jks + " is JKS", "keytool -importkeystore -srckeystore " + jks, "zookeeper.ssl.keyStore.type: PEM"}},
		{"jks by type", zktls.Config{KeyStore: zktls.Store{Key: keyKey, Location: filepath.Join(dir, "missing.pem"), Type: "jks"}},
			[]string{"is JKS", "keytool -importkeystore"}},
		{"jks by bytes", zktls.Config{KeyStore: zktls.Store{Key: keyKey, Location: disguised}},
			[]string{disguised + " is JKS", "keytool -importkeystore"}},
		{"pkcs12 trust store by name", zktls.Config{TrustStore: zktls.Store{Key: trustKey, Location: p12}},
			[]string{trustKey + " " + p12 + " is PKCS12", "openssl pkcs12 -in " + p12 + " -nokeys -out " + strings.TrimSuffix(p12, ".p12") + ".pem"}},
		{"pkcs12 trust store by bytes", zktls.Config{TrustStore: zktls.Store{Key: trustKey, Location: der}},
			[]string{"is PKCS12", "openssl pkcs12 -in " + der + " -nokeys"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.TLS()
			require.ErrorIs(t, err, zktls.ErrJavaStore)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

// TestEncryptedKeyRefused: an encrypted PEM key is refused with the command that
// decrypts it (Go's TLS reads unencrypted keys only).
func TestEncryptedKeyRefused(t *testing.T) {
	certs := tlstest.Generate(t, t.TempDir())
	data, err := os.ReadFile(certs.Client)
	require.NoError(t, err)
	block, _ := pem.Decode(data) // the certificate
	enc := append(pem.EncodeToMemory(block), pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0}})...)
	path := filepath.Join(t.TempDir(), "client.pem")
	require.NoError(t, os.WriteFile(path, enc, 0o600))
	_, err = zktls.Config{KeyStore: zktls.Store{Key: keyKey, Location: path}}.TLS()
	require.ErrorContains(t, err, keyKey+" "+path+": the private key is encrypted")
	require.ErrorContains(t, err, "openssl pkey -in "+path)
}

// TestPEMStoresAndDialer: PEM stores load; the dialer completes the handshake
// against a server with the CA's certificate, names the trust store when the CA
// is wrong, and checks the host name unless told not to.
func TestPEMStoresAndDialer(t *testing.T) {
	certs := tlstest.Generate(t, t.TempDir())
	srv, err := zktls.LoadKeyStore(zktls.Store{Key: "server", Location: certs.Server})
	require.NoError(t, err)
	pool, err := zktls.LoadTrustStore(zktls.Store{Key: "ca", Location: certs.CA})
	require.NoError(t, err)

	peers := make(chan string, 8)
	listen := func(host string) string {
		ln, err := tls.Listen("tcp", host+":0", &tls.Config{Certificates: []tls.Certificate{srv},
			ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
		require.NoError(t, err)
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					tc := c.(*tls.Conn)
					if tc.Handshake() == nil {
						peers <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
					}
				}()
			}
		}()
		return ln.Addr().String()
	}
	addr := listen("127.0.0.1")

	good := zktls.Config{
		KeyStore:             zktls.Store{Key: keyKey, Location: certs.Client},
		TrustStore:           zktls.Store{Key: trustKey, Location: certs.CA},
		HostnameVerification: true,
	}
	tc, err := good.TLS()
	require.NoError(t, err)
	conn, err := zktls.Dialer(tc)("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	conn.Close()
	require.Equal(t, certs.ClientCN, <-peers, "the server saw the client certificate")

	wrong := good
	wrong.TrustStore.Location = certs.OtherCA
	tc, err = wrong.TLS()
	require.NoError(t, err)
	_, err = zktls.Dialer(tc)("tcp", addr, 5*time.Second)
	var unknown x509.UnknownAuthorityError
	require.True(t, errors.As(err, &unknown), "%v", err)
	require.ErrorContains(t, err, "not signed by a CA in zookeeper.ssl.trustStore.location")

	// The certificate names 127.0.0.1 and localhost, not 127.0.0.2.
	byName := listen("127.0.0.2")
	tc, err = good.TLS()
	require.NoError(t, err)
	if _, err = zktls.Dialer(tc)("tcp", byName, 5*time.Second); err == nil || !strings.Contains(err.Error(), "does not name this host") {
		t.Fatalf("dial %s: want a host name error, got %v", byName, err)
	}
	lax := good
	lax.HostnameVerification = false
	tc, err = lax.TLS()
	require.NoError(t, err)
	conn, err = zktls.Dialer(tc)("tcp", byName, 5*time.Second)
	require.NoError(t, err, "without hostname verification the chain alone is checked")
	conn.Close()
	lax.TrustStore.Location = certs.OtherCA
	tc, err = lax.TLS()
	require.NoError(t, err)
	_, err = zktls.Dialer(tc)("tcp", byName, 5*time.Second)
	require.True(t, errors.As(err, &unknown), "without hostname verification the chain is still verified: %v", err)
}
