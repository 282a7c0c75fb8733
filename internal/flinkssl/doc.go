// Package flinkssl turns Flink's security.ssl.* keys into crypto/tls
// configurations: Internal for the traffic between the application master and
// its TaskManagers (security.ssl.internal.*: mutual TLS, each side presenting the
// key store's certificate and verifying the other's against the trust store),
// REST for the AM's REST endpoint and its clients (security.ssl.rest.*, with
// client certificates when authentication-enabled).
//
// # What it guarantees
//
//   - Stores are PEM files, read with internal/zktls: a key store holds the
//     certificate chain and its unencrypted private key, a trust store the CA
//     certificates. A JKS or PKCS12 store, or an encrypted key, is refused with
//     an error that names the key and gives the command that converts it.
//   - An enabled side needs both stores; a missing one is an error naming the key.
//   - Internal TLS verifies the peer's chain against the trust store only (the
//     processes find each other by IP address, as Flink's internal TLS does);
//     REST clients also verify that the server's certificate names the host.
//   - Transport's handshake errors say which trust store or key store to look at.
//   - Passwords are never read, printed or logged: amkeeper reads unencrypted
//     PEM keys only.
//
// # What it does not do
//
// It does not read Java key stores, decrypt keys, pin certificates
// (security.ssl.*.cert.fingerprint) or check revocation.
package flinkssl
