package flinkssl

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/zktls"
)

// Side is the TLS of one kind of traffic: the configuration its servers serve
// with and the one its clients dial with.
type Side struct {
	// Server is for a server's listener (tls.NewListener).
	Server *tls.Config
	// Client is for a client's dials (Transport).
	Client *tls.Config
	// ClientAuth: the server requires a client certificate signed by a CA of
	// the trust store, and the client presents the key store's certificate.
	ClientAuth bool
	// trustKey and keyKey name the stores in handshake hints.
	trustKey, keyKey string
}

// Internal returns the mutual TLS of the traffic between the AM and its
// TaskManagers (security.ssl.internal.*), or nil when it is not enabled.
func Internal(c *conf.Config) (*Side, error) {
	s := c.SSLInternal()
	if !s.Enabled {
		return nil, nil
	}
	return build(s, conf.SSLInternalEnabled, conf.SSLInternalKeyStore, conf.SSLInternalTrust, true, false)
}

// REST returns the TLS of the AM's REST endpoint and its clients
// (security.ssl.rest.*), or nil when it is not enabled.
func REST(c *conf.Config) (*Side, error) {
	s := c.SSLREST()
	if !s.Enabled {
		return nil, nil
	}
	return build(s, conf.SSLRESTEnabled, conf.SSLRESTKeyStore, conf.SSLRESTTrust, s.ClientAuth, true)
}

func build(s conf.SSL, enabled, keyOpt, trustOpt *conf.Option, mutual, verifyHost bool) (*Side, error) {
	for _, store := range []struct {
		opt *conf.Option
		loc string
	}{{keyOpt, s.KeyStore}, {trustOpt, s.TrustStore}} {
		if store.loc == "" {
			return nil, fmt.Errorf("%s is true but %s is not set: give the PEM file (absolute path)", enabled.Key(), store.opt.Key())
		}
	}
	cert, err := zktls.LoadKeyStore(zktls.Store{Key: keyOpt.Key(), Location: s.KeyStore})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", enabled.Key(), err)
	}
	pool, err := zktls.LoadTrustStore(zktls.Store{Key: trustOpt.Key(), Location: s.TrustStore})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", enabled.Key(), err)
	}
	side := &Side{ClientAuth: mutual, trustKey: trustOpt.Key(), keyKey: keyOpt.Key(),
		Server: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}},
		Client: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool},
	}
	if mutual {
		side.Server.ClientAuth = tls.RequireAndVerifyClientCert
		side.Server.ClientCAs = pool
		side.Client.Certificates = []tls.Certificate{cert}
	}
	if !verifyHost {
		zktls.VerifyChainOnly(side.Client)
	}
	return side, nil
}

// TLSError is a call that failed for TLS: a handshake, or a peer that refused
// this side's certificate (under TLS 1.3 that refusal arrives with the first
// read). Hint says which store to look at.
type TLSError struct {
	Addr string
	Err  error
	Hint string
}

func (e *TLSError) Error() string { return "tls " + e.Addr + ": " + e.Err.Error() + e.Hint }

func (e *TLSError) Unwrap() error { return e.Err }

// Transport returns an HTTP transport whose connections use s's client side
// (https URLs); a call that fails for TLS returns a *TLSError.
func (s *Side) Transport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = s.Client.Clone()
	t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		cfg := s.Client.Clone()
		if cfg.ServerName == "" {
			if host, _, err := net.SplitHostPort(addr); err == nil {
				cfg.ServerName = host
			}
		}
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: cfg}
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, &TLSError{Addr: addr, Err: err, Hint: s.hint(err)}
		}
		return conn, nil
	}
	return hinting{base: t, side: s}
}

// hinting adds the hint to a peer's refusal of this side's certificate, which
// TLS 1.3 reports on the first read rather than in the handshake.
type hinting struct {
	base *http.Transport
	side *Side
}

func (h hinting) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := h.base.RoundTrip(r)
	var te *TLSError
	if err != nil && !errors.As(err, &te) && strings.Contains(err.Error(), "remote error: tls:") {
		return nil, &TLSError{Addr: r.URL.Host, Err: err, Hint: h.side.hint(err)}
	}
	return resp, err
}

// CloseIdleConnections passes on to the transport.
func (h hinting) CloseIdleConnections() { h.base.CloseIdleConnections() }

// HTTPClient is an *http.Client with Transport and timeout; for a side that is
// off (s == nil), a plain one.
func (s *Side) HTTPClient(timeout time.Duration) *http.Client {
	if s == nil {
		return &http.Client{Timeout: timeout}
	}
	return &http.Client{Timeout: timeout, Transport: s.Transport()}
}

// Scheme is "https" for a side that is on (s != nil), else "http".
func (s *Side) Scheme() string {
	if s == nil {
		return "http"
	}
	return "https"
}

// hint says what a failed handshake most likely means.
func (s *Side) hint(err error) string {
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var recordHeader tls.RecordHeaderError
	switch {
	case errors.As(err, &unknown):
		return fmt.Sprintf(" (the server's certificate is not signed by a CA in %s)", s.trustKey)
	case errors.As(err, &hostname):
		return " (the server's certificate does not name this host)"
	case strings.Contains(err.Error(), "remote error: tls:"): // crypto/tls keeps the alert type private
		return fmt.Sprintf(" (the server refused the handshake: it wants a client certificate signed by a CA it trusts; this side presents %s)", s.keyKey)
	case errors.As(err, &recordHeader):
		return " (the server does not speak TLS on this port: is TLS enabled on both sides?)"
	case errors.Is(err, io.EOF):
		return " (the server closed the connection during the handshake: is TLS enabled on both sides?)"
	}
	return ""
}
