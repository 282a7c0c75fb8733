package jobmanager_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/attempts/rmapi"
	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery/embedded"
	"github.com/amkeeper/amkeeper/taskmanager"
)

// fakeRM stands in for the supervisor: Allocate starts in-process TaskManagers.
type fakeRM struct {
	t        *testing.T
	dir      string
	mu       sync.Mutex
	previous []rmapi.Container
	released []string
	seq      int
}

func (f *fakeRM) Register(ctx context.Context, req rmapi.RegisterRequest) (rmapi.RegisterResponse, error) {
	return rmapi.RegisterResponse{ApplicationID: "application_1_0001", Attempt: 2, MaxAttempts: 2, PreviousContainers: f.previous}, nil
}

func (f *fakeRM) Allocate(ctx context.Context, req rmapi.AllocateRequest) (rmapi.AllocateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released = append(f.released, req.Release...)
	var res rmapi.AllocateResponse
	for _, ask := range req.Ask {
		for i := 0; i < ask.Count; i++ {
			f.seq++
			id := fmt.Sprintf("container_1_0001_02_%06d", f.seq)
			startTM(f.t, f.dir, id)
			res.Allocated = append(res.Allocated, rmapi.Container{ID: id, Slots: ask.Slots, Attempt: 2})
		}
	}
	for _, id := range req.Release {
		res.Completed = append(res.Completed, rmapi.CompletedContainer{ID: id, ExitCode: -1, Signal: "terminated"})
	}
	return res, nil
}

func (f *fakeRM) Finish(ctx context.Context, req rmapi.FinishRequest) error { return nil }

func startTM(t *testing.T, dir, id string) {
	tm := taskmanager.New(taskmanager.Config{ContainerID: id, Slots: 1, Leaders: embeddedHA(t, dir), Logger: logging.ForTest(t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = tm.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func getJSON(t *testing.T, url string, v any) {
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}

// TestAMAdoptsPreviousContainersAndReplacesMissingOnes: of two containers from
// the previous attempt one is alive and re-registers (adopted), the other never
// does and is released after the registration timeout; the AM asks for one
// replacement so two TaskManagers run again.
func TestAMAdoptsPreviousContainersAndReplacesMissingOnes(t *testing.T) {
	dir := t.TempDir()
	cfg, err := conf.Load(conf.Options{Dynamic: []string{
		"rest.port=0",
		"resourcemanager.taskmanager-registration.timeout=500 ms",
		"heartbeat.interval=50 ms",
	}})
	require.NoError(t, err)
	survivor := "container_1_0001_01_000001"
	ghost := "container_1_0001_01_000002"
	startTM(t, dir, survivor)
	rm := &fakeRM{t: t, dir: dir, previous: []rmapi.Container{{ID: survivor, Attempt: 1, Slots: 1}, {ID: ghost, Attempt: 1, Slots: 1}}}

	am := jobmanager.NewAM(jobmanager.AMConfig{
		Conf: cfg, Election: embeddedHA(t, dir).Election(), RM: rm,
		AttemptID: "appattempt_1_0001_000002", Attempt: 2, TaskManagers: 2, Slots: 1,
		AllocateInterval: 20 * time.Millisecond, Logger: logging.ForTest(t),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- am.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	require.Eventually(t, func() bool { return am.Address() != "" }, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		var o jobmanager.Overview
		getJSON(t, am.Address()+"/overview", &o)
		return o.Leader && o.TaskManagers == 2 && o.AdoptedPending == 0
	}, 10*time.Second, 10*time.Millisecond, "two TaskManagers: the survivor adopted, the ghost replaced")

	var tms struct {
		TaskManagers []jobmanager.TaskManagerInfo `json:"taskmanagers"`
	}
	getJSON(t, am.Address()+"/taskmanagers", &tms)
	ids := []string{tms.TaskManagers[0].ContainerID, tms.TaskManagers[1].ContainerID}
	require.Contains(t, ids, survivor)
	require.NotContains(t, ids, ghost)
	rm.mu.Lock()
	require.Equal(t, []string{ghost}, rm.released)
	require.Equal(t, 1, rm.seq, "exactly one replacement asked for")
	rm.mu.Unlock()

	var config []jobmanager.ConfigEntry
	getJSON(t, am.Address()+"/jobmanager/config", &config)
	require.NotEmpty(t, config)
}

// embeddedHA is the embedded HA backend of dir: its election and leader retrieval.
func embeddedHA(t *testing.T, dir string) *embedded.Backend {
	b, err := embedded.Open(dir, logging.ForTest(t))
	require.NoError(t, err)
	return b
}
