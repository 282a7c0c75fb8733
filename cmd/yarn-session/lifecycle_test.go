package main

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/recoverytest"
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

// TestEndHAKeepsTheDataWhileProcessesMayLive: an application that reached a
// terminal state with every job finished has its HA data removed — but not
// when stopping its processes failed: they may still be alive and use it. The
// end record and its message say so, with the resume hint.
func TestEndHAKeepsTheDataWhileProcessesMayLive(t *testing.T) {
	dir := t.TempDir()
	cfg, err := conf.Load(conf.Options{ApplicationID: "application_1_0001"})
	require.NoError(t, err)
	svc := recoverytest.OpenServices(t, cfg, filepath.Join(dir, "ha"))
	const finished = "00000000000000000000000000000f00"
	recoverytest.LeadOnce(t, svc, func(g recovery.Grant) {
		results, err := svc.JobResultStore()
		require.NoError(t, err)
		require.NoError(t, results.CreateDirty(t.Context(), g, recovery.JobResult{JobID: finished, State: "CANCELED"}))
		require.NoError(t, results.MarkClean(t.Context(), g, finished))
	})
	require.NoError(t, svc.Close())
	resultFile := filepath.Join(dir, "ha", cfg.ClusterID(), "storage", cfg.ClusterID(), "job-result-store", finished+".json")
	require.FileExists(t, resultFile)

	stopErr := errors.New("containers: stop container_1_0001_01_000002: context deadline exceeded")
	e := ended{ApplicationID: "application_1_0001", FinalStatus: "FAILED", Reason: "budget-exhausted", Attempts: 2}
	endHA(logging.ForTest(t), dir, cfg, true, stopErr, &e)
	require.False(t, e.HARemoved)
	require.Equal(t, stopErr.Error(), e.StopError)
	require.FileExists(t, resultFile, "the HA data is kept")
	var b bytes.Buffer
	e.print(&b)
	require.Contains(t, b.String(), "Its HA data ("+cfg.ClusterPath()+") is kept: some of its processes may still be alive ("+stopErr.Error()+").\n"+
		"Once they are gone, a new session on the same cluster-id resumes any jobs it holds:\n  yarn-session -z "+cfg.ClusterID())

	e = ended{ApplicationID: "application_1_0001", FinalStatus: "FAILED", Reason: "budget-exhausted", Attempts: 2}
	endHA(logging.ForTest(t), dir, cfg, true, nil, &e)
	require.True(t, e.HARemoved, "every process stopped, every job finished: removed (%+v)", e)
	require.NoFileExists(t, resultFile)
}
