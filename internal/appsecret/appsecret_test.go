package appsecret_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/appsecret"
)

func TestCreateWritesAPrivateFileLoadReadsIt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, appsecret.FileName)
	s, err := appsecret.Create(path)
	require.NoError(t, err)
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode(), "a regular file, 0600")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{64}\n$`), string(b), "32 bytes in hex")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left")

	loaded, err := appsecret.Load(path)
	require.NoError(t, err)
	require.True(t, sameSecret(s, loaded))

	// A new session's secret replaces the old one whole.
	again, err := appsecret.Create(path)
	require.NoError(t, err)
	require.False(t, sameSecret(s, again), "fresh random bytes")
	loaded, err = appsecret.Load(path)
	require.NoError(t, err)
	require.True(t, sameSecret(again, loaded))
}

// sameSecret compares two secrets the only way they can be: by what they accept.
func sameSecret(a, b appsecret.Secret) bool {
	var ok bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ok = b.Valid(r) }))
	defer srv.Close()
	resp, err := a.Client(srv.Client()).Get(srv.URL)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return ok
}

func TestLoadRefusesFilesThatAreNotOurs(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	_, err := appsecret.Create(good)
	require.NoError(t, err)

	open := filepath.Join(dir, "open")
	b, err := os.ReadFile(good)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(open, b, 0o644))
	require.NoError(t, os.Chmod(open, 0o644))
	_, err = appsecret.Load(open)
	require.ErrorIs(t, err, appsecret.ErrInvalid)
	require.ErrorContains(t, err, "has mode 0644, want 0600")

	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(good, link))
	_, err = appsecret.Load(link)
	require.ErrorIs(t, err, appsecret.ErrInvalid)
	require.ErrorContains(t, err, "is a symlink, want a regular file")

	short := filepath.Join(dir, "short")
	require.NoError(t, os.WriteFile(short, []byte("abcd\n"), 0o600))
	_, err = appsecret.Load(short)
	require.ErrorIs(t, err, appsecret.ErrInvalid)
	require.ErrorContains(t, err, "does not hold 32 bytes in hex")

	if os.Getuid() == 0 {
		theirs := filepath.Join(dir, "theirs")
		require.NoError(t, os.WriteFile(theirs, b, 0o600))
		require.NoError(t, os.Chown(theirs, 65534, 65534)) // nobody
		_, err = appsecret.Load(theirs)
		require.ErrorIs(t, err, appsecret.ErrInvalid)
		require.ErrorContains(t, err, "is owned by uid 65534, want uid 0")
	}

	_, err = appsecret.FromEnv(func(string) (string, bool) { return "", false })
	require.ErrorContains(t, err, appsecret.EnvFile+" is not set")
	s, err := appsecret.FromEnv(func(k string) (string, bool) { return good, k == appsecret.EnvFile })
	require.NoError(t, err)
	require.False(t, s.IsZero())
}

func TestRequireRefusesWithoutDetail(t *testing.T) {
	s, err := appsecret.New()
	require.NoError(t, err)
	other, err := appsecret.New()
	require.NoError(t, err)
	var reached atomic.Int32
	srv := httptest.NewServer(s.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) })))
	defer srv.Close()

	get := func(hc *http.Client, header string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		require.NoError(t, err)
		if header != "" {
			req.Header.Set(appsecret.HeaderAuthorization, header)
		}
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for name, hc := range map[string]*http.Client{"none": srv.Client(), "another": other.Client(srv.Client()), "zero": appsecret.Secret{}.Client(srv.Client())} {
		code, body := get(hc, "")
		require.Equal(t, http.StatusUnauthorized, code, name)
		require.Equal(t, "Unauthorized\n", body, name)
	}
	for _, h := range []string{"Bearer", "Bearer zz", "Basic abc", "bearer " + strings.Repeat("0", 64),
		appsecret.Scheme, appsecret.Scheme + " ts=1, nonce=00, sig=00"} {
		code, _ := get(srv.Client(), h)
		require.Equal(t, http.StatusUnauthorized, code, h)
	}
	require.Zero(t, reached.Load())
	code, _ := get(s.Client(srv.Client()), "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, int32(1), reached.Load())

	// A zero secret accepts nothing, not even an unsigned request.
	zero := httptest.NewServer(appsecret.Secret{}.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) })))
	defer zero.Close()
	resp, err := appsecret.Secret{}.Client(zero.Client()).Get(zero.URL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, int32(1), reached.Load())
}

func TestSecretNeverPrintsItself(t *testing.T) {
	path := filepath.Join(t.TempDir(), appsecret.FileName)
	s, err := appsecret.Create(path)
	require.NoError(t, err)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	hex := strings.TrimSpace(string(raw))

	var logs strings.Builder
	log := zerolog.New(&logs)
	log.Info().Interface("secret", s).Stringer("s", s).Msg("x")
	j, err := json.Marshal(map[string]any{"s": s})
	require.NoError(t, err)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), string(j), logs.String()} {
		require.NotContains(t, out, hex)
		require.Contains(t, out, "redacted")
	}
}

func TestCopyKeepsTheSharedSecretAndRefusesAnOpenFile(t *testing.T) {
	dir := t.TempDir()
	shared := filepath.Join(dir, "cluster.secret")
	_, err := appsecret.Create(shared)
	require.NoError(t, err)
	dst := filepath.Join(dir, appsecret.FileName)
	_, err = appsecret.Copy(shared, dst)
	require.NoError(t, err)
	want, err := os.ReadFile(shared)
	require.NoError(t, err)
	got, err := os.ReadFile(dst)
	require.NoError(t, err)
	require.Equal(t, want, got, "the copy holds the shared secret")
	fi, err := os.Stat(dst)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode())

	require.NoError(t, os.Chmod(shared, 0o640))
	require.NoError(t, os.Remove(dst))
	_, err = appsecret.Copy(shared, dst)
	require.ErrorIs(t, err, appsecret.ErrInvalid)
	require.Contains(t, err.Error(), "has mode 0640, want 0600")
	_, err = os.Stat(dst)
	require.ErrorIs(t, err, os.ErrNotExist, "nothing copied from a refused file")
}
