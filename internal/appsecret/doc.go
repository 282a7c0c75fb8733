// Package appsecret is the application secret: 32 random bytes the supervisor
// creates when a session starts, kept in a 0600 file in the session's own
// directory (FileName), and handed to the AM and TaskManager processes by the
// file's path in the environment (EnvFile), never on a command line or in a log.
//
// Every internal call carries it as "Authorization: Bearer <hex>" (Client wraps
// an *http.Client to do so); servers refuse a call without it with 401 and no
// detail (Require). The comparison takes constant time.
//
// # What it guarantees
//
//   - A secret is created with O_EXCL in a temporary file of mode 0600, synced,
//     and renamed into place: no reader sees a partial secret, and a new
//     session's secret replaces an old one whole.
//   - Load refuses a file that is a symlink, not regular, not owned by this
//     user, readable or writable by group or others, or not exactly a secret.
//   - A Secret never prints itself: String and MarshalJSON redact it.
//
// # What it does not guarantee
//
//   - Confidentiality on the wire: the header travels in clear over plain HTTP
//     (loopback by default). Whoever can read the file, or the traffic, holds
//     the application. TLS (security.ssl.*) is what protects it on a network.
//   - That the directory holding the file is trusted: the session directory's
//     own checks decide that.
package appsecret
