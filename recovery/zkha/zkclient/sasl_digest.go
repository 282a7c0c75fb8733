package zkclient

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// DIGEST-MD5 (RFC 2831), the client side, as ZooKeeper uses it: no initial
// response, qop "auth" only (no integrity or confidentiality layer), the
// digest-uri "zookeeper/zk-sasl-md5" ZooKeeper's server is built with, and the
// server's rspauth checked, so a server that does not know the password cannot
// pass for one that does.

// digestURI is ZooKeeper's: protocol "zookeeper", server name "zk-sasl-md5",
// hard-wired on both sides.
const digestURI = "zookeeper/zk-sasl-md5"

// DigestMD5 authenticates as User with Password (a JAAS DigestLoginModule's
// username and password). The server's identity for the connection is
// sasl:<User>.
type DigestMD5 struct {
	User     string
	Password string // never logged
}

var _ SASLMechanism = DigestMD5{}

// Name implements SASLMechanism.
func (DigestMD5) Name() string { return "DIGEST-MD5" }

// Identity implements SASLMechanism.
func (m DigestMD5) Identity() string { return m.User }

// Start implements SASLMechanism.
func (m DigestMD5) Start(string) (SASLExchange, error) {
	if m.User == "" {
		return nil, errors.New("DIGEST-MD5: no user name")
	}
	return &digestExchange{m: m, uri: digestURI}, nil
}

type digestExchange struct {
	m     DigestMD5
	uri   string // digest-uri
	step  int
	ha1   string // HEX(H(A1)), for rspauth
	nonce string
	cnonc string // set before the challenge only by tests
}

func (e *digestExchange) Step(challenge []byte) ([]byte, bool, error) {
	e.step++
	switch e.step {
	case 1: // no initial response: ZooKeeper's client sends an empty token
		return []byte{}, false, nil
	case 2:
		resp, err := e.respond(challenge)
		return resp, false, err
	case 3:
		return nil, true, e.verify(challenge)
	}
	return nil, true, errors.New("DIGEST-MD5: unexpected challenge after authentication")
}

// respond answers the digest-challenge with a digest-response.
func (e *digestExchange) respond(challenge []byte) ([]byte, error) {
	dir, err := parseDirectives(string(challenge))
	if err != nil {
		return nil, fmt.Errorf("DIGEST-MD5: challenge: %w", err)
	}
	e.nonce = dir["nonce"]
	if e.nonce == "" {
		return nil, errors.New("DIGEST-MD5: challenge without a nonce")
	}
	if alg := dir["algorithm"]; alg != "md5-sess" {
		return nil, fmt.Errorf("DIGEST-MD5: challenge algorithm %q, want md5-sess", alg)
	}
	if qop, ok := dir["qop"]; ok && !hasToken(qop, "auth") {
		return nil, fmt.Errorf("DIGEST-MD5: the server offers qop %q; only auth is supported", qop)
	}
	utf8Charset := strings.EqualFold(dir["charset"], "utf-8")
	realm := firstRealm(dir["realm"])

	if e.cnonc == "" {
		var raw [16]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return nil, fmt.Errorf("DIGEST-MD5: cnonce: %w", err)
		}
		e.cnonc = base64.RawStdEncoding.EncodeToString(raw[:])
	}
	const nc = "00000001"

	// A1 = { H( { username-value, ":", realm-value, ":", passwd } ), ":", nonce-value, ":", cnonce-value }
	secret := md5.Sum([]byte(digestText(e.m.User, utf8Charset) + ":" + digestText(realm, utf8Charset) + ":" + digestText(e.m.Password, utf8Charset)))
	a1 := append(secret[:], ":"+e.nonce+":"+e.cnonc...)
	e.ha1 = hexMD5(a1)
	response := e.kd("AUTHENTICATE:" + e.uri)

	var b strings.Builder
	if utf8Charset {
		b.WriteString("charset=utf-8,")
	}
	fmt.Fprintf(&b, "username=%s,", quote(e.m.User))
	if realm != "" {
		fmt.Fprintf(&b, "realm=%s,", quote(realm))
	}
	fmt.Fprintf(&b, "nonce=%s,nc=%s,cnonce=%s,digest-uri=%s,maxbuf=65536,response=%s,qop=auth",
		quote(e.nonce), nc, quote(e.cnonc), quote(e.uri), response)
	return []byte(b.String()), nil
}

// kd is HEX(KD(HEX(H(A1)), nonce:nc:cnonce:qop:HEX(H(A2)))) with qop auth.
func (e *digestExchange) kd(a2 string) string {
	return hexMD5([]byte(e.ha1 + ":" + e.nonce + ":00000001:" + e.cnonc + ":auth:" + hexMD5([]byte(a2))))
}

// verify checks the server's rspauth: proof that it knows the password too.
func (e *digestExchange) verify(final []byte) error {
	dir, err := parseDirectives(string(final))
	if err != nil {
		return fmt.Errorf("DIGEST-MD5: final response: %w", err)
	}
	got, ok := dir["rspauth"]
	if !ok {
		return errors.New("DIGEST-MD5: the server's final response has no rspauth")
	}
	want := e.kd(":" + e.uri)
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errors.New("DIGEST-MD5: the server's rspauth is wrong: it does not know this user's password")
	}
	return nil
}

func hexMD5(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// digestText encodes s for hashing: with charset=utf-8, a string whose every
// character is in ISO 8859-1 is hashed in ISO 8859-1 (RFC 2831 2.1.2.1).
func digestText(s string, utf8Charset bool) string {
	if !utf8Charset {
		return s
	}
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return s
		}
		out = append(out, byte(r))
	}
	return string(out)
}

// quote renders a quoted-string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func hasToken(list, token string) bool {
	for _, t := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}

// firstRealm returns the realm to use: the first one the server offered.
func firstRealm(realms string) string {
	r, _, _ := strings.Cut(realms, "\x00")
	return r
}

// parseDirectives parses a comma-separated list of name=value directives
// (values as tokens or quoted strings). Repeated realm directives are joined
// with NUL; other repeats are an error.
func parseDirectives(s string) (map[string]string, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("not UTF-8")
	}
	out := map[string]string{}
	for i := 0; i < len(s); {
		for i < len(s) && (s[i] == ',' || s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i == len(s) {
			break
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return nil, fmt.Errorf("directive %q has no value", s[i:])
		}
		name := strings.ToLower(strings.TrimSpace(s[i : i+eq]))
		i += eq + 1
		var val strings.Builder
		if i < len(s) && s[i] == '"' {
			i++
			closed := false
			for i < len(s) {
				ch := s[i]
				i++
				if ch == '\\' && i < len(s) {
					val.WriteByte(s[i])
					i++
					continue
				}
				if ch == '"' {
					closed = true
					break
				}
				val.WriteByte(ch)
			}
			if !closed {
				return nil, fmt.Errorf("directive %s: unterminated quoted string", name)
			}
		} else {
			end := strings.IndexByte(s[i:], ',')
			if end < 0 {
				end = len(s) - i
			}
			val.WriteString(strings.TrimSpace(s[i : i+end]))
			i += end
		}
		if prev, dup := out[name]; dup {
			if name != "realm" {
				return nil, fmt.Errorf("directive %s repeated", name)
			}
			out[name] = prev + "\x00" + val.String()
			continue
		}
		out[name] = val.String()
	}
	return out, nil
}
