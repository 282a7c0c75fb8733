package appsecret

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/amkeeper/amkeeper/internal/httpjson"
)

const (
	// Scheme names the signature in the Authorization header:
	//
	//	Authorization: AMK-HMAC-SHA256 ts=<unix seconds>, nonce=<32 hex>, sig=<64 hex>
	//
	// sig is HMAC-SHA256 under the secret of the lines "AMK-HMAC-SHA256", the
	// method, the Host the request is addressed to, its path and query, ts, nonce
	// and the hex SHA-256 of its body, joined by "\n".
	Scheme = "AMK-HMAC-SHA256"
	// Window is how far a request's timestamp may be from the server's clock,
	// either way; a nonce is remembered until its timestamp leaves the window.
	Window = 60 * time.Second
	// DefaultMaxBody bounds the body Check reads unless WithBodyLimit says
	// otherwise: httpjson's default bound, 1 MiB.
	DefaultMaxBody = httpjson.DefaultMaxBytes
	// MaxNonces bounds the nonces remembered at once. When it is reached and
	// none has expired, signed requests are refused (503 from Require) until
	// some do: a bound on memory that fails closed.
	MaxNonces = 1 << 18
	nonceSize = 16
)

// The ways Check refuses a request. Require answers ErrTooLarge with 413,
// ErrBusy with 503 and any other with 401 and no detail.
var (
	ErrUnsigned  = errors.New("appsecret: request not signed with the application secret")
	ErrStale     = errors.New("appsecret: request timestamp outside the window")
	ErrReplayed  = errors.New("appsecret: request nonce already used")
	ErrWrongHost = errors.New("appsecret: request addressed to another server")
	ErrTooLarge  = httpjson.ErrTooLarge
	ErrBusy      = errors.New("appsecret: too many requests in the window")
)

// WithBodyLimit returns s bounding the body Check reads (and so the body a
// signed request may have) to n bytes; n <= 0: DefaultMaxBody. Give it the
// server's own body limit.
func (s Secret) WithBodyLimit(n int64) Secret {
	s.limit = n
	return s
}

// Authorize signs r with s (a zero s: leaves r as it is). It reads r's body
// to hash it, through GetBody when r has one, else whole, and puts it back.
// Each call draws a fresh nonce: a signed request is good for one use, at the
// host it is addressed to, within Window.
func (s Secret) Authorize(r *http.Request) error {
	if s.IsZero() {
		return nil
	}
	sum, err := bodyHash(r)
	if err != nil {
		return fmt.Errorf("appsecret: sign %s %s: %w", r.Method, r.URL.Redacted(), err)
	}
	n := make([]byte, nonceSize)
	if _, err := rand.Read(n); err != nil {
		return fmt.Errorf("appsecret: random nonce: %w", err)
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := hex.EncodeToString(n)
	sig := s.mac(r.Method, host, r.URL.RequestURI(), ts, nonce, sum)
	r.Header.Set(HeaderAuthorization, Scheme+" ts="+ts+", nonce="+nonce+", sig="+hex.EncodeToString(sig))
	return nil
}

func bodyHash(r *http.Request) (string, error) {
	h := sha256.New()
	switch {
	case r.Body == nil || r.Body == http.NoBody:
	case r.GetBody != nil:
		b, err := r.GetBody()
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, b)
		b.Close()
		if err != nil {
			return "", err
		}
	default:
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return "", err
		}
		h.Write(b)
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		r.ContentLength = int64(len(b))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (s Secret) mac(method, host, uri, ts, nonce, bodySum string) []byte {
	m := hmac.New(sha256.New, s.b)
	io.WriteString(m, strings.Join([]string{Scheme, method, host, uri, ts, nonce, bodySum}, "\n"))
	return m.Sum(nil)
}

// Valid reports whether r is signed with s, fresh and not seen before (Check).
// A zero s accepts nothing.
func (s Secret) Valid(r *http.Request) bool { return s.Check(r) == nil }

// Check verifies r's signature: made with s, over r's method, Host, path and
// query and body; a timestamp within Window of now; a nonce not used before;
// and a Host that names the address the request arrived at (its port, and its
// IP or a name that resolves to it), so that a request signed for one server
// is refused by another. It reads the body (at most the limit, WithBodyLimit)
// and puts it back for the handler. Checking the same request again (a handler
// behind another gate) passes without spending the nonce twice.
func (s Secret) Check(r *http.Request) error {
	if s.IsZero() {
		return ErrUnsigned
	}
	auth := r.Header.Get(HeaderAuthorization)
	if vb, ok := r.Body.(*verifiedBody); ok && vb.nonces == s.nonces && vb.auth == auth {
		return nil
	}
	ts, nonce, sig, ok := parse(auth)
	if !ok {
		return ErrUnsigned
	}
	if d := time.Since(time.Unix(ts, 0)); d > Window || d < -Window {
		return ErrStale
	}
	body, err := s.readBody(r)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	want := s.mac(r.Method, r.Host, uri, strconv.FormatInt(ts, 10), nonce, hex.EncodeToString(sum[:]))
	if !hmac.Equal(sig, want) {
		return ErrUnsigned
	}
	if !addressedHere(r) {
		return ErrWrongHost
	}
	if err := s.nonces.spend(nonce, time.Unix(ts, 0).Add(Window)); err != nil {
		return err
	}
	r.Body = &verifiedBody{Reader: bytes.NewReader(body), nonces: s.nonces, auth: auth}
	return nil
}

// verifiedBody is a checked request's body, put back; it marks the request as
// checked so that a second gate does not spend its nonce again.
type verifiedBody struct {
	*bytes.Reader
	nonces *nonces
	auth   string
}

func (*verifiedBody) Close() error { return nil }

func (s Secret) readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	limit := s.limit
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	tooLarge := fmt.Errorf("check request: %w: over %d bytes", ErrTooLarge, limit)
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the body: %w", ErrUnsigned, err)
	}
	if int64(len(b)) > limit {
		return nil, tooLarge
	}
	return b, nil
}

func parse(auth string) (ts int64, nonce string, sig []byte, ok bool) {
	rest, ok := strings.CutPrefix(auth, Scheme+" ")
	if !ok {
		return 0, "", nil, false
	}
	var tsText, sigText string
	for _, f := range strings.Split(rest, ",") {
		k, v, found := strings.Cut(strings.TrimSpace(f), "=")
		if !found {
			return 0, "", nil, false
		}
		switch k {
		case "ts":
			tsText = v
		case "nonce":
			nonce = v
		case "sig":
			sigText = v
		default:
			return 0, "", nil, false
		}
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return 0, "", nil, false
	}
	if n, err := hex.DecodeString(nonce); err != nil || len(n) != nonceSize {
		return 0, "", nil, false
	}
	sig, err = hex.DecodeString(sigText)
	if err != nil || len(sig) != sha256.Size {
		return 0, "", nil, false
	}
	return ts, nonce, sig, true
}

// addressedHere reports whether r's Host names the local address of the
// connection r came on: the same port, and the same IP or a name that resolves
// to it. A request on a unix socket (reachable only through its file) passes.
func addressedHere(r *http.Request) bool {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	tcp, ok := local.(*net.TCPAddr)
	if !ok {
		return local.Network() == "unix"
	}
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		// No port: the scheme's own.
		host, port = r.Host, "80"
		if r.TLS != nil {
			port = "443"
		}
	}
	if port != strconv.Itoa(tcp.Port) {
		return false
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
		return ip.Equal(tcp.IP)
	}
	ips, err := net.DefaultResolver.LookupIPAddr(r.Context(), host)
	if err != nil {
		return false
	}
	for _, ip := range ips {
		if ip.IP.Equal(tcp.IP) {
			return true
		}
	}
	return false
}

// nonces remembers the nonces of accepted requests until their timestamps
// leave the window, at most MaxNonces at once.
type nonces struct {
	mu   sync.Mutex
	seen map[string]time.Time // nonce -> when it expires
}

func newNonces() *nonces { return &nonces{seen: make(map[string]time.Time)} }

func (n *nonces) spend(nonce string, expires time.Time) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.seen[nonce]; ok {
		return ErrReplayed
	}
	if len(n.seen) >= MaxNonces {
		now := time.Now()
		for k, exp := range n.seen {
			if now.After(exp) {
				delete(n.seen, k)
			}
		}
		if len(n.seen) >= MaxNonces {
			return ErrBusy
		}
	}
	n.seen[nonce] = expires
	return nil
}

// Require serves next only for requests Check accepts. It answers a body over
// the limit with 413, a full nonce record with 503, and anything else refused
// with 401 Unauthorized and no detail.
func (s Secret) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.Check(r); err != nil {
			Refuse(w, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Refuse answers a request Check refused: 413 for ErrTooLarge (with a JSON
// error body, code TOO_LARGE, as httpjson.Decoder's DecodeOrFail), 503 for
// ErrBusy, else 401 with no detail (Unauthorized).
func Refuse(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrTooLarge):
		httpjson.WriteError(w, http.StatusRequestEntityTooLarge, "TOO_LARGE", err.Error())
	case errors.Is(err, ErrBusy):
		w.Header().Set("Retry-After", "1")
		http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
	default:
		Unauthorized(w)
	}
}

// Challenge is the WWW-Authenticate header value of a 401 for want of a
// signature.
const Challenge = Scheme + ` realm="amkeeper"`

// Unauthorized answers 401 with no detail.
func Unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", Challenge)
	http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
}

// Client returns a copy of hc (nil: a zero *http.Client) that signs every
// request with s and follows no redirect (the 3xx reply is returned as it is):
// a signed request goes only where its caller sent it.
func (s Secret) Client(hc *http.Client) *http.Client {
	c := &http.Client{}
	if hc != nil {
		*c = *hc
	}
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = transport{s: s, base: base}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

type transport struct {
	s    Secret
	base http.RoundTripper
}

func (t transport) RoundTrip(r *http.Request) (*http.Response, error) {
	c := r.Clone(r.Context())
	if err := t.s.Authorize(c); err != nil {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, err
	}
	return t.base.RoundTrip(c)
}

// CloseIdleConnections passes on to the wrapped transport.
func (t transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
