package conf

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNestedAndFlatGiveTheSameKeys(t *testing.T) {
	load := func(dir string) *Config {
		c, err := Load(Options{Dir: filepath.Join("testdata", dir), LookupEnv: noEnv})
		require.NoError(t, err)
		return c
	}
	flat, nested := load("flat"), load("nested")
	assert.Equal(t, flat.Keys(), nested.Keys())
	for _, k := range flat.Keys() {
		fv, _, _ := flat.Raw(k)
		nv, _, _ := nested.Raw(k)
		assert.Equal(t, fv, nv, k)
	}
	fe, ne := flat.Entries(), nested.Entries()
	require.Len(t, ne, len(fe))
	for i := range fe {
		assert.Equal(t, fe[i].Value, ne[i].Value, fe[i].Option.Key())
		assert.Equal(t, fe[i].Set, ne[i].Set, fe[i].Option.Key())
	}
	assert.Equal(t, []string{"zk1:2181", "zk2:2181"}, nested.Quorum())
	assert.Equal(t, "cluster_one", nested.ClusterID())
	assert.Empty(t, flat.Warnings())
	assert.Empty(t, nested.Warnings())
	v, origin, ok := nested.Raw("env.java.opts")
	require.True(t, ok, "keys under other prefixes are kept")
	assert.Equal(t, "-XX:+UseG1GC", v)
	assert.Equal(t, 29, origin.Line)
}

func TestFlinkConfForms(t *testing.T) {
	tests := []struct {
		name, yaml string
		key, want  string
		line       int
	}{
		{"flat", "a.b.c: v\n", "a.b.c", "v", 1},
		{"nested", "a:\n  b:\n    c: v\n", "a.b.c", "v", 3},
		{"flow mapping", "a: {b: {c: v}}\n", "a.b.c", "v", 1},
		{"mixed depth", "a.b:\n  c: v\n", "a.b.c", "v", 2},
		{"comment after value", "k: v # not part of the value\n", "k", "v", 1},
		{"hash inside value", "k: a#b\n", "k", "a#b", 1},
		{"quoted", "k: \"60 s\"\n", "k", "60 s", 1},
		{"block list", "k:\n  - a\n  - b\n", "k", "a,b", 1},
		{"flow list", "k: [a:1, b:2]\n", "k", "a:1,b:2", 1},
		{"nested list", "k: [a, [b, c]]\n", "k", "a,b,c", 1},
		{"map in list", "k: [{x: 1}]\n", "k", "{x: 1}", 1},
		{"number", "k: 60000\n", "k", "60000", 1},
		{"empty value", "k:\n", "k", "", 1},
		{"null value", "k: ~\n", "k", "", 1},
		{"alias", "a: &x v\nb: *x\n", "b", "v", 2},
		{"alias to mapping", "a: &m {c: v}\nb: *m\n", "b.c", "v", 2},
		{"spaces in key", "  k  : v\n", "k", "v", 1},
		{"windows line ends", "a: 1\r\nk: v\r\n", "k", "v", 2},
		{"second document", "a: 1\n---\nk: v\n", "k", "v", 3},
		{"url value", "k: hdfs:///flink/recovery\n", "k", "hdfs:///flink/recovery", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err, path := loadYAML(t, tc.yaml)
			require.NoError(t, err)
			v, origin, ok := c.Raw(tc.key)
			require.True(t, ok, "key %s", tc.key)
			assert.Equal(t, tc.want, v)
			assert.Equal(t, Origin{Kind: OriginFile, File: path, Line: tc.line}, origin)
		})
	}
}

func TestFlinkConfEmptyOrMissing(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"missing file":  {},
		"empty file":    {FlinkConfFile: ""},
		"comments only": {FlinkConfFile: "# nothing here\n\n"},
		"null document": {FlinkConfFile: "~\n"},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := Load(Options{Dir: writeDir(t, files), LookupEnv: noEnv})
			require.NoError(t, err)
			assert.Equal(t, HANone, c.HAMode())
			assert.Empty(t, c.Warnings())
			assert.Nil(t, c.Masters())
			assert.Nil(t, c.ZooCfg())
		})
	}
	c, err := Load(Options{LookupEnv: noEnv})
	require.NoError(t, err, "no directory means defaults only")
	assert.Equal(t, "/default", c.Entry(HAClusterID).Value)
}

func TestFlinkConfSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, yaml, msg string
		line            int
	}{
		{"mapping in value", "a: 1\nk: v: w\n", "mapping values are not allowed", 2},
		{"bad indentation", "a:\n  b: 1\n c: 2\n", "invalid YAML", 2},
		{"unclosed quote", "a: 1\nb: \"open\n", "invalid YAML", 0},
		{"top-level list", "- a\n- b\n", "top level must be a mapping", 1},
		{"top-level scalar", "just text\n", "top level must be a mapping", 1},
		{"list key", "[a, b]: c\n", "key must be plain text", 1},
		{"merge key", "base: &b {x: 1}\nk:\n  <<: *b\n", "merge keys", 3},
		{"empty key", "\"\": v\n", "key is empty", 1},
		{"undefined alias", "k: *nope\n", "unknown anchor", 0},
		{"tab indentation", "a:\n\tb: 1\n", "invalid YAML", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err, path := loadYAML(t, tc.yaml)
			require.Error(t, err)
			assert.Nil(t, c)
			var se *SyntaxError
			require.True(t, errors.As(err, &se), "%T %v", err, err)
			assert.Equal(t, path, se.File)
			assert.Contains(t, err.Error(), path)
			assert.Contains(t, err.Error(), tc.msg)
			if tc.line > 0 {
				assert.Equal(t, tc.line, se.Line)
				assert.Contains(t, err.Error(), path+":"+itoa(tc.line)+":")
			}
		})
	}
}

func TestFlinkConfAliasBombIsRefused(t *testing.T) {
	y := "a: &a [x, x, x, x, x, x, x, x, x, x]\n" +
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n" +
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n" +
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n" +
		"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
	_, err, _ := loadYAML(t, y)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "more than")
}

func TestDuplicateKeyLaterWinsWithWarning(t *testing.T) {
	c, err, path := loadYAML(t, "high-availability.zookeeper.path.root: /one\nrest.port: 1\nhigh-availability.zookeeper.path.root: /two\n")
	require.NoError(t, err)
	assert.Equal(t, "/two", c.PathRoot())
	ws := warningsAbout(c, ZKPathRoot.Key())
	require.Len(t, ws, 1)
	assert.Equal(t, path+":3: high-availability.zookeeper.path.root: is set again (first at line 1); the value on line 3 wins", ws[0].String())

	// Flat and nested spellings of the same key are duplicates too.
	c = mustLoadYAML(t, "rest.port: 1\nrest:\n  port: 2\n")
	assert.Equal(t, 2, c.RESTPort().First())
	require.Len(t, warningsAbout(c, RESTPort.Key()), 1)
}

func TestLoadDirErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := Load(Options{Dir: missing, LookupEnv: noEnv})
	require.Error(t, err)
	assert.Contains(t, err.Error(), missing)
	assert.ErrorIs(t, err, os.ErrNotExist)

	file := filepath.Join(writeDir(t, map[string]string{"f": "x"}), "f")
	_, err = Load(Options{Dir: file, LookupEnv: noEnv})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a directory")

	dir := writeDir(t, nil)
	require.NoError(t, os.Mkdir(filepath.Join(dir, FlinkConfFile), 0o700))
	_, err = Load(Options{Dir: dir, LookupEnv: noEnv})
	require.Error(t, err, "an unreadable flink-conf.yaml is an error")
	assert.Contains(t, err.Error(), FlinkConfFile)
}

func TestFlink119ConfigYAMLIsPointedOut(t *testing.T) {
	dir := writeDir(t, map[string]string{"config.yaml": "high-availability:\n  type: zookeeper\n"})
	c, err := Load(Options{Dir: dir, LookupEnv: noEnv})
	require.NoError(t, err)
	assert.Equal(t, HANone, c.HAMode())
	require.Len(t, c.Warnings(), 1)
	assert.Equal(t, filepath.Join(dir, "config.yaml")+": is not read: amkeeper reads flink-conf.yaml (Flink's flat or nested YAML); rename or copy it",
		c.Warnings()[0].String())
}
