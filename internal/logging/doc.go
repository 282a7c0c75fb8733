// Package logging configures zerolog once for every amkeeper binary and names the
// structured-log field keys all packages share.
//
// There is no global logger: New returns a zerolog.Logger that callers pass down and
// derive child loggers from (logger.With().Str(logging.App, id).Logger()) before they
// start goroutines. Tests log through zerolog.NewTestWriter(t) via ForTest.
//
// Reading logs back: ParseLine and Line.Plain render a JSON line for people
// ("time LEVEL role/attempt message key=value …"; `yarn-session logs`), and
// LastError finds the cause an attempt's log ends with (`yarn-session status`).
package logging
