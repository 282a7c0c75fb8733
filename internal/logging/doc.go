// Package logging configures zerolog once for every amkeeper binary and names the
// structured-log field keys all packages share.
//
// There is no global logger: New returns a zerolog.Logger that callers pass down and
// derive child loggers from (logger.With().Str(logging.App, id).Logger()) before they
// start goroutines. Tests log through zerolog.NewTestWriter(t) via ForTest.
package logging
