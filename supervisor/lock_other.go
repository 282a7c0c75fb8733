//go:build !unix

package supervisor

import "os"

// lockApp: without flock, nothing keeps a second supervisor out (the record's
// check of the earlier supervisor's pid still does, once it has written it).
func lockApp(string) (*os.File, error) { return nil, nil }
