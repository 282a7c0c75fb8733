package jobmanager_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/taskmanager/tmapi"
)

// countedServices hands out a job's checkpoint ID counter that reports every
// ID it takes.
type countedServices struct {
	*recovery.Services
	took chan int64
}

func (s countedServices) CheckpointIDCounter(ctx context.Context, jobID string) (recovery.CheckpointIDCounter, error) {
	c, err := s.Services.CheckpointIDCounter(ctx, jobID)
	return countingCounter{c, s.took}, err
}

type countingCounter struct {
	recovery.CheckpointIDCounter
	took chan int64
}

func (c countingCounter) GetAndIncrement(ctx context.Context, g recovery.Guard) (int64, error) {
	id, err := c.CheckpointIDCounter.GetAndIncrement(ctx, g)
	if err == nil {
		c.took <- id
	}
	return id, err
}

// triggeredTM acknowledges every checkpoint, reporting its ID.
type triggeredTM struct {
	ackingTM
	triggered chan int64
}

func (tm triggeredTM) TriggerCheckpoint(ctx context.Context, task tmapi.TaskID, id int64) (tmapi.CheckpointAck, error) {
	tm.triggered <- id
	return tm.ackingTM.TriggerCheckpoint(ctx, task, id)
}

// TestFirstCheckpointIDTakenWhileTaskManagersReregister: a new leader that
// adopts a job takes the ID of its first checkpoint from the counter while it
// waits for the TaskManagers (a guarded ZooKeeper write off the path from the
// adoption to the trigger), and that checkpoint uses it.
func TestFirstCheckpointIDTakenWhileTaskManagersReregister(t *testing.T) {
	p := leadingServices(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := logging.ForTest(t)
	svc := countedServices{Services: p.svc, took: make(chan int64, 16)}
	tm := triggeredTM{triggered: make(chan int64, 16)}
	srv := httptest.NewServer(tmapi.TaskManagerHandler(tm, testSecret))
	t.Cleanup(srv.Close)
	tms := jobmanager.NewTaskManagers(time.Second, time.Minute, log)
	tms.SetLeader(p.g.SessionID())
	// An hour between checkpoints: the only one triggered is the one after the
	// adoption.
	coord := jobmanager.NewCoordinator(tms, svc, testSecret, time.Hour, 10*time.Second, log)
	coord.RecordExecutions(p.graphs.(*recovery.JobGraphs))

	var fields map[string]any
	require.NoError(t, json.Unmarshal(encodedGraph(t, jobA, "counts"), &fields))
	fields["execution"] = "e1" // recorded by an earlier leader, whose tasks run on
	payload, err := json.Marshal(fields)
	require.NoError(t, err)
	deployed := make(chan struct{})
	go func() { defer close(deployed); coord.Deploy(ctx, p.g, jobA, payload) }()
	t.Cleanup(func() { cancel(); <-deployed })

	var ahead int64
	select {
	case ahead = <-svc.took:
	case <-time.After(5 * time.Second):
		t.Fatal("no checkpoint ID taken while no TaskManager is registered: the ID waits for the adoption")
	}
	require.Empty(t, tms.List(), "no TaskManager registered yet")

	_, err = tms.Register(ctx, tmapi.Registration{ContainerID: "c1", Slots: 1, Address: srv.URL, LeaderSession: p.g.SessionID().String(),
		Tasks: []tmapi.RunningTask{{JobID: jobA, Subtask: 0, Execution: "e1", LastCheckpoint: 3}}})
	require.NoError(t, err)
	select {
	case id := <-tm.triggered:
		require.Equal(t, ahead, id, "the first checkpoint after the adoption uses the ID taken ahead")
	case <-time.After(10 * time.Second):
		t.Fatal("the adopted job was not checkpointed")
	}
	require.Empty(t, svc.took, "no second ID was taken for it")
}
