package conf

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// YarnSiteFile is the YARN configuration file Load reads from YARN_CONF_DIR, else
// HADOOP_CONF_DIR, as Flink's YARN client finds it.
const YarnSiteFile = "yarn-site.xml"

// yarnSiteKeys are the yarn-site.xml properties amkeeper takes: the ones of the
// ResourceManager, whose role the supervisor plays.
var yarnSiteKeys = map[string]bool{YarnAMMaxAttempts.key: true}

// readYarnSite finds yarn-site.xml in YARN_CONF_DIR, else HADOOP_CONF_DIR, and
// returns its properties amkeeper takes (yarnSiteKeys) as entries with their
// file:line origin. No variable set, or no file, is nothing; an unreadable or
// malformed file is an error naming it.
func readYarnSite(lookup func(string) (string, bool)) ([]rawEntry, error) {
	var dir string
	for _, env := range []string{"YARN_CONF_DIR", "HADOOP_CONF_DIR"} {
		if v, ok := lookup(env); ok && strings.TrimSpace(v) != "" {
			dir = strings.TrimSpace(v)
			break
		}
	}
	if dir == "" {
		return nil, nil
	}
	path := filepath.Join(dir, YarnSiteFile)
	data, ok, err := readOptional(path)
	if err != nil || !ok {
		return nil, err
	}
	return parseYarnSite(path, data)
}

// parseYarnSite reads Hadoop's <configuration><property><name/><value/></property>
// form. A later property of the same name wins, as in Hadoop (final is not
// modelled: there is one file).
func parseYarnSite(path string, data []byte) ([]rawEntry, error) {
	dec := xml.NewDecoder(strings.NewReader(string(data)))
	var out []rawEntry
	var name, value, field string
	var line, depth int
	lineAt := func() int {
		off := int(dec.InputOffset())
		return 1 + strings.Count(string(data[:min(off, len(data))]), "\n")
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("conf: %s: not Hadoop configuration XML: %w", path, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case t.Name.Local == "property" && depth == 2:
				name, value, line = "", "", lineAt()
			case depth == 3:
				field = t.Name.Local
			}
		case xml.CharData:
			if depth == 3 {
				switch field {
				case "name":
					name += string(t)
				case "value":
					value += string(t)
				}
			}
		case xml.EndElement:
			if depth == 3 {
				field = ""
			}
			if depth == 2 && t.Name.Local == "property" {
				if k := strings.TrimSpace(name); yarnSiteKeys[k] {
					out = append(out, rawEntry{key: k, value: strings.TrimSpace(value),
						origin: Origin{Kind: OriginFile, File: path, Line: line}})
				}
			}
			depth--
		}
	}
	return out, nil
}
