// Package version reports which amkeeper build is running, from the Go build
// information embedded in the binary: the main module's version ("(devel)" for
// a build from a work tree) and, when the build recorded it, the VCS revision.
// The REST API serves them where Flink serves flink-version and flink-commit.
package version

import "runtime/debug"

// Unknown is what Version and Revision return when the build did not record
// the value (Flink's EnvironmentInformation uses the same word).
const Unknown = "<unknown>"

// Version returns the main module's version, or Unknown.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Version == "" {
		return Unknown
	}
	return bi.Main.Version
}

// Revision returns the VCS revision the binary was built from (with "-dirty"
// when the work tree had changes), or Unknown.
func Revision() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Unknown
	}
	rev, dirty := Unknown, false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && rev != Unknown {
		rev += "-dirty"
	}
	return rev
}
