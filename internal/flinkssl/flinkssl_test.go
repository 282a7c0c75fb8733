package flinkssl_test

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/flinkssl"
	"github.com/amkeeper/amkeeper/internal/zktls"
	"github.com/amkeeper/amkeeper/internal/zktls/tlstest"
)

func load(t *testing.T, dynamic ...string) *conf.Config {
	t.Helper()
	c, err := conf.Load(conf.Options{Dynamic: dynamic, LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	return c
}

func internal(t *testing.T, key, trust string) *flinkssl.Side {
	t.Helper()
	s, err := flinkssl.Internal(load(t, "security.ssl.internal.enabled=true",
		"security.ssl.internal.keystore="+key, "security.ssl.internal.truststore="+trust))
	require.NoError(t, err)
	return s
}

// serve serves 200 OK over side's server configuration; it returns the URL.
func serve(t *testing.T, side *flinkssl.Side) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = side.Server
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestOffAndIncomplete: a family that is off gives nil (plain HTTP); an
// enabled one needs both stores, the error naming the missing key; a Java key
// store is refused with the command that converts it.
func TestOffAndIncomplete(t *testing.T) {
	s, err := flinkssl.Internal(load(t))
	require.NoError(t, err)
	assert.Nil(t, s)
	assert.Equal(t, "http", s.Scheme())
	s, err = flinkssl.REST(load(t, "security.ssl.rest.keystore=/nonexistent.pem"))
	require.NoError(t, err)
	assert.Nil(t, s)

	_, err = flinkssl.REST(load(t, "security.ssl.rest.enabled=true", "security.ssl.rest.keystore=/k.pem"))
	require.EqualError(t, err, "security.ssl.rest.enabled is true but security.ssl.rest.truststore is not set: give the PEM file (absolute path)")

	jks := filepath.Join(t.TempDir(), "tm.jks")
	require.NoError(t, os.WriteFile(jks, []byte{0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2}, 0o600))
	_, err = flinkssl.Internal(load(t, "security.ssl.internal.enabled=true",
		"security.ssl.internal.keystore="+jks, "security.ssl.internal.truststore=/ca.pem"))
	require.ErrorIs(t, err, zktls.ErrJavaStore)
	assert.Contains(t, err.Error(), "security.ssl.internal.enabled: zktls: security.ssl.internal.keystore "+jks+" is JKS")
	assert.Contains(t, err.Error(), "and set security.ssl.internal.keystore to the PEM file")
	assert.NotContains(t, err.Error(), ".type", "Flink's keys have no type key beside them")
}

// TestInternalIsMutual: both sides present the key store's certificate and
// verify the other's against the trust store. A server of another CA, a client
// of another CA and a plain client are refused, and the client's error says
// which store to look at.
func TestInternalIsMutual(t *testing.T) {
	ours := tlstest.Generate(t, filepath.Join(t.TempDir(), "ours"))
	theirs := tlstest.Generate(t, filepath.Join(t.TempDir(), "theirs"))
	side := internal(t, ours.Server, ours.CA)
	assert.Equal(t, "https", side.Scheme())
	url := serve(t, side)

	resp, err := side.HTTPClient(5 * time.Second).Get(url)
	require.NoError(t, err, "same CA, both ways")
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	_, err = internal(t, theirs.Client, ours.CA).HTTPClient(5 * time.Second).Get(url)
	require.ErrorContains(t, err, "remote error: tls: unknown certificate authority (the server refused the handshake: "+
		"it wants a client certificate signed by a CA it trusts; this side presents security.ssl.internal.keystore)", "a client certificate of another CA")
	var te *flinkssl.TLSError
	require.ErrorAs(t, err, &te)

	_, err = internal(t, ours.Client, theirs.CA).HTTPClient(5 * time.Second).Get(url)
	require.ErrorContains(t, err, "(the server's certificate is not signed by a CA in security.ssl.internal.truststore)")
	require.ErrorAs(t, err, &te)

	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer plain.Close()
	_, err = side.HTTPClient(5 * time.Second).Get("https://" + plain.Listener.Addr().String())
	require.ErrorContains(t, err, "(the server does not speak TLS on this port: is TLS enabled on both sides?)")

	// A client presenting no certificate gets no further than the handshake.
	conn, err := tls.Dial("tcp", url[len("https://"):], &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the server is the one tested
	if err == nil {
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	var nerr net.Error
	require.Error(t, err)
	require.False(t, errors.As(err, &nerr) && nerr.Timeout(), "refused, not timed out: %v", err)
	assert.Contains(t, err.Error(), "tls: certificate required")
}

// TestRESTVerifiesTheHost: a REST client checks that the endpoint's
// certificate names the host; it presents a certificate only with
// authentication-enabled.
func TestRESTVerifiesTheHost(t *testing.T) {
	certs := tlstest.Generate(t, t.TempDir())
	rest := func(auth string, key string) *flinkssl.Side {
		s, err := flinkssl.REST(load(t, "security.ssl.rest.enabled=true", "security.ssl.rest.authentication-enabled="+auth,
			"security.ssl.rest.keystore="+key, "security.ssl.rest.truststore="+certs.CA))
		require.NoError(t, err)
		return s
	}
	server := rest("false", certs.Server)
	assert.False(t, server.ClientAuth)
	assert.Empty(t, server.Client.Certificates)
	assert.Equal(t, tls.NoClientCert, server.Server.ClientAuth)
	url := serve(t, server)
	resp, err := server.HTTPClient(5 * time.Second).Get(url)
	require.NoError(t, err)
	resp.Body.Close()

	resp, err = rest("false", certs.Client).HTTPClient(5 * time.Second).Get(url)
	require.NoError(t, err, "the client presents nothing: any key store will do")
	resp.Body.Close()
	// The client certificate names no host: served as the endpoint's, a client refuses it.
	unnamed := serve(t, rest("false", certs.Client))
	_, err = server.HTTPClient(5 * time.Second).Get(unnamed)
	require.ErrorContains(t, err, "(the server's certificate does not name this host)")
	auth := rest("true", certs.Server)
	assert.Equal(t, tls.RequireAndVerifyClientCert, auth.Server.ClientAuth)
	require.Len(t, auth.Client.Certificates, 1)
}
