package zkclient

import "fmt"

// newGSSAPI builds the Kerberos mechanism.
func newGSSAPI(k KerberosLogin, service string) (SASLMechanism, error) {
	return nil, fmt.Errorf("zkclient: sasl: %w yet (principal %s)", errNoGSSAPI, k.Principal)
}
