package zkclient

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDigestMD5RFC2831Example runs the example exchange of RFC 2831 section 4:
// user chris, password secret, the server's nonce and the client's cnonce given
// there; the response and the server's rspauth must be the RFC's.
func TestDigestMD5RFC2831Example(t *testing.T) {
	e := &digestExchange{m: DigestMD5{User: "chris", Password: "secret"}, uri: "imap/elwood.innosoft.com", cnonc: "OA6MHXh6VqTrRk"}
	tok, done, err := e.Step(nil)
	require.NoError(t, err)
	require.False(t, done)
	require.Empty(t, tok)

	challenge := `realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8`
	tok, done, err = e.Step([]byte(challenge))
	require.NoError(t, err)
	require.False(t, done)
	dir, err := parseDirectives(string(tok))
	require.NoError(t, err)
	require.Equal(t, "d388dad90d4bbd760a152321f2143af7", dir["response"])
	require.Equal(t, "chris", dir["username"])
	require.Equal(t, "elwood.innosoft.com", dir["realm"])
	require.Equal(t, "00000001", dir["nc"])
	require.Equal(t, "auth", dir["qop"])
	require.Equal(t, "imap/elwood.innosoft.com", dir["digest-uri"])

	tok, done, err = e.Step([]byte("rspauth=ea40f60335c427b5527b84dbabcdfffd"))
	require.NoError(t, err)
	require.True(t, done)
	require.Nil(t, tok)
}

// TestDigestMD5RefusesAServerWithoutThePassword: a wrong rspauth (a server that
// does not know the password) fails the exchange.
func TestDigestMD5RefusesAServerWithoutThePassword(t *testing.T) {
	e := &digestExchange{m: DigestMD5{User: "chris", Password: "secret"}, uri: "imap/elwood.innosoft.com", cnonc: "OA6MHXh6VqTrRk"}
	_, _, _ = e.Step(nil)
	_, _, err := e.Step([]byte(`realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8`))
	require.NoError(t, err)
	_, _, err = e.Step([]byte("rspauth=00000000000000000000000000000000"))
	require.ErrorContains(t, err, "rspauth is wrong")
}

func TestDigestMD5ChallengeProblems(t *testing.T) {
	for challenge, want := range map[string]string{
		`nonce="n",qop="auth-conf",algorithm=md5-sess`: `only auth is supported`,
		`nonce="n",algorithm=md5`:                      `want md5-sess`,
		`realm="r",algorithm=md5-sess`:                 `without a nonce`,
		`nonce="n,algorithm=md5-sess`:                  `unterminated`,
	} {
		e := &digestExchange{m: DigestMD5{User: "u", Password: "p"}, uri: digestURI}
		_, _, _ = e.Step(nil)
		_, _, err := e.Step([]byte(challenge))
		require.ErrorContains(t, err, want, challenge)
		require.False(t, strings.Contains(err.Error(), `"p"`))
	}
}
