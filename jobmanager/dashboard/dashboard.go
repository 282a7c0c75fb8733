package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed assets
var assets embed.FS

// ContentSecurityPolicy is sent with every dashboard response: scripts, styles,
// images and fetches from the AM's own origin only, nothing inline, no plugins,
// no framing, no form posts, no <base> rewriting.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// PathAssets is where the page's scripts and style sheet are served.
const PathAssets = "/ui/"

// Handler serves the page at exactly / and its assets under PathAssets, for GET
// and HEAD only; mount it on those two patterns. Anything else under
// PathAssets is 404.
func Handler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil { // the embedded directory is fixed at build time
		return http.NotFoundHandler()
	}
	files := http.StripPrefix(PathAssets, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the dashboard only reads: use GET", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path == "/" {
			http.ServeFileFS(w, r, sub, "index.html")
			return
		}
		if r.URL.Path == PathAssets || r.URL.Path == PathAssets+"index.html" {
			http.NotFound(w, r) // no directory listing, one address for the page
			return
		}
		files.ServeHTTP(w, r)
	})
}
