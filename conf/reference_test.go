package conf

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md from the registry")

var referencePath = filepath.Join("..", "docs", "configuration.md")

// TestConfigurationReference fails when docs/configuration.md is not what
// WriteReference generates. Regenerate it with
//
//	go test ./conf -run TestConfigurationReference -update
func TestConfigurationReference(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteReference(&buf))
	if *update {
		require.NoError(t, os.WriteFile(referencePath, buf.Bytes(), 0o644))
	}
	got, err := os.ReadFile(referencePath)
	require.NoError(t, err, "generate it: go test ./conf -run TestConfigurationReference -update")
	if !bytes.Equal(got, buf.Bytes()) {
		t.Fatalf("%s is out of date with the registry: run go test ./conf -run TestConfigurationReference -update", referencePath)
	}
}

func TestReferenceNamesEveryKey(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteReference(&buf))
	doc := buf.String()
	for _, o := range Registry() {
		assert.Contains(t, doc, "| `"+o.Key()+"` |")
		for _, d := range o.Deprecated() {
			assert.Contains(t, doc, "`"+d+"`")
		}
		if o.Env() != "" {
			assert.Contains(t, doc, o.Env())
		}
	}
	for _, g := range groupOrder {
		assert.Contains(t, doc, "\n## "+string(g)+"\n")
	}
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "| `") {
			assert.Equal(t, 5, strings.Count(line, "|")-strings.Count(line, `\|`), "a table row has four cells: %s", line)
		}
	}
}
