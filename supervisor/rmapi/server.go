package rmapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/privdir"
)

// ResourceManager is what the supervisor implements. Implementations check the
// attempt ID of every call and return the package's sentinel errors (wrapped) for
// the caller to see them typed. They must be safe for concurrent use.
type ResourceManager interface {
	Register(ctx context.Context, req RegisterRequest) (RegisterResponse, error)
	Allocate(ctx context.Context, req AllocateRequest) (AllocateResponse, error)
	Finish(ctx context.Context, req FinishRequest) error
	// Leadership records that the attempt started or stopped leading; an
	// attempt that has not registered gets ErrNotRegistered.
	Leadership(ctx context.Context, req LeadershipRequest) error
}

// maxBody bounds a request body; requests are small.
const maxBody = 1 << 20

// Handler serves the protocol for rm to callers that sign with secret (the
// application secret); any other call gets 401 Unauthorized.
func Handler(rm ResourceManager, secret appsecret.Secret, log zerolog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathRegister, func(w http.ResponseWriter, r *http.Request) {
		var req RegisterRequest
		if !decode(w, r, &req) {
			return
		}
		log.Info().Str(logging.AttemptID, req.AttemptID).Str("host", req.Host).Bool("session", req.Session != nil).Msg("rmapi: register")
		res, err := rm.Register(r.Context(), req)
		reply(w, log, res, err)
	})
	mux.HandleFunc("POST "+PathAllocate, func(w http.ResponseWriter, r *http.Request) {
		var req AllocateRequest
		if !decode(w, r, &req) {
			return
		}
		res, err := rm.Allocate(r.Context(), req)
		reply(w, log, res, err)
	})
	mux.HandleFunc("POST "+PathFinish, func(w http.ResponseWriter, r *http.Request) {
		var req FinishRequest
		if !decode(w, r, &req) {
			return
		}
		if !req.Status.Valid() {
			reply(w, log, nil, fmt.Errorf("%w: final status %q: want SUCCEEDED, FAILED or KILLED", ErrInvalid, req.Status))
			return
		}
		log.Info().Str(logging.AttemptID, req.AttemptID).Str("status", string(req.Status)).Msg("rmapi: finish")
		reply(w, log, struct{}{}, rm.Finish(r.Context(), req))
	})
	mux.HandleFunc("POST "+PathLeadership, func(w http.ResponseWriter, r *http.Request) {
		var req LeadershipRequest
		if !decode(w, r, &req) {
			return
		}
		log.Info().Str(logging.AttemptID, req.AttemptID).Bool("leading", req.Leading).Msg("rmapi: leadership")
		reply(w, log, struct{}{}, rm.Leadership(r.Context(), req))
	})
	return secret.Require(mux)
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	return httpjson.Decoder{MaxBytes: maxBody}.DecodeOrFail(w, r, v)
}

func reply(w http.ResponseWriter, log zerolog.Logger, v any, err error) {
	if err != nil {
		for code, sentinel := range codes {
			if errors.Is(err, sentinel) {
				status := http.StatusConflict
				if sentinel == ErrInvalid {
					status = http.StatusBadRequest
				}
				httpjson.WriteError(w, status, code, err.Error())
				return
			}
		}
		log.Error().Err(err).Msg("rmapi: call failed")
		httpjson.WriteError(w, http.StatusInternalServerError, "INTERNAL", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, v)
}

// Listen creates the unix socket at path (its directory 0700, the socket 0600),
// replacing a stale socket file left by a dead supervisor. The directory must be
// private to this user (privdir.Ensure creates it or refuses it), and a socket
// already there must be this user's.
func Listen(path string) (net.Listener, error) {
	if err := privdir.Ensure(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("rmapi: listen %s: %w", path, err)
	}
	if _, err := os.Lstat(path); err == nil {
		if err := privdir.CheckSocket(path); err != nil {
			return nil, fmt.Errorf("rmapi: listen %s: %w", path, err)
		}
		if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
			c.Close()
			return nil, fmt.Errorf("rmapi: listen %s: another supervisor is serving it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("rmapi: listen %s: remove stale socket: %w", path, err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("rmapi: listen %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("rmapi: listen %s: %w", path, err)
	}
	return l, nil
}

// Serve serves rm on l to callers signing with secret until ctx ends, then shuts
// down within a bounded time.
func Serve(ctx context.Context, l net.Listener, rm ResourceManager, secret appsecret.Secret, log zerolog.Logger) error {
	return ServeHandler(ctx, l, Handler(rm, secret, log))
}

// ServeHandler serves h on l (a local socket) until ctx ends, then shuts down
// within a bounded time.
func ServeHandler(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := httpjson.NewServer(h, httpjson.Limits{})
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("rmapi: serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		srv.Close()
	}
	<-errc
	return nil
}
