package httpjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Decoder reads JSON request bodies. The zero value reads at most
// DefaultMaxBytes and refuses fields the target type does not have.
type Decoder struct {
	// MaxBytes bounds the request body; 0: DefaultMaxBytes. A larger body is
	// ErrTooLarge, and the server closes the connection after its reply.
	MaxBytes int64
	// AllowUnknownFields accepts (and ignores) JSON fields v has no place for.
	AllowUnknownFields bool
}

// Decode reads one JSON value from r's body into v. The error ("decode
// request: …") is meant for the client: write it with the protocol's error form
// (usually 400 Bad Request).
func (d Decoder) Decode(w http.ResponseWriter, r *http.Request, v any) error {
	limit := d.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	if !d.AllowUnknownFields {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return fmt.Errorf("decode request: %w: over %d bytes", ErrTooLarge, limit)
		}
		return fmt.Errorf("decode request: %w", err)
	}
	return nil
}

// Write replies with status and v as JSON.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nobody to tell
}

// ErrorBody is the JSON error body: a code a client maps onto its sentinel
// errors, and a message for people.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WriteError replies with status and a JSON error body. (Protocols whose errors
// are plain text use http.Error.)
func WriteError(w http.ResponseWriter, status int, code, message string) {
	Write(w, status, ErrorBody{Code: code, Message: message})
}

// RESTErrors is the error body of the AM's REST API, Flink's ErrorResponseBody:
// {"errors":["message", …]}.
type RESTErrors struct {
	Errors []string `json:"errors"`
}

// WriteRESTErrors replies with status and a RESTErrors body of msgs.
func WriteRESTErrors(w http.ResponseWriter, status int, msgs ...string) {
	if msgs == nil {
		msgs = []string{http.StatusText(status)}
	}
	Write(w, status, RESTErrors{Errors: msgs})
}

// Limits bound what a client may make a server wait for and read: the time to
// send a request's headers and then its whole request, the time to read a reply,
// how long an idle connection is kept, and the size of the headers. A zero field
// takes the default below. Request bodies are bounded by each handler's Decoder.
type Limits struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
}

// The defaults of Limits.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultMaxHeaderBytes    = 64 << 10
)

// NewServer returns a server for h with limits l (zero fields: the defaults).
// Every amkeeper HTTP server is built by it: ReadTimeout cuts off a client that
// sends its request too slowly, WriteTimeout one that reads its reply too
// slowly, IdleTimeout one that keeps an idle connection open.
func NewServer(h http.Handler, l Limits) *http.Server {
	or := func(v, def time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return def
	}
	headers := l.MaxHeaderBytes
	if headers <= 0 {
		headers = DefaultMaxHeaderBytes
	}
	return &http.Server{Handler: h,
		ReadHeaderTimeout: or(l.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		ReadTimeout:       or(l.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:      or(l.WriteTimeout, DefaultWriteTimeout),
		IdleTimeout:       or(l.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    headers}
}

// DecodeStatus is the status that answers a failed Decode: 413 Request Entity
// Too Large for a body over its bound, 400 Bad Request for any other failure.
func DecodeStatus(err error) int {
	if errors.Is(err, ErrTooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// DecodeOrFail is Decode that answers a failed decode itself with a JSON error
// body: status DecodeStatus, code TOO_LARGE or INVALID. It reports whether v
// was decoded.
func (d Decoder) DecodeOrFail(w http.ResponseWriter, r *http.Request, v any) bool {
	err := d.Decode(w, r, v)
	if err == nil {
		return true
	}
	code := "INVALID"
	if errors.Is(err, ErrTooLarge) {
		code = "TOO_LARGE"
	}
	WriteError(w, DecodeStatus(err), code, err.Error())
	return false
}
