// Package kdctest runs a real MIT Kerberos KDC for tests: Debian's krb5-kdc
// (krb5kdc, kdb5_util, kadmin.local; kinit from krb5-user), never a mock.
//
// Start creates a throwaway realm (AMKEEPER.TEST) in the test's temporary
// directory — database, stash, kdc.conf and a krb5.conf for clients — starts
// krb5kdc on a free loopback port (UDP and TCP), and returns once it accepts
// TCP connections. AddKeytab and AddPassword create principals with kadmin.local;
// Kinit fills a ticket cache. The KDC is killed when the test ends (and by the
// kernel, should the test binary die: it gets a parent-death signal on Linux).
//
// What it does not do: the realm has no admin server (kadmind) and no DNS; the
// tools are found on PATH and in /usr/sbin, and a missing one fails the test
// with a message naming scripts/install-deps.
package kdctest
