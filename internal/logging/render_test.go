package logging

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPlainRendersAJSONLineAsTimeLevelWhoMessageFields(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(Options{Format: FormatJSON, Out: &buf, Role: "am"})
	require.NoError(t, err)
	log.Warn().Int(Attempt, 2).Str(Job, "j1").Str(Reason, "two words").Bool("ok", false).Msg("lost leadership")
	l := ParseLine(strings.TrimSuffix(buf.String(), "\n"))
	require.True(t, l.JSON)
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* WARN  am/2 lost leadership job=j1 reason="two words" ok=false$`, l.Plain())
}

func TestPlainKeepsATextLine(t *testing.T) {
	for _, raw := range []string{"yarn-session: am: high availability: no quorum", "{not json", ""} {
		l := ParseLine(raw)
		require.False(t, l.JSON)
		require.Equal(t, raw, l.Plain())
	}
}

func TestLastErrorIsTheLastErrorLineOrTheFatalText(t *testing.T) {
	log := `{"level":"info","role":"am","time":"t","message":"starting"}
{"level":"error","role":"am","error":"dial tcp 127.0.0.1:1: connection refused","time":"t","message":"cannot reach ZooKeeper"}
{"level":"info","role":"am","time":"t","message":"retrying"}
`
	got, err := LastError(strings.NewReader(log))
	require.NoError(t, err)
	require.Equal(t, "cannot reach ZooKeeper: dial tcp 127.0.0.1:1: connection refused", got)

	got, err = LastError(strings.NewReader(log + "yarn-session: am: high availability: no quorum\n"))
	require.NoError(t, err)
	require.Equal(t, "yarn-session: am: high availability: no quorum", got)

	panicked := log + "panic: runtime error: index out of range [3] with length 2\n\ngoroutine 1 [running]:\nmain.main()\n\t/src/main.go:9 +0x1d\nexit status 2\n"
	got, err = LastError(strings.NewReader(panicked))
	require.NoError(t, err)
	require.Equal(t, "panic: runtime error: index out of range [3] with length 2", got)

	got, err = LastError(strings.NewReader(`{"level":"info","time":"t","message":"fine"}` + "\n"))
	require.NoError(t, err)
	require.Equal(t, "", got)
}
