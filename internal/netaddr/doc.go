// Package netaddr binds the listeners the configuration asks for and finds the
// address a process publishes when it binds every interface.
//
// Listen binds the first free port of a port spec on a host and names the keys
// that chose them in its errors: a host that is not an address of this machine
// is reported as such at once (no other port is tried), a spec whose ports are
// all taken lists the last failure. RouteTo asks the kernel which local address
// reaches a peer; it sends nothing.
package netaddr
