package jobmanager_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/taskmanager/tmapi"
)

// hungStateStorage is the coordinator's services with a state storage whose List
// hangs, ignoring its context, until release is closed: a storage host cut off
// in the middle of a namenode call, which no deadline ends.
type hungStateStorage struct {
	jobmanager.CheckpointServices
	st *hungList
}

func (s hungStateStorage) StateStorage() hdfsstore.Store { return s.st }

type hungList struct {
	hdfsstore.Store
	entered, release chan struct{}
	once             sync.Once
}

func (s *hungList) List(ctx context.Context, prefix string) ([]string, error) {
	s.once.Do(func() { close(s.entered) })
	<-s.release
	return s.Store.List(ctx, prefix)
}

// TestCheckpointsGoOnWhileAStateRemovalHangs: removing the state of subsumed
// checkpoints runs beside the checkpoints, not on their loop. With the state
// storage hanging in the removal's listing, checkpoints keep completing (their
// tasks are told so); before, the loop waited for the storage and no
// checkpoint was triggered until it answered.
func TestCheckpointsGoOnWhileAStateRemovalHangs(t *testing.T) {
	p := leadingServices(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := logging.ForTest(t)
	ev := &events{}
	srv := httptest.NewServer(tmapi.TaskManagerHandler(completedTM{ev: ev}, testSecret))
	t.Cleanup(srv.Close)
	tms := jobmanager.NewTaskManagers(time.Second, time.Minute, log)
	tms.SetLeader(p.g.SessionID())
	_, err := tms.Register(ctx, tmapi.Registration{ContainerID: "c1", Slots: 1, Address: srv.URL, LeaderSession: p.g.SessionID().String()})
	require.NoError(t, err)
	hung := &hungList{Store: p.svc.StateStorage(), entered: make(chan struct{}), release: make(chan struct{})}
	coord := jobmanager.NewCoordinator(tms, hungStateStorage{p.svc, hung}, testSecret, 10*time.Millisecond, 10*time.Second, log)
	deployed := make(chan struct{})
	go func() { defer close(deployed); coord.Deploy(ctx, p.g, jobA, encodedGraph(t, jobA, "counts")) }()
	t.Cleanup(func() { cancel(); <-deployed })
	t.Cleanup(func() { close(hung.release) }) // first: the job's end waits for the removal under way

	completions := func() int {
		n := 0
		for _, e := range ev.list() {
			if strings.HasPrefix(e, "complete ") {
				n++
			}
		}
		return n
	}
	select {
	case <-hung.entered:
	case <-time.After(20 * time.Second):
		t.Fatal("no removal of subsumed state began")
	}
	stuck := completions()
	require.Eventually(t, func() bool { return completions() >= stuck+3 }, 20*time.Second, 5*time.Millisecond,
		"checkpoints complete while the state storage hangs in a removal (%d completed when it began)", stuck)
}
