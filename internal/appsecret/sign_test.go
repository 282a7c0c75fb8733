package appsecret_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/appsecret"
)

// recorder is a server that records what it received, whole, as bytes on the
// wire would show it (headers and body).
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, r.Clone(r.Context()))
	rc.body = append(rc.body, b)
	rc.mu.Unlock()
}

// secretWithHex creates a secret in a file and returns it with its hex, which a
// test may use to sign by hand exactly as the documented scheme says.
func secretWithHex(t *testing.T) (appsecret.Secret, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), appsecret.FileName)
	s, err := appsecret.Create(path)
	require.NoError(t, err)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return s, strings.TrimSpace(string(b))
}

// handSign is the scheme as docs/security.md states it, written independently
// of the package.
func handSign(t *testing.T, secretHex, method, host, uri string, ts int64, nonce, body string) string {
	t.Helper()
	key, err := hex.DecodeString(secretHex)
	require.NoError(t, err)
	sum := sha256.Sum256([]byte(body))
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "AMK-HMAC-SHA256\n%s\n%s\n%s\n%d\n%s\n%s", method, host, uri, ts, nonce, hex.EncodeToString(sum[:]))
	return fmt.Sprintf("AMK-HMAC-SHA256 ts=%d, nonce=%s, sig=%s", ts, nonce, hex.EncodeToString(m.Sum(nil)))
}

// send posts body to url with the Authorization header auth, Host host (""
// the URL's), and returns the status.
func send(t *testing.T, method, url, host, auth, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if host != "" {
		req.Host = host
	}
	req.Header.Set(appsecret.HeaderAuthorization, auth)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestSignedRequestsCarryNoSecretAndAreGoodOnce(t *testing.T) {
	s, secretHex := secretWithHex(t)
	raw, err := hex.DecodeString(secretHex)
	require.NoError(t, err)

	// What the client sends, caught by a server that is not the application's.
	var rec recorder
	spy := httptest.NewServer(&rec)
	defer spy.Close()
	resp, err := s.Client(nil).Post(spy.URL+"/internal/taskmanagers/register?x=1", "application/json", strings.NewReader(`{"containerId":"c1"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Len(t, rec.reqs, 1)
	caught := rec.reqs[0]
	var wire bytes.Buffer
	require.NoError(t, caught.Header.Write(&wire))
	wire.Write(rec.body[0])
	for _, form := range []string{secretHex, strings.ToUpper(secretHex), string(raw)} {
		require.NotContains(t, wire.String(), form, "the secret is not on the wire")
	}
	auth := caught.Header.Get(appsecret.HeaderAuthorization)
	require.Regexp(t, `^AMK-HMAC-SHA256 ts=\d+, nonce=[0-9a-f]{32}, sig=[0-9a-f]{64}$`, auth)
	ts, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(strings.Split(auth, ",")[0], "AMK-HMAC-SHA256 ts="), ","), 10, 64)
	require.NoError(t, err)
	nonce := strings.TrimPrefix(strings.TrimSpace(strings.Split(auth, ",")[1]), "nonce=")
	require.Equal(t, handSign(t, secretHex, http.MethodPost, strings.TrimPrefix(spy.URL, "http://"), "/internal/taskmanagers/register?x=1", ts, nonce, `{"containerId":"c1"}`), auth,
		"the signature is the documented one")

	// The real server: the body reaches the handler whole after the check.
	var got []string
	srv := httptest.NewServer(s.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.RequestURI()+" "+string(b))
	})))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	// The caught request, replayed as it is (its Host names the spy): refused.
	require.Equal(t, http.StatusUnauthorized, send(t, http.MethodPost, srv.URL+"/internal/taskmanagers/register?x=1", caught.Host, auth, `{"containerId":"c1"}`))
	// ... and with the real server's Host the signature no longer matches.
	require.Equal(t, http.StatusUnauthorized, send(t, http.MethodPost, srv.URL+"/internal/taskmanagers/register?x=1", "", auth, `{"containerId":"c1"}`))
	require.Empty(t, got)

	// A request signed for the real server passes once, and its replay is refused.
	now := time.Now().Unix()
	good := handSign(t, secretHex, http.MethodPost, host, "/p?q=1", now, strings.Repeat("ab", 16), `{"a":1}`)
	require.Equal(t, http.StatusOK, send(t, http.MethodPost, srv.URL+"/p?q=1", "", good, `{"a":1}`))
	require.Equal(t, []string{`POST /p?q=1 {"a":1}`}, got)
	require.Equal(t, http.StatusUnauthorized, send(t, http.MethodPost, srv.URL+"/p?q=1", "", good, `{"a":1}`), "replayed nonce")

	_, otherHex := secretWithHex(t)
	for name, c := range map[string]struct {
		url  string
		auth func() string // signed at send time: a slow machine must not move a timestamp into the window
		body string
	}{
		"wrong secret": {srv.URL + "/p", func() string {
			return handSign(t, otherHex, http.MethodPost, host, "/p", now, strings.Repeat("01", 16), `{}`)
		}, `{}`},
		"stale timestamp": {srv.URL + "/p", func() string {
			return handSign(t, secretHex, http.MethodPost, host, "/p", time.Now().Unix()-61, strings.Repeat("02", 16), `{}`)
		}, `{}`},
		"future timestamp": {srv.URL + "/p", func() string {
			return handSign(t, secretHex, http.MethodPost, host, "/p", time.Now().Unix()+61, strings.Repeat("03", 16), `{}`)
		}, `{}`},
		"altered body": {srv.URL + "/p", func() string {
			return handSign(t, secretHex, http.MethodPost, host, "/p", now, strings.Repeat("04", 16), `{}`)
		}, `{"a":2}`},
		"altered path": {srv.URL + "/other", func() string {
			return handSign(t, secretHex, http.MethodPost, host, "/p", now, strings.Repeat("05", 16), `{}`)
		}, `{}`},
		"altered query": {srv.URL + "/p?q=2", func() string {
			return handSign(t, secretHex, http.MethodPost, host, "/p?q=1", now, strings.Repeat("06", 16), `{}`)
		}, `{}`},
		"altered method": {srv.URL + "/p", func() string {
			return handSign(t, secretHex, http.MethodPut, host, "/p", now, strings.Repeat("07", 16), `{}`)
		}, `{}`},
		"short nonce": {srv.URL + "/p", func() string { return handSign(t, secretHex, http.MethodPost, host, "/p", now, "ab", `{}`) }, `{}`},
		"signed for a spy": {srv.URL + "/p", func() string {
			return handSign(t, secretHex, http.MethodPost, "127.0.0.1:1", "/p", now, strings.Repeat("08", 16), `{}`)
		}, `{}`},
		"bearer hex secret": {srv.URL + "/p", func() string { return "Bearer " + secretHex }, `{}`},
	} {
		require.Equal(t, http.StatusUnauthorized, send(t, http.MethodPost, c.url, "", c.auth(), c.body), name)
		if name == "signed for a spy" {
			// The Host header may be forged to match, but the request did not
			// arrive at 127.0.0.1:1.
			require.Equal(t, http.StatusUnauthorized, send(t, http.MethodPost, c.url, "127.0.0.1:1", c.auth(), c.body), name+", Host forged")
		}
	}
	require.Len(t, got, 1, "no refused request reached the handler")

	// Just inside the window passes.
	require.Equal(t, http.StatusOK, send(t, http.MethodPost, srv.URL+"/p", "", handSign(t, secretHex, http.MethodPost, host, "/p", now-55, strings.Repeat("09", 16), `{}`), `{}`))
	// A name that resolves to the address the request came to is that address.
	_, port, err := net.SplitHostPort(host)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, send(t, http.MethodPost, srv.URL+"/p", "localhost:"+port, handSign(t, secretHex, http.MethodPost, "localhost:"+port, "/p", now, strings.Repeat("0a", 16), `{}`), `{}`))
	require.Len(t, got, 3)
}

func TestSignedClientFollowsNoRedirect(t *testing.T) {
	s, _ := secretWithHex(t)
	var rec recorder
	elsewhere := httptest.NewServer(&rec)
	defer elsewhere.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/stolen", http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, err := http.NewRequest(method, redirect.URL+"/x", strings.NewReader("{}"))
		require.NoError(t, err)
		resp, err := s.Client(redirect.Client()).Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode, method)
		require.Equal(t, elsewhere.URL+"/stolen", resp.Header.Get("Location"))
	}
	require.Empty(t, rec.reqs, "no signed request followed the redirect")
}

func TestCheckTwiceBodyLimitAndUnixSocket(t *testing.T) {
	s, _ := secretWithHex(t)
	// Two gates in a row (the AM's REST guard before the registry's Require)
	// spend the nonce once.
	var bodies []string
	inner := s.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
	}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.Check(r); err != nil {
			appsecret.Refuse(w, err)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	resp, err := s.Client(nil).Post(srv.URL+"/internal/x", "application/json", strings.NewReader(`{"n":1}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, []string{`{"n":1}`}, bodies)

	// A body over the server's limit is refused 413, signed or not.
	limited := httptest.NewServer(s.WithBodyLimit(10).Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer limited.Close()
	for body, want := range map[string]int{`{"n":"1234"}`: http.StatusRequestEntityTooLarge, `{"n":"12"}`: http.StatusOK} {
		resp, err := s.Client(nil).Post(limited.URL, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, want, resp.StatusCode, body)
	}
	// A body of unknown length (chunked) is bounded too.
	resp, err = s.Client(nil).Post(limited.URL, "application/json", io.MultiReader(strings.NewReader(`{"n":`), strings.NewReader(`"1234"}`)))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

	// On a unix socket (reachable only through its file) the Host is not an address.
	sock := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	us := httptest.NewUnstartedServer(s.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	us.Listener = l
	us.Start()
	defer us.Close()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err = s.Client(hc).Post("http://rm/v1/register", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = hc.Post("http://rm/v1/register", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}
