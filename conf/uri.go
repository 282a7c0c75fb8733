package conf

import (
	"fmt"
	"net/url"
	"strings"
)

// checkStorageURI validates a storage directory: a file:// or hdfs:// URI with an
// absolute path. It returns "" when s is fine and otherwise a message phrased as a
// predicate that says what to write instead.
func checkStorageURI(s string) string {
	if strings.HasPrefix(s, "/") {
		return "has no scheme: use file://" + s + " (or hdfs://" + s + ")"
	}
	u, err := url.Parse(s)
	if err != nil {
		return "is not a URI: want file:///path or hdfs://namenode:port/path"
	}
	switch strings.ToLower(u.Scheme) {
	case "":
		return "has no scheme: want file:///path or hdfs://namenode:port/path"
	case "file":
		if u.Opaque != "" {
			return "is not absolute: use file:///" + strings.TrimLeft(u.Opaque, "/")
		}
		if u.Host != "" && u.Host != "localhost" {
			return fmt.Sprintf("names host %q, so its path is %q: use file:///%s%s (three slashes)",
				u.Host, u.Path, u.Host, u.Path)
		}
		if u.Path == "" {
			return "has no path: want file:///path"
		}
	case "hdfs":
		if u.Opaque != "" {
			return "is not absolute: use hdfs:///" + strings.TrimLeft(u.Opaque, "/")
		}
	default:
		return fmt.Sprintf("has scheme %q, which amkeeper cannot use: want file or hdfs", u.Scheme)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "has a query or fragment: want a plain directory URI"
	}
	return ""
}
