package jobmanager_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/taskmanager/tmapi"
)

// events is an ordered record of what a test observes.
type events struct {
	mu  sync.Mutex
	seq []string
}

func (e *events) add(f string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq = append(e.seq, fmt.Sprintf(f, args...))
}

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.seq...)
}

// subsumeRecorder is a backend whose checkpoint pointer stores record each
// removal of a checkpoint (subsuming it).
type subsumeRecorder struct {
	recovery.Backend
	ev *events
}

func (b subsumeRecorder) PointerStore(ctx context.Context, cfg recovery.PointerStoreConfig) (recovery.PointerStore, error) {
	ps, err := b.Backend.PointerStore(ctx, cfg)
	if err != nil || !strings.HasSuffix(cfg.Dir, "/checkpoints") {
		return ps, err
	}
	return recordedRemovals{ps, b.ev}, nil
}

type recordedRemovals struct {
	recovery.PointerStore
	ev *events
}

func (s recordedRemovals) ReleaseAndTryRemove(ctx context.Context, g recovery.Guard, key string) error {
	s.ev.add("subsume %s", strings.TrimLeft(key, "0"))
	return s.PointerStore.ReleaseAndTryRemove(ctx, g, key)
}

// completedTM acknowledges every command and records each completion notice.
type completedTM struct {
	ackingTM
	ev *events
}

func (tm completedTM) CompleteCheckpoint(_ context.Context, _ tmapi.TaskID, id int64) error {
	tm.ev.add("complete %d", id)
	return nil
}

// TestTasksCommitBeforeOlderCheckpointsAreSubsumed: a checkpoint is complete
// once its pointer is stored; the tasks are told so (and commit their output)
// before the store discards the checkpoints it subsumes, which is off the path
// from the trigger to the commit.
func TestTasksCommitBeforeOlderCheckpointsAreSubsumed(t *testing.T) {
	p := leadingServices(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := logging.ForTest(t)
	ev := &events{}
	svc, err := recovery.NewServices(recovery.ServicesConfig{Backend: subsumeRecorder{p.svc.Backend(), ev}, Storage: p.svc.Storage(),
		ClusterPath: strings.TrimSuffix(p.svc.StateRoot(), "/state"), RetainedCheckpoints: 1, Logger: log})
	require.NoError(t, err) // not closed: p.svc owns the backend and storage

	srv := httptest.NewServer(tmapi.TaskManagerHandler(completedTM{ev: ev}, testSecret))
	t.Cleanup(srv.Close)
	tms := jobmanager.NewTaskManagers(time.Second, time.Minute, log)
	tms.SetLeader(p.g.SessionID())
	_, err = tms.Register(ctx, tmapi.Registration{ContainerID: "c1", Slots: 1, Address: srv.URL, LeaderSession: p.g.SessionID().String()})
	require.NoError(t, err)
	coord := jobmanager.NewCoordinator(tms, svc, testSecret, 10*time.Millisecond, 10*time.Second, log)
	deployed := make(chan struct{})
	go func() { defer close(deployed); coord.Deploy(ctx, p.g, jobA, encodedGraph(t, jobA, "counts")) }()
	t.Cleanup(func() { cancel(); <-deployed })

	require.Eventually(t, func() bool { return len(ev.list()) >= 4 }, 20*time.Second, 5*time.Millisecond, "checkpoints 2 and 3 subsume 1 and 2")
	seq := ev.list()
	require.Equal(t, []string{"complete 1", "complete 2", "subsume 1", "complete 3"}, seq[:4],
		"checkpoint 2's tasks commit before checkpoint 1 is subsumed")
}
