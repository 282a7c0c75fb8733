package hdfsstore

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidateNameReasons(t *testing.T) {
	for name, reason := range map[string]string{
		"":                        "empty",
		"/a":                      "leading slash",
		"a/":                      "trailing slash",
		"a//b":                    "empty component",
		"a/../b":                  `component ".."`,
		"a b":                     `contains ' '`,
		"ä":                       `contains 'ä'`,
		"x/.amk-tmp-1/y":          "temporary-file prefix",
		string(make([]byte, 256)): "component of 256 bytes",
	} {
		err := ValidateName(name)
		require.ErrorIs(t, err, ErrInvalidName, "%q", name)
		require.Contains(t, err.Error(), reason, "%q", name)
	}
}

func TestSplitPrefix(t *testing.T) {
	for prefix, want := range map[string][2]string{
		"":       {"", ""},
		"job":    {"", "job"},
		"a/":     {"a", ""},
		"a/b/jo": {"a/b", "jo"},
		"a/b/..": {"a/b", ".."}, // only compared as a string: matches nothing
		"a/ b":   {"a", " b"},
	} {
		dir, partial, err := splitPrefix(prefix)
		require.NoError(t, err, "%q", prefix)
		require.Equal(t, want, [2]string{dir, partial}, "%q", prefix)
	}
	for _, prefix := range []string{"/", "/a", "a//", "../x/", "a/./b"} {
		_, _, err := splitPrefix(prefix)
		require.ErrorIs(t, err, ErrInvalidName, "%q", prefix)
		require.Contains(t, err.Error(), "prefix", "%q", prefix)
	}
}
