// Package appsecret is the application secret: 32 random bytes the supervisor
// creates when a session starts, kept in a 0600 file in the session's own
// directory (FileName), and handed to the AM and TaskManager processes by the
// file's path in the environment (EnvFile), never on a command line or in a log.
//
// The secret is never sent. Every internal call is signed with it (Client wraps
// an *http.Client to do so; Authorize signs one request): HMAC-SHA256 over the
// method, the Host the request is addressed to, its path and query, a
// timestamp, a random nonce and the SHA-256 of its body, in the header
// "Authorization: AMK-HMAC-SHA256 ts=…, nonce=…, sig=…" (Scheme). Servers
// (Require, or Check in a gate of their own) refuse with 401 and no detail a
// wrong signature, a timestamp more than Window from their clock, a nonce
// already accepted, or a Host that does not name the address the request
// arrived at; the signature is compared in constant time. So a request that
// reaches the wrong server — one whose address an attacker wrote into
// ZooKeeper — gives away no secret and cannot be replayed or relayed.
//
// # What it guarantees
//
//   - A secret is created with O_EXCL in a temporary file of mode 0600, synced,
//     and renamed into place: no reader sees a partial secret, and a new
//     session's secret replaces an old one whole.
//   - Load refuses a file that is a symlink, not regular, not owned by this
//     user, readable or writable by group or others, or not exactly a secret.
//   - A Secret never prints itself: String and MarshalJSON redact it.
//   - A signed request is good once, at the address it was sent to, for Window:
//     its nonce is remembered (copies of a Secret share the record; at most
//     MaxNonces, beyond which requests are refused with 503, failing closed).
//   - Check reads at most the server's body bound (WithBodyLimit; 413 beyond)
//     and puts the body back for the handler. The signing client follows no
//     redirect.
//
// # What it does not guarantee
//
//   - Confidentiality on the wire: bodies travel in clear over plain HTTP, and
//     replies are not signed. TLS (security.ssl.*) protects them on a network.
//     Whoever can read the file holds the application.
//   - A Host given as a name is checked by resolving it: whoever controls that
//     name's DNS can relay a request within Window. Clocks must agree within
//     Window.
//   - That the directory holding the file is trusted: the session directory's
//     own checks decide that.
package appsecret
