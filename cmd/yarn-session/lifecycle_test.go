package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEndedPrintSaysHowToResume(t *testing.T) {
	e := ended{ApplicationID: "application_1_0001", FinalStatus: "FAILED", Reason: "budget-exhausted", Attempts: 2,
		ClusterID: "prod", ClusterPath: "/flink/prod", Unfinished: []string{"00aa", "00bb"}}
	var b bytes.Buffer
	e.print(&b)
	require.Equal(t, "Session application_1_0001 ended: FAILED (budget-exhausted) after 2 attempt(s).\n"+
		"Its HA data (/flink/prod) is kept: job(s) 00aa, 00bb did not finish and are suspended.\n"+
		"To resume them from their latest checkpoints, start a new session on cluster-id prod:\n"+
		"  yarn-session -z prod <the same -D high-availability.* options>\n", b.String())

	e.Unfinished, e.HARemoved = nil, true
	b.Reset()
	e.print(&b)
	require.Contains(t, b.String(), "All its jobs were finished: its HA data (/flink/prod) was removed.\n")
}

func TestEndedRoundTrip(t *testing.T) {
	dir := t.TempDir()
	_, err := readEnded(dir)
	require.Error(t, err, "no record before the end")
	e := ended{ApplicationID: "application_1_0001", FinalStatus: "STOPPED", ClusterID: "c", Unfinished: []string{"00aa"}}
	require.NoError(t, writeEnded(dir, e))
	got, err := readEnded(dir)
	require.NoError(t, err)
	require.Equal(t, e, got)
}
