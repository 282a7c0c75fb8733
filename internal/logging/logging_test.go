package logging

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestJSONLinesCarryRoleAndFields(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(Options{Level: "debug", Format: FormatJSON, Out: &buf, Role: "am"})
	require.NoError(t, err)
	log.Info().Int(Attempt, 2).Str(LeaderSession, "s-1").Msg("granted")
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	require.Equal(t, "am", line[Role])
	require.Equal(t, float64(2), line[Attempt])
	require.Equal(t, "s-1", line[LeaderSession])
	require.Equal(t, "granted", line["message"])
}

func TestLevelFilters(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(Options{Level: "warn", Format: FormatJSON, Out: &buf})
	require.NoError(t, err)
	log.Info().Msg("hidden")
	require.Zero(t, buf.Len())
	log.Warn().Msg("shown")
	require.Contains(t, buf.String(), "shown")
}

func TestBadOptionsNameTheChoices(t *testing.T) {
	_, err := New(Options{Level: "loud"})
	require.ErrorContains(t, err, "trace, debug, info, warn, error")
	_, err = New(Options{Format: "xml"})
	require.ErrorContains(t, err, "auto, console or json")
}

func TestNonTerminalAutoIsJSON(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(Options{Out: &buf})
	require.NoError(t, err)
	log.Info().Msg("x")
	require.True(t, json.Valid(bytes.TrimSpace(buf.Bytes())))
}
