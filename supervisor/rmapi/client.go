package rmapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/internal/privdir"
)

// Client calls the supervisor over its unix socket. It is safe for concurrent use.
type Client struct {
	socket string
	json   httpjson.Client
}

// callTimeout bounds one call besides its context: the supervisor answers every
// call at once.
const callTimeout = 30 * time.Second

// NewClient returns a client for the socket at path whose every call carries
// secret. No connection is made yet.
func NewClient(path string, secret appsecret.Secret) *Client {
	return &Client{socket: path, json: httpjson.Client{HTTP: secret.Client(&http.Client{Timeout: callTimeout, Transport: UnixTransport(path)}), MaxBytes: maxBody}}
}

// UnixTransport is an HTTP transport whose every connection goes to the unix
// socket at path, once privdir.CheckSocket has found the socket and its
// directory to be this user's: nothing is sent to a socket another user planted.
func UnixTransport(path string) *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			if err := privdir.CheckSocket(path); err != nil {
				return nil, err
			}
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns: 2,
	}
}

// Register is RegisterApplicationMaster.
func (c *Client) Register(ctx context.Context, req RegisterRequest) (RegisterResponse, error) {
	var res RegisterResponse
	err := c.call(ctx, PathRegister, req, &res)
	return res, err
}

// Allocate is one Allocate heartbeat.
func (c *Client) Allocate(ctx context.Context, req AllocateRequest) (AllocateResponse, error) {
	var res AllocateResponse
	err := c.call(ctx, PathAllocate, req, &res)
	return res, err
}

// Finish is FinishApplicationMaster.
func (c *Client) Finish(ctx context.Context, req FinishRequest) error {
	return c.call(ctx, PathFinish, req, &struct{}{})
}

// Leadership reports that the attempt started or stopped leading.
func (c *Client) Leadership(ctx context.Context, req LeadershipRequest) error {
	return c.call(ctx, PathLeadership, req, &struct{}{})
}

// Close releases idle connections.
func (c *Client) Close() { c.json.HTTP.CloseIdleConnections() }

func (c *Client) call(ctx context.Context, path string, req, res any) error {
	err := c.json.Post(ctx, "http://supervisor"+path, req, res)
	var se *httpjson.StatusError
	switch {
	case errors.As(err, &se):
		if sentinel, ok := codes[se.Code]; ok {
			return fmt.Errorf("%w: %s", sentinel, se.Message)
		}
		return fmt.Errorf("rmapi: %s: %w", path, err)
	case err != nil:
		return fmt.Errorf("rmapi: %s via %s: %w", path, c.socket, err)
	}
	return nil
}
