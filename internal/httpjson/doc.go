// Package httpjson is the project's one JSON-over-HTTP helper: the client side of
// a call (context, JSON body, a bound on the reply, the reply decoded or turned
// into an error that keeps the status) and the server side (a request body read
// with a bound and an unknown-field policy, a JSON reply, a JSON error body).
//
// It works over any *http.Client — TCP, TLS, or a unix socket through the
// client's Transport — and knows no protocol: paths, headers, status codes and
// which sentinel error a reply stands for belong to the protocol packages that use
// it (taskmanager/tmapi, attempts/rmapi). A failed call's *StatusError carries the
// status and, when the body is a JSON error body ({"code":…,"message":…}), its
// code, so a caller maps either onto its own sentinels.
//
// Every amkeeper HTTP server is built by NewServer, with read, write and idle
// timeouts and a header bound (Limits); a handler answers a failed decode with
// DecodeStatus (413 for a body over its bound, 400 otherwise) or DecodeOrFail.
//
// Guarantees: no body is read past its bound (DefaultMaxBytes unless set), a
// request body over its bound is refused, and every call ends with its context.
// Not guaranteed: retries (a call is made once), or that the server's JSON matches
// the reply type beyond what encoding/json checks.
package httpjson
