package conf

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// durationUnits lists the unit labels ParseDuration accepts (matched after lower-casing),
// Flink's TimeUtils labels plus the plural and "us" spellings operators also write.
var durationUnits = []struct {
	unit   time.Duration
	labels []string
}{
	{24 * time.Hour, []string{"d", "day", "days"}},
	{time.Hour, []string{"h", "hour", "hours"}},
	{time.Minute, []string{"min", "m", "mins", "minute", "minutes"}},
	{time.Second, []string{"s", "sec", "secs", "second", "seconds"}},
	{time.Millisecond, []string{"ms", "milli", "millis", "millisecond", "milliseconds"}},
	{time.Microsecond, []string{"us", "µs", "μs", "micro", "micros", "microsecond", "microseconds"}},
	{time.Nanosecond, []string{"ns", "nano", "nanos", "nanosecond", "nanoseconds"}},
}

// ParseDuration parses a duration the way Flink's TimeUtils.parseDuration does: a
// non-negative decimal integer, optional spaces, and an optional unit label
// (case-insensitive): d, h, m/min, s/sec, ms/milli, us/µs/micro, ns/nano, each also
// spelled out and in the plural (minutes, seconds, ...). A number without a unit is
// milliseconds: "60000", "60 s", "1 min" and "500ms" are all valid. Fractions,
// signs and compound forms ("1h30m") are not; neither is a value beyond Go's
// time.Duration range (about 292 years).
func ParseDuration(s string) (time.Duration, error) {
	d, err := parseSignedDuration(s, false)
	if err != nil {
		return 0, fmt.Errorf("conf: duration %q: %w", s, err)
	}
	return d, nil
}

// parseSignedDuration is ParseDuration that also accepts a leading minus sign when
// signed is true (for options where a negative value has a meaning). Its errors do
// not repeat the value.
func parseSignedDuration(s string, signed bool) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("it is empty")
	}
	neg := false
	if signed && strings.HasPrefix(t, "-") {
		neg = true
		t = t[1:]
	}
	digits := leadingDigits(t)
	if digits == "" {
		if strings.HasPrefix(t, "-") {
			return 0, errors.New("it is negative")
		}
		return 0, errors.New("it does not start with a number")
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, errors.New("it is too large")
	}
	label := strings.ToLower(strings.TrimSpace(t[len(digits):]))
	unit := time.Millisecond
	if label != "" {
		u, ok := durationUnit(label)
		if !ok {
			return 0, fmt.Errorf("unknown unit %q: want %s", label, durationUnitList())
		}
		unit = u
	}
	if n > math.MaxInt64/int64(unit) {
		return 0, errors.New("it is too large (more than 292 years)")
	}
	d := time.Duration(n) * unit
	if neg {
		d = -d
	}
	return d, nil
}

func durationUnit(label string) (time.Duration, bool) {
	for _, u := range durationUnits {
		for _, l := range u.labels {
			if l == label {
				return u.unit, true
			}
		}
	}
	return 0, false
}

// durationUnitList renders the unit labels for error messages and the reference.
func durationUnitList() string {
	var parts []string
	for _, u := range durationUnits {
		parts = append(parts, strings.Join(u.labels, "/"))
	}
	return strings.Join(parts, ", ")
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// FormatDuration renders d in the largest unit that represents it exactly, in a form
// ParseDuration reads back: "1 min", "60001 ms", "0 ms". It is what the CLI listing
// and the reference show.
func FormatDuration(d time.Duration) string {
	sign := ""
	if d < 0 {
		if d == math.MinInt64 {
			return "-9223372036854775808 ns"
		}
		sign, d = "-", -d
	}
	if d == 0 {
		return "0 ms"
	}
	for _, u := range durationUnits {
		if d%u.unit == 0 {
			return fmt.Sprintf("%s%d %s", sign, d/u.unit, u.labels[0])
		}
	}
	return fmt.Sprintf("%s%d ns", sign, int64(d))
}

// memoryUnits lists Flink's MemorySize unit labels (binary multiples).
var memoryUnits = []struct {
	mult   int64
	labels []string
}{
	{1, []string{"b", "bytes"}},
	{1 << 10, []string{"k", "kb", "kibibytes"}},
	{1 << 20, []string{"m", "mb", "mebibytes"}},
	{1 << 30, []string{"g", "gb", "gibibytes"}},
	{1 << 40, []string{"t", "tb", "tebibytes"}},
}

// ParseMemorySize parses a memory size the way Flink's MemorySize.parse does: a
// non-negative decimal integer, optional spaces and an optional unit (case-insensitive):
// b/bytes, k/kb/kibibytes, m/mb/mebibytes, g/gb/gibibytes, t/tb/tebibytes, all
// binary multiples. A number without a unit is bytes: "1024m", "1g", "1728 mb", "4096".
func ParseMemorySize(s string) (int64, error) {
	n, err := parseMemorySize(s)
	if err != nil {
		return 0, fmt.Errorf("conf: memory size %q: %w", s, err)
	}
	return n, nil
}

func parseMemorySize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("it is empty")
	}
	digits := leadingDigits(t)
	if digits == "" {
		return 0, errors.New("it does not start with a number")
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, errors.New("it is too large")
	}
	label := strings.ToLower(strings.TrimSpace(t[len(digits):]))
	mult := int64(1)
	if label != "" {
		found := false
		for _, u := range memoryUnits {
			for _, l := range u.labels {
				if l == label {
					mult, found = u.mult, true
				}
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown unit %q: want %s", label, memoryUnitList())
		}
	}
	if n > math.MaxInt64/mult {
		return 0, errors.New("it is too large")
	}
	return n * mult, nil
}

func memoryUnitList() string {
	var parts []string
	for _, u := range memoryUnits {
		parts = append(parts, strings.Join(u.labels, "/"))
	}
	return strings.Join(parts, ", ")
}

// FormatMemorySize renders n bytes in the largest unit that represents it exactly:
// "1600m", "1g", "1000b".
func FormatMemorySize(n int64) string {
	if n == 0 {
		return "0b"
	}
	for i := len(memoryUnits) - 1; i >= 0; i-- {
		u := memoryUnits[i]
		if n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.labels[0]
		}
	}
	return strconv.FormatInt(n, 10) + "b"
}
