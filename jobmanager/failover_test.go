package jobmanager_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/supervisor/rmapi"
)

// recordingObserver is a Timeline that also keeps the order of the steps.
type recordingObserver struct {
	*jobmanager.Timeline
	mu    sync.Mutex
	steps []string
}

var _ jobmanager.Observer = (*recordingObserver)(nil)

func (r *recordingObserver) record(step string) {
	r.mu.Lock()
	r.steps = append(r.steps, step)
	r.mu.Unlock()
}

func (r *recordingObserver) Granted(log zerolog.Logger) {
	r.record(jobmanager.PhaseGranted)
	r.Timeline.Granted(log)
}

func (r *recordingObserver) Published() {
	r.record(jobmanager.PhasePublished)
	r.Timeline.Published()
}

func (r *recordingObserver) TaskManagersRegistered() {
	r.record(jobmanager.PhaseTMsRegistered)
	r.Timeline.TaskManagersRegistered()
}

func (r *recordingObserver) Steps() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.steps)
}

// TestAMReportsTakeoverToItsObserver: a new attempt reports its grant, the
// publication and, once the adopted TaskManager is back, the TaskManagers, each
// once and in that order; GET /failover serves the Timeline behind the observer.
func TestAMReportsTakeoverToItsObserver(t *testing.T) {
	dir := t.TempDir()
	cfg, err := conf.Load(conf.Options{Dynamic: []string{"rest.port=0", "heartbeat.interval=50 ms"}})
	require.NoError(t, err)
	survivor := "container_1_0001_01_000001"
	startTM(t, dir, survivor)
	rm := &fakeRM{t: t, dir: dir, previous: []rmapi.Container{{ID: survivor, Attempt: 1, Slots: 1}}}
	obs := &recordingObserver{Timeline: jobmanager.NewTimeline(time.Now())}

	am := jobmanager.NewAM(jobmanager.AMConfig{
		Conf: cfg, Secret: testSecret, Election: embeddedHA(t, dir).Election(), RM: rm,
		AttemptID: "appattempt_1_0001_000002", Attempt: 2, TaskManagers: 1, Slots: 1,
		AllocateInterval: 20 * time.Millisecond, Observer: obs, Logger: logging.ForTest(t),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- am.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	want := []string{jobmanager.PhaseGranted, jobmanager.PhasePublished, jobmanager.PhaseTMsRegistered}
	require.Eventually(t, func() bool { return len(obs.Steps()) == len(want) }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, want, obs.Steps())

	var report jobmanager.FailoverReport
	getJSON(t, am.Address()+"/failover", &report)
	phases := report.Phases
	for _, p := range want {
		require.Contains(t, phases, p)
	}
	require.NotContains(t, phases, jobmanager.PhaseTasksDeployed, "an AM without jobs deploys no tasks")
	rm.mu.Lock()
	require.Zero(t, rm.seq, "the adopted TaskManager sufficed")
	rm.mu.Unlock()
}

// TestAMWithoutObserverServesNoPhases: the default observer records nothing.
func TestAMWithoutObserverServesNoPhases(t *testing.T) {
	am := runAMAlone(t, embeddedHA(t, t.TempDir()).Election())
	var report jobmanager.FailoverReport
	getJSON(t, am.Address()+"/failover", &report)
	require.Empty(t, report.Phases)
	require.Empty(t, report.Jobs)
}

// TestTimelineLogsOnceAndRestartsOnANewGrant: the "failover complete" line is
// written once, with the grant's logger, when the last phase is reached; a second
// grant in the same process forgets the phases from leader_granted on.
func TestTimelineLogsOnceAndRestartsOnANewGrant(t *testing.T) {
	var buf bytes.Buffer
	log := zerolog.New(&buf).With().Str(logging.LeaderSession, "s1").Logger()
	tl := jobmanager.NewTimeline(time.Now())
	tl.Mark(jobmanager.PhaseProcessStart)
	tl.Mark(jobmanager.PhaseZKConnected)
	tl.Granted(log)
	tl.Published()
	tl.JobsRecovered()
	tl.TaskManagersRegistered()
	require.Empty(t, buf.String(), "not every phase reached yet")
	tl.TasksDeployed()
	tl.TasksDeployed()

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	require.Len(t, lines, 1)
	var line map[string]any
	require.NoError(t, json.Unmarshal(lines[0], &line))
	require.Equal(t, "failover complete", line["message"])
	require.Equal(t, "failover", line[logging.Phase])
	require.Equal(t, "s1", line[logging.LeaderSession])
	for p := range tl.Snapshot() {
		require.Contains(t, line, p+"_ms")
	}

	tl.Granted(log)
	snap := tl.Snapshot()
	require.Contains(t, snap, jobmanager.PhaseProcessStart)
	require.Contains(t, snap, jobmanager.PhaseGranted)
	require.NotContains(t, snap, jobmanager.PhasePublished)
	require.NotContains(t, snap, jobmanager.PhaseTasksDeployed)
}

// runAMAlone runs an AM with no jobs and no TaskManagers on election until the
// test ends, and waits until it leads.
func runAMAlone(t *testing.T, election recovery.LeaderElection) *jobmanager.AM {
	t.Helper()
	cfg, err := conf.Load(conf.Options{Dynamic: []string{"rest.port=0"}})
	require.NoError(t, err)
	am := jobmanager.NewAM(jobmanager.AMConfig{
		Conf: cfg, Secret: testSecret, Election: election,
		AttemptID: "appattempt_1_0001_000001", Attempt: 1, Logger: logging.ForTest(t),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- am.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	require.Eventually(t, func() bool {
		if am.Address() == "" {
			return false
		}
		var o jobmanager.Overview
		getJSON(t, am.Address()+"/overview", &o)
		return o.Leader
	}, 15*time.Second, 5*time.Millisecond, "the AM leads")
	return am
}
