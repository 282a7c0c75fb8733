// Package flinkshape is a test helper: it checks that an amkeeper REST
// response has every field Flink's response of the same endpoint has, from the
// recorded field lists in flink-rest-fields.txt (which names its source).
package flinkshape

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

//go:embed flink-rest-fields.txt
var fields string

// flinkFieldSpec is one line of testdata/flink-rest-fields.txt: the fields
// Flink's response of endpoint has at path.
type flinkFieldSpec struct {
	endpoint, path string
	fields         []string
}

func load(t testing.TB) []flinkFieldSpec {
	t.Helper()
	var out []flinkFieldSpec
	sc := bufio.NewScanner(strings.NewReader(fields))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		head, fields, ok := strings.Cut(line, ": ")
		ep, path, ok2 := strings.Cut(strings.TrimSpace(head), " ")
		require.True(t, ok && ok2, "bad line %q", line)
		out = append(out, flinkFieldSpec{endpoint: ep, path: strings.TrimSpace(path), fields: strings.Fields(fields)})
	}
	require.NoError(t, sc.Err())
	return out
}

// at returns the JSON values at path ("." the body, ".a.b" objects, "x[]" the
// elements of array x); an array must not be empty, a value not null.
func at(t testing.TB, where string, v any, path string) []any {
	t.Helper()
	cur := []any{v}
	for _, seg := range strings.Split(strings.TrimPrefix(path, "."), ".") {
		array := strings.HasSuffix(seg, "[]")
		name := strings.TrimSuffix(seg, "[]")
		var next []any
		for _, c := range cur {
			if name != "" {
				obj, ok := c.(map[string]any)
				require.True(t, ok, "%s: %s is not an object at %q: %v", where, path, name, c)
				c, ok = obj[name]
				require.True(t, ok, "%s: no %q on the way to %s", where, name, path)
			}
			require.NotNil(t, c, "%s: %s: %q is null", where, path, name)
			if array {
				elems, ok := c.([]any)
				require.True(t, ok, "%s: %q is not an array", where, name)
				require.NotEmpty(t, elems, "%s: %q is empty: nothing to check", where, name)
				next = append(next, elems...)
			} else {
				next = append(next, c)
			}
		}
		cur = next
	}
	return cur
}

// Check asserts that body, amkeeper's response of endpoint (as the
// field list names it), has every field Flink's has, at every path listed for
// it, and returns how many paths it checked.
func Check(t testing.TB, endpoint string, body []byte) int {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(body, &v), "%s: %s", endpoint, body)
	n := 0
	for _, spec := range load(t) {
		if spec.endpoint != endpoint {
			continue
		}
		n++
		for _, obj := range at(t, endpoint, v, spec.path) {
			m, ok := obj.(map[string]any)
			require.True(t, ok, "%s %s is not an object: %v", endpoint, spec.path, obj)
			for _, f := range spec.fields {
				require.Contains(t, m, f, "%s %s lacks Flink's field %q: %s", endpoint, spec.path, f, body)
			}
		}
	}
	require.NotZero(t, n, "no recorded fields for %s", endpoint)
	return n
}
