package hdfsstore

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"unicode/utf8"
)

// TempPrefix starts the name of every temporary file a Put writes before it renames
// the file over its final name. Names may not contain a component with this prefix,
// and List never returns one.
const TempPrefix = ".amk-tmp-"

// maxComponent is the longest component HDFS and common local file systems accept.
const maxComponent = 255

const nameRule = `want slash-separated components of [A-Za-z0-9._-], 1 to 255 bytes each, ` +
	`none "." or ".." or starting with "` + TempPrefix + `", no leading or trailing slash`

// ValidateName reports whether name can name an object: a relative, slash-separated
// path such as "<cluster>/jobgraphs/submittedJobGraph-abc" whose components are
// made of [A-Za-z0-9._-], are 1 to 255 bytes long, are neither "." nor "..", and do
// not start with TempPrefix. The error matches ErrInvalidName and names both the
// name and the rule it breaks.
func ValidateName(name string) error {
	if name == "" {
		return invalidName("name", name, "empty")
	}
	if why := checkPath(name); why != "" {
		return invalidName("name", name, why)
	}
	return nil
}

// splitPrefix splits a List or RemoveAll prefix at its last slash into a directory,
// which must be a valid name (or empty), and the partial last component, which is
// only compared as a string.
func splitPrefix(prefix string) (dir, partial string, err error) {
	i := strings.LastIndexByte(prefix, '/')
	if i < 0 {
		return "", prefix, nil
	}
	dir, partial = prefix[:i], prefix[i+1:]
	if dir == "" {
		return "", "", invalidName("name prefix", prefix, "leading slash")
	}
	if why := checkPath(dir); why != "" {
		return "", "", invalidName("name prefix", prefix, why)
	}
	return dir, partial, nil
}

// checkPath returns why the non-empty slash-separated path p is not a valid name,
// or "" if it is.
func checkPath(p string) string {
	if p[0] == '/' {
		return "leading slash"
	}
	if p[len(p)-1] == '/' {
		return "trailing slash"
	}
	for c := range strings.SplitSeq(p, "/") {
		if why := checkComponent(c); why != "" {
			return why
		}
	}
	return ""
}

// checkComponent returns why c is not a valid name component, or "".
func checkComponent(c string) string {
	switch {
	case c == "":
		return "empty component"
	case c == "." || c == "..":
		return fmt.Sprintf("component %q", c)
	case len(c) > maxComponent:
		return fmt.Sprintf("component of %d bytes", len(c))
	case strings.HasPrefix(c, TempPrefix):
		return fmt.Sprintf("component %q has the temporary-file prefix", c)
	}
	for i := 0; i < len(c); i++ {
		if !nameByte(c[i]) {
			r, _ := utf8.DecodeRuneInString(c[i:])
			return fmt.Sprintf("component %q contains %q", c, r)
		}
	}
	return ""
}

func nameByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
		b == '.' || b == '_' || b == '-'
}

func invalidName(what, name, why string) error {
	return fmt.Errorf("%w: %s %q: %s; %s", ErrInvalidName, what, name, why, nameRule)
}

// dirEntry is one entry of a backend's directory listing, as walkObjects needs it.
type dirEntry struct {
	name   string
	dir    bool // a directory to descend into
	object bool // a stored object (not a directory, link or device)
}

// walkObjects returns, sorted, the objects under the slash-separated directory rel
// whose last component starts with partial, and every object below the
// subdirectories that do; temporaries and foreign names are skipped. readDir lists
// one directory; a directory that does not exist holds nothing.
func walkObjects(ctx context.Context, rel, partial string, readDir func(rel string) ([]dirEntry, error)) ([]string, error) {
	var names []string
	var walk func(rel, partial string) error
	walk = func(rel, partial string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		entries, err := readDir(rel)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.name, partial) || checkComponent(e.name) != "" {
				continue // also skips temporaries
			}
			name := path.Join(rel, e.name)
			switch {
			case e.dir:
				if err := walk(name, ""); err != nil {
					return err
				}
			case e.object:
				names = append(names, name)
			}
		}
		return nil
	}
	if err := walk(rel, partial); err != nil {
		return nil, err
	}
	slices.Sort(names)
	return names, nil
}
