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

// Server limits: how long a client may take to send a request's headers and
// its body, to read a reply, and to keep an idle connection, and how large its
// headers may be. Every amkeeper HTTP server is built by NewServer with them.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 60 * time.Second
	IdleTimeout       = 2 * time.Minute
	MaxHeaderBytes    = 64 << 10
)

// NewServer returns a server for h with the limits above. Request bodies are
// bounded by each handler's Decoder; ReadTimeout cuts off a client that sends
// its request too slowly, WriteTimeout one that reads its reply too slowly.
func NewServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: ReadHeaderTimeout, ReadTimeout: ReadTimeout,
		WriteTimeout: WriteTimeout, IdleTimeout: IdleTimeout, MaxHeaderBytes: MaxHeaderBytes}
}

// DecodeOrFail is Decode that answers a failed decode itself: 413 Request
// Entity Too Large with code TOO_LARGE for a body over the bound, 400 Bad
// Request with code INVALID for any other; it reports whether v was decoded.
func (d Decoder) DecodeOrFail(w http.ResponseWriter, r *http.Request, v any) bool {
	err := d.Decode(w, r, v)
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrTooLarge):
		WriteError(w, http.StatusRequestEntityTooLarge, "TOO_LARGE", err.Error())
	default:
		WriteError(w, http.StatusBadRequest, "INVALID", err.Error())
	}
	return false
}
