package job

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const seedSpec = `# the seed's HighAvailabilityDemo
name: HA JobManager Demo
parallelism: 1
checkpointInterval: 5 s
pipeline:
  - sequence:
      rate: 100ms
  - countWindowAll:
      size: 100
      aggregate: sum
  - file:
      path: counts
`

func TestParseSpecSeed(t *testing.T) {
	spec, err := ParseSpec([]byte(seedSpec), "seed.yaml")
	require.NoError(t, err)
	assert.Equal(t, "HA JobManager Demo", spec.Name)
	assert.Equal(t, 1, spec.Parallelism)
	assert.Equal(t, 5*time.Second, spec.CheckpointInterval)
	require.Len(t, spec.Pipeline, 3)
	assert.Equal(t, &SequenceConfig{Rate: "100ms"}, spec.Pipeline[0].Config)
	assert.Equal(t, &CountWindowAllConfig{Size: 100, Aggregate: "sum"}, spec.Pipeline[1].Config)
	assert.Equal(t, &FileSinkConfig{Path: "counts"}, spec.Pipeline[2].Config)
}

func TestParseSpecDefaults(t *testing.T) {
	spec, err := ParseSpec([]byte(`
name: minimal
pipeline: [{sequence: }, {countWindowAll: {size: 3}}, {file: {path: a/b}}]
`), "min.yaml")
	require.NoError(t, err)
	assert.Equal(t, 1, spec.Parallelism)
	assert.Zero(t, spec.CheckpointInterval)
	assert.Equal(t, 7*time.Second, spec.IntervalOr(7*time.Second), "the caller's execution.checkpointing.interval")
	spec.CheckpointInterval = time.Second
	assert.Equal(t, time.Second, spec.IntervalOr(7*time.Second))
}

func TestParseSpecErrors(t *testing.T) {
	base := func(repl ...string) string { return strings.NewReplacer(repl...).Replace(seedSpec) }
	cases := []struct {
		name, spec string
		want       []string // substrings of the error
	}{
		{"yaml syntax", "name: [x\n", []string{"job.yaml:", "not valid YAML"}},
		{"empty", "", []string{"job.yaml: empty file"}},
		{"not a mapping", "- a\n", []string{"job.yaml:1: want a mapping"}},
		{"unknown key", base("parallelism: 1", "paralelism: 1"), []string{"job.yaml:3: paralelism: unknown key; want one of name, parallelism"}},
		{"no name", base("name: HA JobManager Demo\n", ""), []string{"name: missing"}},
		{"bad parallelism", base("parallelism: 1", "parallelism: 0"), []string{"job.yaml:3: parallelism:", "want an integer from 1 to 32768"}},
		{"bad interval", base("5 s", "5 parsecs"), []string{"job.yaml:4: checkpointInterval:", "5 s, 500ms"}},
		{"no pipeline", "name: x\n", []string{"pipeline: missing", "countWindowAll, file, sequence"}},
		{"unknown operator", base("countWindowAll:", "countWindow:"), []string{"job.yaml:8: pipeline[1]: unknown operator \"countWindow\"; want one of countWindowAll, file, sequence"}},
		{"bad size", base("size: 100", "size: zero"), []string{"job.yaml:9: pipeline[1].countWindowAll.size: \"zero\": want an integer"}},
		{"size below 1", base("size: 100", "size: 0"), []string{"job.yaml:9: pipeline[1].countWindowAll.size: 0: want the number of records per window, ≥ 1"}},
		{"missing size", base("      size: 100\n", ""), []string{"job.yaml:9: pipeline[1].countWindowAll.size: 0"}},
		{"bad aggregate", base("aggregate: sum", "aggregate: max"), []string{"job.yaml:10: pipeline[1].countWindowAll.aggregate: \"max\": want sum"}},
		{"unknown field", base("rate: 100ms", "rat: 100ms"), []string{"job.yaml:7: pipeline[0].sequence.rat: unknown field; want end, rate"}},
		{"bad rate", base("rate: 100ms", "rate: fast"), []string{"job.yaml:7: pipeline[0].sequence.rate:", `"10/s"`}},
		{"bad rate unit", base("rate: 100ms", "rate: 10/fortnight"), []string{"job.yaml:7: pipeline[0].sequence.rate:"}},
		{"negative end", base("rate: 100ms", "end: -1"), []string{"job.yaml:7: pipeline[0].sequence.end: -1"}},
		{"bad path", base("path: counts", "path: ../up"), []string{"job.yaml:12: pipeline[2].file.path:", `".."`}},
		{"no path", base("path: counts", "{}"), []string{"job.yaml:12: pipeline[2].file.path: missing"}},
		{"sink first", "name: x\npipeline:\n  - file: {path: a}\n  - sequence: {}\n", []string{"job.yaml:3: pipeline[0].file: a sink cannot be step 1 of 2"}},
		{"one step", "name: x\npipeline:\n  - sequence: {}\n", []string{"job.yaml:3: pipeline: want a list of at least a source and a sink"}},
		{"two keys", "name: x\npipeline:\n  - {sequence: {}, file: {}}\n  - file: {path: a}\n", []string{"job.yaml:3: pipeline[0]: want a mapping with one key"}},
		{"duplicate", base("parallelism: 1", "name: again"), []string{"job.yaml:3: name: set twice (first on line 2)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSpec([]byte(c.spec), "job.yaml")
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrInvalidSpec))
			var se *SpecError
			require.True(t, errors.As(err, &se))
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"": 0, "10/s": 100 * time.Millisecond, "600/min": 100 * time.Millisecond, "100ms": 100 * time.Millisecond,
		"1 s": time.Second, "250": 250 * time.Millisecond, "1/h": time.Hour,
	} {
		got, err := ParseRate(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"0/s", "-1/s", "x/s", "10/", "0ms", "fast", "1.5/s", "10/ns x"} {
		_, err := ParseRate(in)
		assert.Error(t, err, in)
	}
}

func TestGraphRoundTrip(t *testing.T) {
	spec, err := ParseSpec([]byte(seedSpec), "seed.yaml")
	require.NoError(t, err)
	end := int64(1000)
	spec.Pipeline[0].Config.(*SequenceConfig).End = &end
	g := Graph{ID: NewJobID(), Spec: spec}
	_, err = ParseJobID(string(g.ID))
	require.NoError(t, err)
	b, err := g.Encode()
	require.NoError(t, err)
	back, err := DecodeGraph(b)
	require.NoError(t, err)
	assert.Equal(t, g, back)

	for name, bad := range map[string]string{
		"garbage":     `{`,
		"version":     strings.Replace(string(b), `"version":1`, `"version":9`, 1),
		"job ID":      strings.Replace(string(b), string(g.ID), "ABC", 1),
		"operator":    strings.Replace(string(b), `"countWindowAll"`, `"nope"`, 1),
		"field":       strings.Replace(string(b), `"size":100`, `"sise":100`, 1),
		"invalid cfg": strings.Replace(string(b), `"size":100`, `"size":0`, 1),
	} {
		_, err := DecodeGraph([]byte(bad))
		assert.ErrorIs(t, err, ErrInvalidGraph, name)
	}
	_, err = Graph{ID: "nope", Spec: spec}.Encode()
	assert.ErrorIs(t, err, ErrInvalidJobID)
}

func TestRegistry(t *testing.T) {
	b := Builtins()
	var kinds []Kind
	for _, n := range b.Names() {
		k, _ := b.Lookup(n)
		kinds = append(kinds, k)
	}
	_, err := NewRegistry(kinds...)
	require.NoError(t, err, "the built-in table passes NewRegistry's checks")
	_, err = NewRegistry(append(kinds, kinds[0])...)
	assert.ErrorContains(t, err, "registered twice")
	_, err = NewRegistry(Kind{Name: "odd", New: func() OperatorConfig { return oddConfig{} }})
	assert.ErrorContains(t, err, "neither")

	// A registry with one more operator parses specs that use it.
	reg, err := NewRegistry(append(kinds, Kind{Name: "double", New: func() OperatorConfig { return &doubleConfig{} }})...)
	require.NoError(t, err)
	spec, err := reg.ParseSpec([]byte("name: d\npipeline: [{sequence: {end: 3}}, {double: }, {file: {path: d}}]\n"), "d.yaml")
	require.NoError(t, err)
	g := Graph{ID: testJobID, Spec: spec}
	enc, err := g.Encode()
	require.NoError(t, err)
	back, err := reg.DecodeGraph(enc)
	require.NoError(t, err)
	assert.Equal(t, g, back)
	_, err = DecodeGraph(enc)
	assert.ErrorIs(t, err, ErrInvalidGraph, "the built-ins do not know double")
}

type oddConfig struct{}

func (oddConfig) Validate() error { return nil }

// doubleConfig is the smallest operator: it shows what adding one takes.
type doubleConfig struct{}

func (*doubleConfig) Validate() error                          { return nil }
func (*doubleConfig) NewTransform(Instance) (Transform, error) { return doubler{}, nil }

type doubler struct{}

func (doubler) Process(v int64, emit Emit) error { return emit(2 * v) }
func (doubler) SnapshotState() ([]byte, error)   { return nil, nil }
func (doubler) RestoreState([]byte) error        { return nil }
