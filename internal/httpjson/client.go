package httpjson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// DefaultMaxBytes bounds a body when a Client or Decoder sets no bound: 1 MiB.
const DefaultMaxBytes int64 = 1 << 20

// ErrTooLarge: a body is larger than its bound.
var ErrTooLarge = errors.New("httpjson: body too large")

// Client makes JSON calls through an *http.Client. The zero value uses
// http.DefaultClient and DefaultMaxBytes. It is safe for concurrent use.
type Client struct {
	// HTTP makes the requests (its Transport decides TCP, TLS or a unix
	// socket; its Timeout bounds a call besides the context). Nil:
	// http.DefaultClient.
	HTTP *http.Client
	// MaxBytes bounds a reply body, a successful one or an error. 0:
	// DefaultMaxBytes.
	MaxBytes int64
}

// Request is one call.
type Request struct {
	Method string
	URL    string
	// Header holds headers to send besides Content-Type (a fencing token, say).
	Header http.Header
	// Body is sent as JSON; nil sends no body.
	Body any
	// Status is the status of success; 0 means 200 OK. Any other status is a
	// *StatusError.
	Status int
}

// Get is Do with GET url, decoding a 200 reply into reply.
func (c Client) Get(ctx context.Context, url string, reply any) error {
	return c.Do(ctx, Request{Method: http.MethodGet, URL: url}, reply)
}

// Post is Do with POST url and body, decoding a 200 reply into reply.
func (c Client) Post(ctx context.Context, url string, body, reply any) error {
	return c.Do(ctx, Request{Method: http.MethodPost, URL: url, Body: body}, reply)
}

// Do makes the call and decodes a successful reply into reply (nil: the reply
// is read and dropped). A reply with another status is a *StatusError; a reply
// larger than MaxBytes is ErrTooLarge. Transport errors are returned as the
// http.Client reports them (a *url.Error naming the method and URL, wrapping
// the context's error when it ended the call).
func (c Client) Do(ctx context.Context, req Request, reply any) error {
	var body io.Reader
	if req.Body != nil {
		b, err := json.Marshal(req.Body)
		if err != nil {
			return fmt.Errorf("%s %s: encode request: %w", req.Method, req.URL, err)
		}
		body = bytes.NewReader(b)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.Method, req.URL, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			hreq.Header.Add(k, v)
		}
	}
	if body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(hreq)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	limit := c.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fmt.Errorf("%s %s: read reply: %w", req.Method, req.URL, err)
	}
	over := int64(len(data)) > limit
	if over {
		data = data[:limit]
	}
	want := req.Status
	if want == 0 {
		want = http.StatusOK
	}
	if resp.StatusCode != want {
		return newStatusError(req.Method, req.URL, resp.StatusCode, data)
	}
	if over {
		return fmt.Errorf("%s %s: %w: reply over %d bytes", req.Method, req.URL, ErrTooLarge, limit)
	}
	if reply == nil {
		return nil
	}
	if err := json.Unmarshal(data, reply); err != nil {
		return fmt.Errorf("%s %s: decode reply: %w", req.Method, req.URL, err)
	}
	return nil
}

// StatusError is a reply whose status is not the one of success.
type StatusError struct {
	Method     string
	URL        string
	StatusCode int
	// Code is the code of a JSON error body; "" for any other body.
	Code string
	// Message is the JSON error body's message, or else the body's text,
	// trimmed (at most the client's MaxBytes of it).
	Message string
}

func newStatusError(method, url string, status int, body []byte) *StatusError {
	e := &StatusError{Method: method, URL: url, StatusCode: status}
	var eb ErrorBody
	var re RESTErrors
	switch {
	case json.Unmarshal(body, &eb) == nil && eb.Code != "":
		e.Code, e.Message = eb.Code, eb.Message
	case json.Unmarshal(body, &re) == nil && len(re.Errors) > 0:
		e.Message = strings.Join(re.Errors, "; ")
	default:
		e.Message = string(bytes.TrimSpace(body))
	}
	return e
}

// Error reads "POST http://host/path: 409 Conflict: CODE: message", without
// the parts that are empty.
func (e *StatusError) Error() string {
	s := fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// StatusCode returns the status of the *StatusError in err's chain, or 0 when
// there is none (the call failed before a reply, or succeeded).
func StatusCode(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.StatusCode
	}
	return 0
}
