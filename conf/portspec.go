package conf

import (
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
)

// PortSpec is a set of TCP ports to try, in order: a single port ("50010"), a range
// ("50000-50025") or a comma-separated list of both ("50010,50011,50020-50025"), as
// Flink accepts for high-availability.jobmanager.port. The spec "0" means "any free
// port"; the zero PortSpec is the same as "0". A PortSpec is an immutable value.
type PortSpec struct {
	ranges []portRange // in the order written; empty means any port
}

type portRange struct{ lo, hi int }

// ParsePortSpec parses a port spec. Entries are separated by commas (spaces around
// them are ignored); each is a port in 1..65535 or a range lo-hi with lo <= hi. "0"
// is valid only on its own. Anything else is an error naming the value and the entry.
func ParsePortSpec(s string) (PortSpec, error) {
	p, err := parsePortSpec(s)
	if err != nil {
		return PortSpec{}, fmt.Errorf("conf: port spec %q: %w", s, err)
	}
	return p, nil
}

func parsePortSpec(s string) (PortSpec, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return PortSpec{}, errors.New("it is empty: want a port, a range lo-hi or a list, or 0 for any port")
	}
	items := strings.Split(t, ",")
	var spec PortSpec
	for _, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			return PortSpec{}, errors.New("it has an empty entry")
		}
		loText, hiText, isRange := strings.Cut(item, "-")
		lo, err := parsePortNumber(strings.TrimSpace(loText))
		if err != nil {
			return PortSpec{}, fmt.Errorf("entry %q: %w", item, err)
		}
		hi := lo
		if isRange {
			hi, err = parsePortNumber(strings.TrimSpace(hiText))
			if err != nil {
				return PortSpec{}, fmt.Errorf("entry %q: %w", item, err)
			}
			if hi < lo {
				return PortSpec{}, fmt.Errorf("entry %q: the range is reversed: want lo-hi with lo <= hi", item)
			}
		}
		if lo == 0 || hi == 0 {
			if len(items) == 1 && !isRange {
				return PortSpec{}, nil
			}
			return PortSpec{}, fmt.Errorf("entry %q: port 0 (any free port) must stand alone", item)
		}
		spec.ranges = append(spec.ranges, portRange{lo, hi})
	}
	return spec, nil
}

func parsePortNumber(s string) (int, error) {
	if s == "" {
		return 0, errors.New("a port is missing")
	}
	if leadingDigits(s) != s {
		return 0, errors.New("not a number")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > 65535 {
		return 0, errors.New("port is above 65535")
	}
	return n, nil
}

// IsAny reports whether the spec is "0": bind any free port.
func (p PortSpec) IsAny() bool { return len(p.ranges) == 0 }

// String returns the canonical form, which ParsePortSpec reads back to the same
// ports: entries in the order written, without spaces or leading zeros, a range with
// equal ends written as one port.
func (p PortSpec) String() string {
	if p.IsAny() {
		return "0"
	}
	var b strings.Builder
	for i, r := range p.ranges {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(r.lo))
		if r.hi != r.lo {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(r.hi))
		}
	}
	return b.String()
}

// Ports yields each port to try, in the order written, each port once. For "0" it
// yields 0 once, meaning "let the system pick".
func (p PortSpec) Ports() iter.Seq[int] {
	return func(yield func(int) bool) {
		if p.IsAny() {
			yield(0)
			return
		}
		var seen [65536 / 64]uint64
		for _, r := range p.ranges {
			for port := r.lo; port <= r.hi; port++ {
				if seen[port/64]&(1<<(port%64)) != 0 {
					continue
				}
				seen[port/64] |= 1 << (port % 64)
				if !yield(port) {
					return
				}
			}
		}
	}
}

// First is the first port to try (0 for any free port).
func (p PortSpec) First() int {
	if p.IsAny() {
		return 0
	}
	return p.ranges[0].lo
}

// Contains reports whether port is in the spec. Every port is "in" the any-port spec.
func (p PortSpec) Contains(port int) bool {
	if p.IsAny() {
		return port >= 0 && port <= 65535
	}
	for _, r := range p.ranges {
		if port >= r.lo && port <= r.hi {
			return true
		}
	}
	return false
}

// Len is the number of distinct ports Ports yields (1 for the any-port spec).
func (p PortSpec) Len() int {
	n := 0
	for range p.Ports() {
		n++
	}
	return n
}
