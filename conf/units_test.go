package conf

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDuration(t *testing.T) {
	valid := []struct {
		in   string
		want time.Duration
	}{
		{"60000", 60 * time.Second},
		{"0", 0},
		{" 42 ", 42 * time.Millisecond},
		{"60 s", 60 * time.Second},
		{"60s", 60 * time.Second},
		{"1 min", time.Minute},
		{"1m", time.Minute},
		{"2 mins", 2 * time.Minute},
		{"3 minutes", 3 * time.Minute},
		{"500ms", 500 * time.Millisecond},
		{"500 MS", 500 * time.Millisecond},
		{"5 milli", 5 * time.Millisecond},
		{"5 millis", 5 * time.Millisecond},
		{"5 milliseconds", 5 * time.Millisecond},
		{"7 sec", 7 * time.Second},
		{"7 secs", 7 * time.Second},
		{"7 second", 7 * time.Second},
		{"7 seconds", 7 * time.Second},
		{"2h", 2 * time.Hour},
		{"2 hour", 2 * time.Hour},
		{"2 hours", 2 * time.Hour},
		{"1d", 24 * time.Hour},
		{"1 day", 24 * time.Hour},
		{"3 days", 72 * time.Hour},
		{"10us", 10 * time.Microsecond},
		{"10µs", 10 * time.Microsecond},
		{"10 micro", 10 * time.Microsecond},
		{"10 micros", 10 * time.Microsecond},
		{"10 microseconds", 10 * time.Microsecond},
		{"9ns", 9},
		{"9 nano", 9},
		{"9 nanos", 9},
		{"9 nanosecond", 9},
		{"9 nanoseconds", 9},
		{"0010 s", 10 * time.Second},
	}
	for _, tc := range valid {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDuration(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	invalid := []struct{ in, msg string }{
		{"", "empty"},
		{"   ", "empty"},
		{"s", "does not start with a number"},
		{"-1", "negative"},
		{"-5 s", "negative"},
		{"+5", "does not start with a number"},
		{"1.5 s", `unknown unit ".5 s"`},
		{"1h30m", `unknown unit "h30m"`},
		{"10 fortnights", `unknown unit "fortnights"`},
		{"99999999999999999999", "too large"},
		{"300000 days", "too large"},
	}
	for _, tc := range invalid {
		t.Run("bad "+tc.in, func(t *testing.T) {
			_, err := ParseDuration(tc.in)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.msg)
			assert.Contains(t, err.Error(), `"`+tc.in+`"`, "the error names the value")
		})
	}
}

func TestSignedDurationOnlyWhereAllowed(t *testing.T) {
	d, err := parseSignedDuration("-1", true)
	require.NoError(t, err)
	assert.Equal(t, -time.Millisecond, d)
	d, err = parseSignedDuration("-10 s", true)
	require.NoError(t, err)
	assert.Equal(t, -10*time.Second, d)
	_, err = parseSignedDuration("--1", true)
	require.Error(t, err)
	_, err = parseSignedDuration("-1", false)
	require.Error(t, err)
}

func TestFormatDurationRoundTrips(t *testing.T) {
	for _, d := range []time.Duration{0, 1, time.Microsecond, 1500 * time.Microsecond, time.Second, 90 * time.Second,
		time.Hour, 36 * time.Hour, 48 * time.Hour, -time.Second, math.MaxInt64} {
		s := FormatDuration(d)
		got, err := parseSignedDuration(s, true)
		require.NoError(t, err, s)
		assert.Equal(t, d, got, s)
	}
	assert.Equal(t, "1 min", FormatDuration(time.Minute))
	assert.Equal(t, "60001 ms", FormatDuration(60001*time.Millisecond))
}

func TestParseMemorySize(t *testing.T) {
	valid := []struct {
		in   string
		want int64
	}{
		{"1024m", 1 << 30},
		{"1g", 1 << 30},
		{"1 G", 1 << 30},
		{"1728 mb", 1728 << 20},
		{"1600m", 1600 << 20},
		{"4096", 4096},
		{"10 b", 10},
		{"10 bytes", 10},
		{"2k", 2048},
		{"2 kb", 2048},
		{"2 kibibytes", 2048},
		{"3 mebibytes", 3 << 20},
		{"1 gibibytes", 1 << 30},
		{"1t", 1 << 40},
		{"1 tb", 1 << 40},
		{"1 tebibytes", 1 << 40},
	}
	for _, tc := range valid {
		got, err := ParseMemorySize(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
		back, err := ParseMemorySize(FormatMemorySize(got))
		require.NoError(t, err)
		assert.Equal(t, got, back)
	}
	for _, in := range []string{"", "m", "1.5g", "-1g", "1 pb", "1gbytes", "99999999999999999999", "9999999999t"} {
		_, err := ParseMemorySize(in)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), `"`+in+`"`)
	}
}
