package hdfsstore

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/rs/zerolog"
)

// Option configures Open.
type Option func(*options)

type options struct {
	log zerolog.Logger
}

// WithLogger sets the logger for what a store cannot report through an error (a
// temporary it failed to remove after a failed Put). Default: no logging.
func WithLogger(l zerolog.Logger) Option {
	return func(o *options) { o.log = l }
}

// Open opens the storage directory that uri names, creating it (mode 0700) if needed:
//
//	file:///absolute/path   local or mounted file system (file://localhost/… too)
//	hdfs://namenode:port/…  HDFS through github.com/colinmarc/hdfs/v2; see below
//
// An hdfs:// authority is one namenode (host:port, port 8020 by default), several
// separated by commas (an HA pair: the client fails over past a standby), or an HA
// nameservice defined in HADOOP_CONF_DIR (dfs.ha.namenodes.<ns> and
// dfs.namenode.rpc-address.<ns>.<id>). hdfs:///path, with no authority, takes the
// namenode from fs.defaultFS in HADOOP_CONF_DIR. The HDFS user is HADOOP_USER_NAME,
// else the OS user; only simple authentication (no Kerberos) is supported.
//
// A plain path, relative or absolute, is an error matching ErrInvalidURI that
// suggests the file:/// URI for it; an unknown scheme is an error matching
// ErrUnsupportedScheme that names the valid ones.
func Open(ctx context.Context, uri string, opts ...Option) (Store, error) {
	o := options{log: zerolog.Nop()}
	for _, opt := range opts {
		opt(&o)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("hdfsstore: open %q: %w", uri, err)
	}
	if uri == "" {
		return nil, fmt.Errorf("%w: empty; want file:///absolute/path", ErrInvalidURI)
	}
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v; want file:///absolute/path", ErrInvalidURI, uri, err)
	}
	switch u.Scheme {
	case "file":
		s, err := openFile(uri, u, o)
		if err != nil {
			return nil, err // not a nil *fileStore in a non-nil Store
		}
		return s, nil
	case "hdfs":
		s, err := openHDFS(ctx, uri, u, o)
		if err != nil {
			return nil, err // not a nil *hdfsStore in a non-nil Store
		}
		return s, nil
	case "":
		abs, err := filepath.Abs(uri)
		if err != nil {
			return nil, fmt.Errorf("%w %q: no scheme; want file:///absolute/path", ErrInvalidURI, uri)
		}
		return nil, fmt.Errorf("%w %q: a path, not a URI; did you mean %q?", ErrInvalidURI, uri, FileURI(abs))
	default:
		return nil, fmt.Errorf("%w %q in %q: want file:///absolute/path or hdfs://namenode:port/absolute/path",
			ErrUnsupportedScheme, u.Scheme, uri)
	}
}

// FileURI returns the file:// URI of the absolute local path p, escaped (a path
// with '#', '?' or '%' in it survives the round trip through Open).
func FileURI(p string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(p)}).String()
}

// fileRoot returns the local directory a file:// URI names.
func fileRoot(uri string, u *url.URL) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w %q: %s; want file:///absolute/path", ErrInvalidURI, uri, why)
	}
	switch {
	case u.Opaque != "":
		abs, err := filepath.Abs(u.Opaque)
		if err != nil {
			return bad("relative path")
		}
		return bad(fmt.Sprintf("relative path; did you mean %q?", FileURI(abs)))
	case u.User != nil || (u.Host != "" && u.Host != "localhost"):
		return bad(fmt.Sprintf("host %q (a file URI names a local path: three slashes)", u.Host))
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return bad("has a query or fragment")
	case u.Path == "":
		return bad("no path")
	case !filepath.IsAbs(filepath.FromSlash(u.Path)):
		return bad("relative path")
	}
	return filepath.Clean(filepath.FromSlash(u.Path)), nil
}
