package httpjson_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/httpjson"
)

type echo struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// server echoes POST /echo through d (its name suffixed with the X-Token header), answers /text with a plain-text 409, /coded
// with a JSON error body, /big with a reply of n bytes, and /slow when ctx ends.
func server(t *testing.T, d httpjson.Decoder, big int) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		var e echo
		if err := d.Decode(w, r, &e); err != nil {
			code := "INVALID"
			if errors.Is(err, httpjson.ErrTooLarge) {
				code = "TOO_LARGE"
			}
			httpjson.WriteError(w, http.StatusBadRequest, code, err.Error())
			return
		}
		e.Name += r.Header.Get("X-Token")
		httpjson.Write(w, http.StatusCreated, e)
	})
	mux.HandleFunc("GET /text", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "  not yours  ", http.StatusConflict)
	})
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, strings.Repeat("x", big))
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestRoundTripWithHeaderAndStatus(t *testing.T) {
	srv := server(t, httpjson.Decoder{}, 0)
	var got echo
	err := httpjson.Client{}.Do(context.Background(), httpjson.Request{Method: http.MethodPost, URL: srv.URL + "/echo",
		Header: http.Header{"X-Token": {"t1"}}, Body: echo{Name: "a", Count: 2}, Status: http.StatusCreated}, &got)
	require.NoError(t, err)
	require.Equal(t, echo{Name: "at1", Count: 2}, got, "the body and the header arrived")

	// Any other status than the one of success is an error, even a 2xx.
	err = httpjson.Client{}.Post(context.Background(), srv.URL+"/echo", echo{}, nil)
	require.Equal(t, http.StatusCreated, httpjson.StatusCode(err))
}

func TestErrorBodiesBecomeStatusErrors(t *testing.T) {
	srv := server(t, httpjson.Decoder{}, 0)
	ctx := context.Background()

	err := httpjson.Client{}.Get(ctx, srv.URL+"/text", nil)
	var se *httpjson.StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, http.StatusConflict, se.StatusCode)
	require.Empty(t, se.Code, "a plain-text body has no code")
	require.Equal(t, "not yours", se.Message)
	require.Equal(t, "GET "+srv.URL+"/text: 409 Conflict: not yours", err.Error())

	// A JSON error body keeps its code for the caller to map to a sentinel.
	err = httpjson.Client{}.Post(ctx, srv.URL+"/echo", map[string]any{"name": "a", "bogus": 1}, nil)
	require.ErrorAs(t, err, &se)
	require.Equal(t, http.StatusBadRequest, se.StatusCode)
	require.Equal(t, "INVALID", se.Code)
	require.Contains(t, se.Message, `unknown field "bogus"`)
	require.Contains(t, err.Error(), "400 Bad Request: INVALID: decode request: ")

	require.Zero(t, httpjson.StatusCode(errors.New("no reply")))
}

func TestUnknownFieldsAllowedWhenAsked(t *testing.T) {
	srv := server(t, httpjson.Decoder{AllowUnknownFields: true}, 0)
	var got echo
	err := httpjson.Client{}.Do(context.Background(), httpjson.Request{Method: http.MethodPost, URL: srv.URL + "/echo",
		Body: map[string]any{"name": "a", "bogus": 1}, Status: http.StatusCreated}, &got)
	require.NoError(t, err)
	require.Equal(t, "a", got.Name)
}

func TestRequestBodyLimit(t *testing.T) {
	srv := server(t, httpjson.Decoder{MaxBytes: 64}, 0)
	ctx := context.Background()
	req := httpjson.Request{Method: http.MethodPost, URL: srv.URL + "/echo", Status: http.StatusCreated}

	req.Body = echo{Name: strings.Repeat("n", 40)} // 52 bytes of JSON
	require.NoError(t, httpjson.Client{}.Do(ctx, req, nil))

	req.Body = echo{Name: strings.Repeat("n", 60)}
	err := httpjson.Client{}.Do(ctx, req, nil)
	var se *httpjson.StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, http.StatusBadRequest, se.StatusCode)
	require.Equal(t, "TOO_LARGE", se.Code)
	require.Contains(t, se.Message, "over 64 bytes")
}

func TestReplyLimit(t *testing.T) {
	srv := server(t, httpjson.Decoder{}, 100) // 103 bytes of JSON with its newline
	ctx := context.Background()
	var s string
	require.NoError(t, httpjson.Client{MaxBytes: 103}.Get(ctx, srv.URL+"/big", &s))
	require.Len(t, s, 100)

	err := httpjson.Client{MaxBytes: 102}.Get(ctx, srv.URL+"/big", &s)
	require.ErrorIs(t, err, httpjson.ErrTooLarge)
	require.Contains(t, err.Error(), "reply over 102 bytes")
}

func TestContextEndsACall(t *testing.T) {
	srv := server(t, httpjson.Decoder{}, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := httpjson.Client{}.Get(ctx, srv.URL+"/slow", nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestOverAUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, echo{Name: r.URL.Path})
	}))
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	t.Cleanup(hc.CloseIdleConnections)
	var got echo
	require.NoError(t, httpjson.Client{HTTP: hc}.Get(context.Background(), "http://supervisor/v1/x", &got))
	require.Equal(t, "/v1/x", got.Name)
}

// TestServerRefusesLargeBodiesAndStaysUp: a body over the bound is answered
// 413 with code TOO_LARGE, and the server goes on serving.
func TestServerRefusesLargeBodiesAndStaysUp(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		var e echo
		if (httpjson.Decoder{MaxBytes: 64}).DecodeOrFail(w, r, &e) {
			httpjson.Write(w, http.StatusOK, e)
		}
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config = httpjson.NewServer(mux, httpjson.Limits{})
	srv.Start()
	t.Cleanup(srv.Close)
	ctx := context.Background()
	err := httpjson.Client{}.Post(ctx, srv.URL+"/echo", echo{Name: strings.Repeat("n", 100)}, nil)
	var se *httpjson.StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, http.StatusRequestEntityTooLarge, se.StatusCode)
	require.Equal(t, "TOO_LARGE", se.Code)
	require.Equal(t, "decode request: httpjson: body too large: over 64 bytes", se.Message)
	var got echo
	require.NoError(t, httpjson.Client{}.Post(ctx, srv.URL+"/echo", echo{Name: "a"}, &got))
	require.Equal(t, "a", got.Name)
	err = httpjson.Client{}.Post(ctx, srv.URL+"/echo", map[string]int{"bogus": 1}, nil)
	require.Equal(t, http.StatusBadRequest, httpjson.StatusCode(err))
}

// TestServerCutsOffASlowClient: a client that sends its headers and then its
// body too slowly (here: never) is disconnected once the read timeout passes,
// not kept waiting forever.
func TestServerCutsOffASlowClient(t *testing.T) {
	srv := httpjson.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e echo
		if (httpjson.Decoder{}).DecodeOrFail(w, r, &e) {
			httpjson.Write(w, http.StatusOK, e)
		}
	}), httpjson.Limits{ReadTimeout: 300 * time.Millisecond})
	require.Equal(t, httpjson.DefaultWriteTimeout, srv.WriteTimeout)
	require.Equal(t, httpjson.DefaultIdleTimeout, srv.IdleTimeout)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })

	// The server's read deadline starts when it accepts the connection, so no
	// earlier than this.
	start := time.Now()
	conn, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"na"))
	require.NoError(t, err)
	// The server answers the unfinished body (400: it cannot read it) and
	// closes the connection; a read returns EOF. The deadline only bounds the
	// test: without a read timeout the server waits for the rest forever.
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	b, err := io.ReadAll(conn)
	require.NoError(t, err, "the server closed the connection (EOF), the test's deadline did not pass")
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "cut off by the read timeout, not before")
	require.Contains(t, string(b), "HTTP/1.1 400 Bad Request")
}
