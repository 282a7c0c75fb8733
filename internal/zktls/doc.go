// Package zktls makes TLS connections to ZooKeeper from the key store and trust
// store a configuration names, the way ZooKeeper's own X509Util names them
// (zookeeper.ssl.keyStore.location on a client, ssl.keyStore.location in a
// server's zoo.cfg). It is used by the ZooKeeper client (recovery/zkha builds the
// one dialer every client connection goes through: the session, the session
// closer, the multiRead reader) and by internal/zkserver to probe a TLS-only
// server it started.
//
// # What it guarantees
//
//   - Stores are PEM files: a key store holds the certificate chain and its
//     unencrypted private key (ZooKeeper's PEM key store type), a trust store one
//     or more CA certificates. A JKS, PKCS12 or BCFKS store, named by its type or
//     its file name or recognised by its first bytes, is refused with an error
//     (ErrJavaStore) that names the key and the file and gives the openssl/keytool
//     command that converts it. An encrypted private key is refused with the
//     command that decrypts it.
//   - Without a trust store the system's roots are trusted, as the JVM's default
//     trust store would be.
//   - With hostname verification (ZooKeeper's default) the server's certificate
//     must name the host dialed (DNS name or IP address); without it the chain is
//     still verified against the trust store.
//   - Dialer returns a go-zookeeper-shaped dial function: the TLS handshake is done
//     within the dial timeout, and its errors say which store to look at.
//   - Errors never contain a password or key material.
//
// # What it does not do
//
//   - It does not read Java key stores, decrypt keys, or check revocation (CRL,
//     OCSP).
//   - It does not authenticate anything above TLS: ZooKeeper maps a client
//     certificate to the x509 ACL scheme; digest and SASL are separate.
package zktls
