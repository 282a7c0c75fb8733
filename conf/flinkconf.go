package conf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FlinkConfFile is the name of the main configuration file inside Options.Dir.
const FlinkConfFile = "flink-conf.yaml"

// rawEntry is one key as written in one source, before it is matched to an option.
type rawEntry struct {
	key    string
	value  string
	origin Origin
}

// SyntaxError is a flink-conf.yaml that is not valid YAML, or whose structure is not
// a mapping of keys to values.
type SyntaxError struct {
	File string
	Line int // 0 when the parser did not say
	Msg  string
	Err  error // the YAML parser's error, if any
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("conf: %s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("conf: %s: %s", e.File, e.Msg)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// Limits that keep a hostile file (alias bombs, deep nesting) cheap to reject.
const (
	maxYAMLDepth  = 64
	maxYAMLValues = 20000
)

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseFlinkConf reads flink-conf.yaml content in Flink's flat form ("a.b.c: v"), the
// nested form ("a: {b: {c: v}}") or a mix, and returns the flattened keys in file
// order. Sequences become comma-joined values. Every document of a multi-document
// file is read, in order.
func parseFlinkConf(path string, data []byte) (entries []rawEntry, err error) {
	defer func() {
		// The YAML parser is third-party code fed arbitrary bytes: never let a bug in
		// it take the process down.
		if r := recover(); r != nil {
			entries, err = nil, &SyntaxError{File: path, Msg: fmt.Sprintf("cannot parse: %v", r)}
		}
	}()
	f := &flattener{path: path, budget: maxYAMLValues}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, yamlError(path, err)
		}
		if err := f.document(&doc); err != nil {
			return nil, err
		}
	}
	return f.entries, nil
}

func yamlError(path string, err error) error {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &SyntaxError{File: path, Line: line, Msg: "invalid YAML: " + m[2], Err: err}
	}
	return &SyntaxError{File: path, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: "), Err: err}
}

type flattener struct {
	path    string
	entries []rawEntry
	budget  int
}

func (f *flattener) errorf(line int, format string, args ...any) error {
	return &SyntaxError{File: f.path, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (f *flattener) document(doc *yaml.Node) error {
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil // empty document or comments only
	}
	top := deref(doc.Content[0])
	switch {
	case top.Kind == yaml.MappingNode:
		return f.mapping("", top, 0, 0)
	case top.Kind == yaml.ScalarNode && top.Tag == "!!null":
		return nil
	default:
		return f.errorf(top.Line, "the top level must be a mapping of keys to values (key: value)")
	}
}

// mapping flattens m's keys under prefix. aliasLine, when not 0, is the line of the
// alias through which m is reached: keys expanded from an alias are reported there.
func (f *flattener) mapping(prefix string, m *yaml.Node, depth, aliasLine int) error {
	if depth > maxYAMLDepth {
		return f.errorf(m.Line, "nested more than %d levels deep", maxYAMLDepth)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := deref(m.Content[i])
		if k.Kind != yaml.ScalarNode {
			return f.errorf(k.Line, "a key must be plain text, not a list or a mapping")
		}
		if k.Tag == "!!merge" {
			return f.errorf(k.Line, "merge keys (<<) are not supported")
		}
		key := strings.TrimSpace(k.Value)
		if key == "" {
			return f.errorf(k.Line, "a key is empty")
		}
		line := k.Line
		if aliasLine > 0 {
			line = aliasLine
		}
		if err := f.value(prefix+key, m.Content[i+1], line, depth, aliasLine); err != nil {
			return err
		}
	}
	return nil
}

func (f *flattener) value(key string, n *yaml.Node, line, depth, aliasLine int) error {
	f.budget--
	if f.budget < 0 {
		return f.errorf(line, "more than %d values (an alias expanding too far?)", maxYAMLValues)
	}
	if n.Kind == yaml.AliasNode && aliasLine == 0 {
		aliasLine = line
	}
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		return f.mapping(key+".", n, depth+1, aliasLine)
	case yaml.SequenceNode:
		s, err := f.sequence(n, depth+1)
		if err != nil {
			return err
		}
		f.add(key, s, line)
	default:
		f.add(key, scalarText(n), line)
	}
	return nil
}

func (f *flattener) add(key, value string, line int) {
	f.entries = append(f.entries, rawEntry{key: key, value: value, origin: Origin{Kind: OriginFile, File: f.path, Line: line}})
}

// sequence joins a list's items with ",": nested lists are flattened, mappings are
// written in YAML flow style.
func (f *flattener) sequence(n *yaml.Node, depth int) (string, error) {
	if depth > maxYAMLDepth {
		return "", f.errorf(n.Line, "nested more than %d levels deep", maxYAMLDepth)
	}
	parts := make([]string, 0, len(n.Content))
	for _, item := range n.Content {
		f.budget--
		if f.budget < 0 {
			return "", f.errorf(n.Line, "more than %d values (an alias expanding too far?)", maxYAMLValues)
		}
		item = deref(item)
		switch item.Kind {
		case yaml.SequenceNode:
			s, err := f.sequence(item, depth+1)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		case yaml.MappingNode:
			flow := *item
			flow.Style = yaml.FlowStyle
			out, err := yaml.Marshal(&flow)
			if err != nil {
				return "", f.errorf(item.Line, "cannot render a list item: %v", err)
			}
			parts = append(parts, strings.TrimSpace(string(out)))
		default:
			parts = append(parts, scalarText(item))
		}
	}
	return strings.Join(parts, ","), nil
}

func scalarText(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

// deref follows aliases to the anchored node. The parser rejects an alias to an
// anchor that is not yet defined, so chains are finite.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < maxYAMLDepth; i++ {
		n = n.Alias
	}
	return n
}
