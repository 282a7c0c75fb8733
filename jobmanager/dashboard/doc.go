// Package dashboard is the AM's web dashboard: a page at / built from embedded
// assets (plain HTML, CSS and JavaScript, no CDN, no build step) that polls the
// AM's REST endpoints and shows the leader and the attempt timeline with each
// failover's phases, the jobs with their checkpoints and restore points, the
// TaskManagers and the configuration with the origin of each value.
//
// It guarantees that the page and its assets are served with a strict
// Content-Security-Policy (everything from the AM's own origin, no inline
// script or style, no framing) and that the page only reads: it sends GET
// requests and nothing else, so every change stays with the CLI and its
// application secret. It does not authenticate readers (the REST reads are open,
// as in Flink), and a page follows a failover only while the next attempt
// serves at the same address (a fixed rest.port); with an ephemeral port the
// new address is printed by `yarn-session status`.
//
// All REST access of the page is in assets/api.js, one function per endpoint,
// each accepting both amkeeper's and Flink's response shapes.
package dashboard
