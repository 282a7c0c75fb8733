package dashboard_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/jobmanager/dashboard"
)

func get(t *testing.T, srv *httptest.Server, method, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	require.NoError(t, err)
	res, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(b)
}

func serve(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	ui := dashboard.Handler()
	mux.Handle("GET /{$}", ui)
	mux.Handle("GET "+dashboard.PathAssets, ui)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestPageAndAssetsServedUnderTheCSP: / is the page, every script and style
// sheet it names is served from /ui/ with its type, all under the
// Content-Security-Policy; nothing else is served.
func TestPageAndAssetsServedUnderTheCSP(t *testing.T) {
	srv := serve(t)
	res, page := get(t, srv, http.MethodGet, "/")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"))
	require.Equal(t, dashboard.ContentSecurityPolicy, res.Header.Get("Content-Security-Policy"))
	require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))

	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	want := map[string]string{"/ui/app.js": "text/javascript; charset=utf-8", "/ui/style.css": "text/css; charset=utf-8"}
	got := map[string]string{}
	for _, r := range refs {
		res, _ := get(t, srv, http.MethodGet, r[1])
		require.Equal(t, http.StatusOK, res.StatusCode, r[1])
		require.Equal(t, dashboard.ContentSecurityPolicy, res.Header.Get("Content-Security-Policy"), r[1])
		got[r[1]] = res.Header.Get("Content-Type")
	}
	require.Equal(t, want, got, "the page loads exactly its script and its style sheet, from its own origin")
	res, _ = get(t, srv, http.MethodGet, "/ui/api.js")
	require.Equal(t, http.StatusOK, res.StatusCode, "app.js imports api.js")

	for _, path := range []string{"/ui/", "/ui/index.html", "/ui/nothing.js", "/index.html", "/other"} {
		res, _ := get(t, srv, http.MethodGet, path)
		require.Equal(t, http.StatusNotFound, res.StatusCode, path)
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		res, _ := get(t, srv, m, "/")
		require.Equal(t, http.StatusMethodNotAllowed, res.StatusCode, m)
	}
}

// TestPageHasNothingInline: the CSP forbids inline scripts, styles and event
// handlers, so the page must not rely on any; and its scripts build the DOM
// from text only and fetch with GET only.
func TestPageHasNothingInline(t *testing.T) {
	srv := serve(t)
	_, page := get(t, srv, http.MethodGet, "/")
	for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(page, -1) {
		require.Contains(t, m, `src="/ui/`, "every script is a file of the dashboard")
	}
	require.NotRegexp(t, `<script[^>]*>[^<]+</script>`, page)
	require.NotContains(t, page, "<style")
	require.NotRegexp(t, `\s(on[a-z]+|style)=`, page)
	require.NotContains(t, page, "//", "no absolute or protocol-relative URLs: everything comes from the AM")

	_, app := get(t, srv, http.MethodGet, "/ui/app.js")
	_, api := get(t, srv, http.MethodGet, "/ui/api.js")
	for name, src := range map[string]string{"app.js": app, "api.js": api} {
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function", "document.write"} {
			require.NotContains(t, src, bad, name)
		}
	}
	require.Equal(t, 0, strings.Count(app, "fetch("), "all REST access is in api.js")
	require.Equal(t, 1, strings.Count(api, "fetch("), "one request function")
	require.Contains(t, api, `fetch(path, { method: "GET"`)
}
