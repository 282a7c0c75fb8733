package conf

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Options say where Load finds the configuration.
type Options struct {
	Dir           string                      // configuration directory holding flink-conf.yaml, masters, zoo.cfg; "" = defaults only
	Dynamic       []string                    // "key=value" items from -D, in order; later items win
	ApplicationID string                      // default for high-availability.cluster-id
	LookupEnv     func(string) (string, bool) // nil means os.LookupEnv
}

// EnvSecretDynamic carries the -D items whose keys are secrets
// (amkeeper.zookeeper.digest) from the supervisor to the processes it starts, one
// key=value per line: a process's command line is readable by every user
// (/proc/<pid>/cmdline), its environment only by its own. Load applies them
// after Options.Dynamic.
const EnvSecretDynamic = "AMKEEPER_SECRET_DYNAMIC"

// SplitSecretDynamic splits -D items into those that may go on a command line
// and those whose key is a secret (EnvSecretDynamic carries them), keeping the
// order within each. A secret item holding a line break is an error: it could not
// travel as one line.
func SplitSecretDynamic(items []string) (public, secret []string, err error) {
	for i, item := range items {
		k, _, _ := strings.Cut(item, "=")
		o, ok := byKey[strings.TrimSpace(k)]
		if !ok || !o.secret {
			public = append(public, item)
			continue
		}
		if strings.ContainsAny(item, "\r\n") {
			return nil, nil, fmt.Errorf("conf: -D item %d (%s): the value holds a line break", i+1, o.key)
		}
		secret = append(secret, item)
	}
	return public, secret, nil
}

// sources are the inputs of one build, read once by Load and shared (read-only) by
// every Config that With derives from it.
type sources struct {
	dir         string
	confPath    string     // "" when Dir is ""
	file        []rawEntry // flink-conf.yaml, in file order
	yarnSite    []rawEntry // the yarn-site.xml properties amkeeper takes (yarnSiteKeys)
	env         []rawEntry // registered environment variables that are set
	dynamic     []string
	appID       string
	masters     []Master // nil when there is no masters file
	mastersPath string
	mastersBad  []Problem
	zoo         *ZooCfg // nil when there is no zoo.cfg
	zooBad      []Problem
	notes       []Warning // warnings about the directory itself
}

// Load reads the configuration directory (if any), applies environment variables and
// -D overrides, and validates the result.
//
// It returns an error and a nil *Config when a file cannot be read or is not valid
// YAML, or when Dir does not exist. Otherwise it returns a usable *Config, and when
// some values are invalid also a *ValidationError listing every problem. Accessors of
// such a Config return the default in place of a value that failed its own checks
// (type, range); values that are only inconsistent with each other are kept.
func Load(o Options) (*Config, error) {
	src := &sources{dir: o.Dir, dynamic: slices.Clone(o.Dynamic), appID: o.ApplicationID}
	if o.Dir != "" {
		fi, err := os.Stat(o.Dir)
		if err != nil {
			return nil, fmt.Errorf("conf: configuration directory: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("conf: configuration directory %s: not a directory", o.Dir)
		}
		src.confPath = filepath.Join(o.Dir, FlinkConfFile)
		data, ok, err := readOptional(src.confPath)
		if err != nil {
			return nil, err
		}
		if ok {
			if src.file, err = parseFlinkConf(src.confPath, data); err != nil {
				return nil, err
			}
		} else if _, err := os.Stat(filepath.Join(o.Dir, "config.yaml")); err == nil {
			src.notes = append(src.notes, Warning{
				Origin: Origin{Kind: OriginFile, File: filepath.Join(o.Dir, "config.yaml")},
				Msg:    "is not read: amkeeper reads " + FlinkConfFile + " (Flink's flat or nested YAML); rename or copy it",
			})
		}
		src.mastersPath = filepath.Join(o.Dir, MastersFile)
		if data, ok, err = readOptional(src.mastersPath); err != nil {
			return nil, err
		} else if ok {
			src.masters, src.mastersBad = parseMasters(src.mastersPath, data)
		}
		zooPath := filepath.Join(o.Dir, ZooCfgFile)
		if data, ok, err = readOptional(zooPath); err != nil {
			return nil, err
		} else if ok {
			src.zoo, src.zooBad = parseZooCfg(zooPath, data)
		}
	}
	lookup := o.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	ys, err := readYarnSite(lookup)
	if err != nil {
		return nil, err
	}
	src.yarnSite = ys
	if v, ok := lookup(EnvSecretDynamic); ok {
		for _, item := range strings.Split(v, "\n") {
			if strings.TrimSpace(item) != "" {
				src.dynamic = append(src.dynamic, item)
			}
		}
	}
	for _, opt := range registry {
		if opt.env == "" {
			continue
		}
		if v, ok := lookup(opt.env); ok && strings.TrimSpace(v) != "" {
			src.env = append(src.env, rawEntry{key: opt.key, value: v, origin: Origin{Kind: OriginEnv, Env: opt.env}})
		}
	}
	return build(src)
}

func readOptional(path string) ([]byte, bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("conf: read %w", err)
	}
	return data, true, nil
}

// Config is a loaded, validated configuration. It is immutable: every method is safe
// for concurrent use, and With returns a new Config.
type Config struct {
	src      *sources
	dynamic  []string
	values   map[*Option]*setting
	raw      map[string]rawEntry // every literal key seen, highest-precedence source
	warnings []Warning
	problems []Problem
}

// setting is the effective value of one registered option.
type setting struct {
	text   string // as written, or the default text
	origin Origin
	set    bool // from a file, the environment or -D (not a default)
	valid  bool // text parsed and passed its checks
	parsed any  // the typed value; the parsed default when text is invalid; nil when unset without a default
}

// resolver carries one build's state; registry defaults and checks read from it.
type resolver struct {
	*Config
	appID string
}

func (r *resolver) haMode() HAMode {
	s, _ := r.values[HAType].parsed.(string)
	return HAMode(s)
}

func (r *resolver) problem(key, value string, origin Origin, msg string) {
	if o, ok := byKey[key]; ok && o.secret && value != "" {
		value = "******"
	}
	r.problems = append(r.problems, Problem{Key: key, Value: value, Origin: origin, Msg: msg})
}

func (r *resolver) warn(key string, origin Origin, format string, args ...any) {
	r.warnings = append(r.warnings, Warning{Key: key, Origin: origin, Msg: fmt.Sprintf(format, args...)})
}

func build(src *sources) (*Config, error) {
	return buildWith(src, src.dynamic)
}

func buildWith(src *sources, dynamic []string) (*Config, error) {
	c := &Config{
		src:     src,
		dynamic: dynamic,
		values:  make(map[*Option]*setting, len(registry)),
		raw:     map[string]rawEntry{},
	}
	r := &resolver{Config: c, appID: src.appID}
	r.warnings = append(r.warnings, src.notes...)
	r.problems = append(r.problems, src.mastersBad...)
	r.problems = append(r.problems, src.zooBad...)

	// Layer the literal keys: yarn-site.xml, then flink-conf.yaml, then environment,
	// then -D; later layers and, within a file, later lines win.
	for _, e := range src.yarnSite {
		c.raw[e.key] = e
	}
	for _, e := range src.file {
		if prev, dup := c.raw[e.key]; dup {
			r.warn(e.key, e.origin, "is set again (first at line %d); the value on line %d wins", prev.origin.Line, e.origin.Line)
		}
		c.raw[e.key] = e
	}
	for _, e := range src.env {
		c.raw[e.key] = e
	}
	var dyn []rawEntry
	for i, item := range dynamic {
		origin := Origin{Kind: OriginDynamic, Line: i + 1}
		k, v, ok := strings.Cut(item, "=")
		k = strings.TrimSpace(k)
		switch {
		case !ok:
			r.problem("", item, origin, "is not key=value")
			continue
		case k == "":
			r.problem("", item, origin, "has an empty key: want key=value")
			continue
		}
		e := rawEntry{key: k, value: strings.TrimSpace(v), origin: origin}
		dyn = append(dyn, e)
		c.raw[k] = e
	}
	r.unknownKeys(src.file, dyn)
	for _, e := range src.yarnSite {
		if w := c.raw[e.key]; w.origin.File != e.origin.File && w.value != e.value {
			r.warn(e.key, w.origin, "%q overrides %q from %s: amkeeper's own setting wins over the ResourceManager's yarn-site.xml",
				w.value, e.value, e.origin)
		}
	}

	for _, o := range registry {
		r.resolve(o)
	}
	r.crossCheck()
	r.warnNotHonoured()

	slices.SortStableFunc(c.warnings, func(a, b Warning) int {
		return cmp.Or(cmp.Compare(a.Origin.rank(), b.Origin.rank()), cmp.Compare(a.Origin.File, b.Origin.File),
			cmp.Compare(a.Origin.Line, b.Origin.Line))
	})
	if len(c.problems) > 0 {
		return c, &ValidationError{Problems: slices.Clone(c.problems)}
	}
	return c, nil
}

// maxSuggestions bounds the "did you mean" searches per build, so that a file with a
// huge number of unknown keys stays cheap to load.
const maxSuggestions = 200

// unknownKeys warns about keys under a known prefix that are not registered (a
// known Flink key amkeeper does not use, or an unknown one, with a "did you mean"),
// and about registered keys with an empty value in the file.
func (r *resolver) unknownKeys(layers ...[]rawEntry) {
	warned := map[string]bool{}
	for _, layer := range layers {
		for _, e := range layer {
			if _, known := byKey[e.key]; known {
				if e.origin.Kind == OriginFile && strings.TrimSpace(e.value) == "" {
					r.warn(e.key, e.origin, "has no value; the default applies")
				}
				continue
			}
			if warned[e.key] || !underKnownPrefix(e.key) {
				continue
			}
			warned[e.key] = true
			if ignoredKeySet[e.key] {
				r.warn(e.key, e.origin, "is a Flink key amkeeper recognises but does not use; it has no effect")
				continue
			}
			s := ""
			if len(warned) <= maxSuggestions {
				s = suggest(e.key)
			}
			if s != "" {
				r.warn(e.key, e.origin, "is not a key amkeeper knows; did you mean %s?", s)
			} else {
				r.warn(e.key, e.origin, "is not a key amkeeper knows; it is ignored")
			}
		}
	}
}

// resolve picks the effective value of o: the highest-precedence source that sets
// the current name or a deprecated one; within a source the current name, then the
// deprecated names in priority order. It warns once about each deprecated name set.
func (r *resolver) resolve(o *Option) {
	var win *rawEntry
	for _, name := range append([]string{o.key}, o.deprecated...) {
		if e, ok := r.raw[name]; ok && (win == nil || e.origin.rank() > win.origin.rank()) {
			win = &e
		}
	}
	for _, name := range o.deprecated {
		e, ok := r.raw[name]
		if !ok {
			continue
		}
		if win != nil && win.key == name {
			r.warn(name, e.origin, "is deprecated: use %s", o.key)
		} else {
			r.warn(name, e.origin, "is deprecated and ignored: %s is set at %s; use %s", win.key, win.origin.String(), o.key)
		}
	}

	s := &setting{valid: true}
	r.values[o] = s
	if win != nil && strings.TrimSpace(win.value) != "" {
		s.text, s.origin, s.set = win.value, win.origin, true
		if win.key != o.key {
			s.origin.AsKey = win.key
		}
		v, msg := o.parseValue(win.value)
		if msg == "" {
			s.parsed = v
			return
		}
		s.valid = false
		r.problem(o.key, win.value, s.origin, msg)
	}
	def := o.def
	if o.defFn != nil {
		def = o.defFn(r)
	}
	if def == "" {
		return
	}
	v, msg := o.parseValue(def)
	if msg != "" {
		r.problem(o.key, def, Origin{Kind: OriginDefault}, msg)
		return
	}
	s.parsed = v
	if !s.set {
		s.text, s.origin = def, Origin{Kind: OriginDefault}
	}
}

// Warnings returns what Load found worth telling but not fatal, ordered by where it
// was found: files by line, then environment, then -D.
func (c *Config) Warnings() []Warning { return slices.Clone(c.warnings) }

// Entry is the effective value of one registered option.
type Entry struct {
	Option *Option
	Value  string // as written, or the default; "" when unset without a default
	Origin Origin
	Set    bool // from a file, the environment or -D rather than a default
}

// Display returns the value for printing: "******" for a secret that is set.
func (e Entry) Display() string {
	if e.Option != nil && e.Option.secret && e.Value != "" {
		return "******"
	}
	return e.Value
}

// Entries lists every registered option with its effective value, in registry order.
func (c *Config) Entries() []Entry {
	out := make([]Entry, 0, len(registry))
	for _, o := range registry {
		out = append(out, c.Entry(o))
	}
	return out
}

// Entry returns the effective value of one option.
func (c *Config) Entry(o *Option) Entry {
	s := c.values[o]
	if s == nil {
		return Entry{Option: o}
	}
	return Entry{Option: o, Value: s.text, Origin: s.origin, Set: s.set}
}

// IsSet reports whether the option was given in a file, the environment or -D (under
// its current or a deprecated name) rather than left to its default.
func (c *Config) IsSet(o *Option) bool {
	s := c.values[o]
	return s != nil && s.set
}

// Raw returns any key exactly as it was seen, including keys amkeeper does not know
// and deprecated names, from the highest-precedence source that set it.
func (c *Config) Raw(key string) (string, Origin, bool) {
	e, ok := c.raw[key]
	return e.value, e.origin, ok
}

// Keys lists every literal key seen in the file, the environment or -D, sorted.
func (c *Config) Keys() []string {
	keys := make([]string, 0, len(c.raw))
	for k := range c.raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Dir is the configuration directory ("" when only defaults and overrides were used).
func (c *Config) Dir() string { return c.src.dir }

// With returns a copy of c with more -D overrides applied after the existing ones,
// validated afresh. The files are not read again.
func (c *Config) With(dynamic ...string) (*Config, error) {
	all := append(slices.Clone(c.dynamic), dynamic...)
	return buildWith(c.src, all)
}

// Dynamic returns the -D items applied, in order.
func (c *Config) Dynamic() []string { return slices.Clone(c.dynamic) }
