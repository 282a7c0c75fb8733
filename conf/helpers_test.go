package conf

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// noEnv keeps the test process's environment out of Load.
func noEnv(string) (string, bool) { return "", false }

// envOf returns a LookupEnv backed by a map.
func envOf(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

// writeDir creates a configuration directory holding files (name → content).
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
	}
	return dir
}

// loadYAML loads a directory whose flink-conf.yaml is content, with -D items.
func loadYAML(t *testing.T, content string, dynamic ...string) (*Config, error, string) {
	t.Helper()
	dir := writeDir(t, map[string]string{FlinkConfFile: content})
	c, err := Load(Options{Dir: dir, Dynamic: dynamic, LookupEnv: noEnv})
	return c, err, filepath.Join(dir, FlinkConfFile)
}

// mustLoadYAML is loadYAML for configurations that must be valid.
func mustLoadYAML(t *testing.T, content string, dynamic ...string) *Config {
	t.Helper()
	c, err, _ := loadYAML(t, content, dynamic...)
	require.NoError(t, err)
	require.NotNil(t, c)
	return c
}

// problemsOf returns the problems of a *ValidationError, failing the test otherwise.
func problemsOf(t *testing.T, err error) []Problem {
	t.Helper()
	var ve *ValidationError
	require.True(t, errors.As(err, &ve), "want a *ValidationError, got %v", err)
	require.NotEmpty(t, ve.Problems)
	return ve.Problems
}

// warningsAbout returns the warnings about key.
func warningsAbout(c *Config, key string) []Warning {
	var out []Warning
	for _, w := range c.Warnings() {
		if w.Key == key {
			out = append(out, w)
		}
	}
	return out
}

func warningText(c *Config) string {
	var lines []string
	for _, w := range c.Warnings() {
		lines = append(lines, w.String())
	}
	return strings.Join(lines, "\n")
}

func itoa(n int) string { return strconv.Itoa(n) }
