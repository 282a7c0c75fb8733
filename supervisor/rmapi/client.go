package rmapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
)

// Client calls the supervisor over its unix socket. It is safe for concurrent use.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the socket at path. No connection is made yet.
func NewClient(path string) *Client {
	return &Client{socket: path, http: &http.Client{Transport: UnixTransport(path)}}
}

// UnixTransport is an HTTP transport whose every connection goes to the unix
// socket at path.
func UnixTransport(path string) *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
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
func (c *Client) Close() { c.http.CloseIdleConnections() }

func (c *Client) call(ctx context.Context, path string, req, res any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("rmapi: %s: %w", path, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://supervisor"+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("rmapi: %s: %w", path, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hres, err := c.http.Do(hreq)
	if err != nil {
		return fmt.Errorf("rmapi: %s via %s: %w", path, c.socket, err)
	}
	defer hres.Body.Close()
	data, err := io.ReadAll(io.LimitReader(hres.Body, maxBody))
	if err != nil {
		return fmt.Errorf("rmapi: %s: read reply: %w", path, err)
	}
	if hres.StatusCode != http.StatusOK {
		var eb errorBody
		if json.Unmarshal(data, &eb) == nil && eb.Code != "" {
			if sentinel, ok := codes[eb.Code]; ok {
				return fmt.Errorf("%w: %s", sentinel, eb.Message)
			}
			return fmt.Errorf("rmapi: %s: %s: %s", path, eb.Code, eb.Message)
		}
		return fmt.Errorf("rmapi: %s: HTTP %d: %s", path, hres.StatusCode, bytes.TrimSpace(data))
	}
	if err := json.Unmarshal(data, res); err != nil {
		return fmt.Errorf("rmapi: %s: decode reply: %w", path, err)
	}
	return nil
}
