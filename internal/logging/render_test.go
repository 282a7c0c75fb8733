package logging

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
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

// countingFile counts the bytes read from a file.
type countingFile struct {
	*os.File
	read int64
}

func (c *countingFile) Read(p []byte) (int, error) {
	n, err := c.File.Read(p)
	c.read += int64(n)
	return n, err
}

// A 512 MiB am.log (sparse: a first error line, then zeros, then lines): its
// last error is found by reading only its tail. Read from the start, the run of
// zeros is one line longer than any buffer and the first error is taken.
func TestLastErrorOfReadsOnlyTheTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "am.log")
	f, err := os.Create(path)
	require.NoError(t, err)
	_, err = f.WriteString(`{"level":"error","time":"t","message":"early, stale"}` + "\n")
	require.NoError(t, err)
	require.NoError(t, f.Truncate(512<<20))
	_, err = f.Seek(0, io.SeekEnd)
	require.NoError(t, err)
	_, err = f.WriteString("\n" + strings.Repeat(`{"level":"info","time":"t","message":"fine"}`+"\n", 10000) +
		`{"level":"error","time":"t","error":"exit status 3","message":"late"}` + "\n" +
		`{"level":"info","time":"t","message":"stopping"}` + "\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())

	require.Equal(t, "late: exit status 3", LastErrorOf(path))

	f, err = os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	c := &countingFile{File: f}
	got, err := LastErrorInTail(c)
	require.NoError(t, err)
	require.Equal(t, "late: exit status 3", got)
	require.LessOrEqual(t, c.read, int64(TailBytes))
	require.Positive(t, c.read)
}

// The tail starts inside a line whose second half reads as an error line of
// its own: that half is not taken for one.
func TestLastErrorInTailSkipsThePartialFirstLine(t *testing.T) {
	half := `{"level":"error","time":"t","message":"half"}`
	last := `{"level":"info","time":"t","message":"` // + padding + `"}` + "\n"
	padding := TailBytes - len(half) - 1 - len(last) - len(`"}`) - 1
	log := `{"level":"info","time":"t","message":"x` + half + "\n" + last + strings.Repeat("f", padding) + `"}` + "\n"
	require.Equal(t, half, log[len(log)-TailBytes:][:len(half)], "the tail starts at the half line")
	got, err := LastErrorInTail(strings.NewReader(log))
	require.NoError(t, err)
	require.Equal(t, "", got)

	got, err = LastErrorInTail(strings.NewReader(half + "\n"))
	require.NoError(t, err)
	require.Equal(t, "half", got, "a log shorter than the tail is read from its start")
}
