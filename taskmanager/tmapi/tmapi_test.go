package tmapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/taskmanager/tmapi"
)

// fakeTM is a TaskManager that takes commands from one session and records
// what it is told.
type fakeTM struct {
	session string
	mu      sync.Mutex
	running map[tmapi.TaskID]bool
	told    []string
}

func (f *fakeTM) Status() tmapi.Status {
	return tmapi.Status{ContainerID: "container_1_0001_01_000001", Slots: 2, LeaderSession: f.session}
}

func (f *fakeTM) CheckLeader(session string) error {
	if session != f.session {
		return fmt.Errorf("%w: command from %q", tmapi.ErrStaleLeader, session)
	}
	return nil
}

func (f *fakeTM) Deploy(ctx context.Context, d tmapi.Deployment) error {
	if string(d.Graph) != "graph" {
		return errors.New("cannot decode the job graph")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running[d.Task()] = true
	return nil
}

func (f *fakeTM) Cancel(jobID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for t := range f.running {
		if t.JobID == jobID {
			delete(f.running, t)
			n++
		}
	}
	return n
}

func (f *fakeTM) record(verb string, task tmapi.TaskID, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.running[task] {
		return fmt.Errorf("%w: %s", tmapi.ErrUnknownTask, task)
	}
	f.told = append(f.told, fmt.Sprintf("%s %s %d", verb, task, id))
	return nil
}

func (f *fakeTM) TriggerCheckpoint(ctx context.Context, task tmapi.TaskID, id int64) (tmapi.CheckpointAck, error) {
	if err := f.record("trigger", task, id); err != nil {
		return tmapi.CheckpointAck{}, err
	}
	return tmapi.CheckpointAck{ID: id, Handle: []byte("handle-" + task.String())}, nil
}

func (f *fakeTM) CompleteCheckpoint(ctx context.Context, task tmapi.TaskID, id int64) error {
	return f.record("complete", task, id)
}

func (f *fakeTM) AbortCheckpoint(ctx context.Context, task tmapi.TaskID, id int64) error {
	return f.record("abort", task, id)
}

// fakeRegistry accepts registrations and heartbeats under one session (and,
// when launched is set, only of those containers with those slots).
type fakeRegistry struct {
	session  string
	launched map[string]int
	mu       sync.Mutex
	beats    map[string]int
}

func (f *fakeRegistry) Register(ctx context.Context, reg tmapi.Registration) (tmapi.RegistrationResponse, error) {
	if reg.LeaderSession != f.session {
		return tmapi.RegistrationResponse{}, fmt.Errorf("%w: registration under %q", tmapi.ErrStaleLeader, reg.LeaderSession)
	}
	if slots, ok := f.launched[reg.ContainerID]; f.launched != nil && (!ok || slots != reg.Slots) {
		return tmapi.RegistrationResponse{}, fmt.Errorf("%w: %s with %d slots", tmapi.ErrUnknownContainer, reg.ContainerID, reg.Slots)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.beats[reg.ContainerID] = 0
	return tmapi.RegistrationResponse{HeartbeatIntervalMs: 250}, nil
}

func (f *fakeRegistry) Heartbeat(ctx context.Context, hb tmapi.Heartbeat) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.beats[hb.ContainerID]; !ok || hb.LeaderSession != f.session {
		return fmt.Errorf("%w: heartbeat from %s", tmapi.ErrStaleLeader, hb.ContainerID)
	}
	f.beats[hb.ContainerID]++
	return nil
}

var (
	_ tmapi.TaskManager = (*fakeTM)(nil)
	_ tmapi.Registry    = (*fakeRegistry)(nil)
)

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func newSecret(t *testing.T) appsecret.Secret {
	t.Helper()
	s, err := appsecret.New()
	require.NoError(t, err)
	return s
}

func hc() *http.Client { return &http.Client{Timeout: 5 * time.Second} }

func TestCommandsRoundTrip(t *testing.T) {
	sec := newSecret(t)
	session := uuid.New()
	tm := &fakeTM{session: session.String(), running: map[tmapi.TaskID]bool{}}
	addr := serve(t, tmapi.TaskManagerHandler(tm, sec))
	c := tmapi.NewTaskManagerClient(hc(), sec)
	ctx := context.Background()

	st, err := c.Status(ctx, addr)
	require.NoError(t, err)
	require.Equal(t, tm.Status(), st)

	task := tmapi.TaskID{JobID: "job1", Subtask: 1}
	require.NoError(t, c.Deploy(ctx, addr, session, tmapi.Deployment{JobID: "job1", Subtask: 1, Graph: []byte("graph")}))
	ack, err := c.TriggerCheckpoint(ctx, addr, session, task, 7)
	require.NoError(t, err)
	require.Equal(t, tmapi.CheckpointAck{ID: 7, Handle: []byte("handle-job1/1")}, ack)
	require.NoError(t, c.CompleteCheckpoint(ctx, addr, session, task, 7))
	require.NoError(t, c.AbortCheckpoint(ctx, addr, session, task, 8))
	require.Equal(t, []string{"trigger job1/1 7", "complete job1/1 7", "abort job1/1 8"}, tm.told)

	n, err := c.Cancel(ctx, addr, session, "job1")
	require.NoError(t, err)
	require.Equal(t, 1, n)

	// The task is gone: checkpoint commands name it unknown (404), keeping
	// the reply's status.
	_, err = c.TriggerCheckpoint(ctx, addr, session, task, 9)
	require.ErrorIs(t, err, tmapi.ErrUnknownTask)
	require.Equal(t, http.StatusNotFound, httpjson.StatusCode(err))
	require.ErrorContains(t, err, "job1/1")

	// A deployment the TaskManager cannot run is 400 with its reason.
	err = c.Deploy(ctx, addr, session, tmapi.Deployment{JobID: "job1", Graph: []byte("junk")})
	require.Equal(t, http.StatusBadRequest, httpjson.StatusCode(err))
	require.ErrorContains(t, err, "cannot decode the job graph")
}

func TestStaleLeaderIsRefused(t *testing.T) {
	sec := newSecret(t)
	current := uuid.New()
	tm := &fakeTM{session: current.String(), running: map[tmapi.TaskID]bool{{JobID: "job1"}: true}}
	addr := serve(t, tmapi.TaskManagerHandler(tm, sec))
	c := tmapi.NewTaskManagerClient(hc(), sec)
	ctx := context.Background()
	old := uuid.New()

	err := c.Deploy(ctx, addr, old, tmapi.Deployment{JobID: "job2", Graph: []byte("graph")})
	require.ErrorIs(t, err, tmapi.ErrStaleLeader)
	require.Equal(t, http.StatusConflict, httpjson.StatusCode(err))
	require.ErrorContains(t, err, old.String(), "the refusal says which session was refused")
	require.Equal(t, 1, strings.Count(err.Error(), tmapi.ErrStaleLeader.Error()), "the sentinel is named once: %v", err)
	_, err = c.Cancel(ctx, addr, old, "job1")
	require.ErrorIs(t, err, tmapi.ErrStaleLeader)
	_, err = c.TriggerCheckpoint(ctx, addr, old, tmapi.TaskID{JobID: "job1"}, 1)
	require.ErrorIs(t, err, tmapi.ErrStaleLeader)
	require.NotErrorIs(t, err, tmapi.ErrUnknownTask)
	require.ErrorIs(t, c.CompleteCheckpoint(ctx, addr, old, tmapi.TaskID{JobID: "job1"}, 1), tmapi.ErrStaleLeader)
	require.ErrorIs(t, c.AbortCheckpoint(ctx, addr, old, tmapi.TaskID{JobID: "job1"}, 1), tmapi.ErrStaleLeader)
	require.Empty(t, tm.told)
	require.Len(t, tm.running, 1, "nothing was deployed or canceled")

	// A command without the header is refused too.
	resp, err := sec.Client(hc()).Post(addr+tmapi.PathTasks, "application/json", strings.NewReader(`{"jobId":"job2","graph":"Z3JhcGg="}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusConflict, resp.StatusCode)
}

func TestRegistryRoundTripAndRefusals(t *testing.T) {
	sec := newSecret(t)
	session := uuid.NewString()
	reg := &fakeRegistry{session: session, beats: map[string]int{}}
	leader := serve(t, tmapi.RegistryHandler(reg, sec))
	c := tmapi.NewRegistryClient(hc(), sec)
	ctx := context.Background()

	res, err := c.Register(ctx, leader, tmapi.Registration{ContainerID: "c1", Slots: 1, LeaderSession: session})
	require.NoError(t, err)
	require.Equal(t, int64(250), res.HeartbeatIntervalMs)
	require.NoError(t, c.Heartbeat(ctx, leader, tmapi.Heartbeat{ContainerID: "c1", LeaderSession: session}))
	require.Equal(t, 1, reg.beats["c1"])

	_, err = c.Register(ctx, leader, tmapi.Registration{ContainerID: "c2", Slots: 1, LeaderSession: uuid.NewString()})
	require.ErrorIs(t, err, tmapi.ErrStaleLeader)
	require.Equal(t, http.StatusConflict, httpjson.StatusCode(err))
	err = c.Heartbeat(ctx, leader, tmapi.Heartbeat{ContainerID: "c2", LeaderSession: session})
	require.ErrorIs(t, err, tmapi.ErrStaleLeader)

	// Registrations are exact: unknown fields are 400, not a stale leader.
	resp, err := sec.Client(hc()).Post(leader+tmapi.PathRegister, "application/json", strings.NewReader(`{"containerId":"c1","bogus":true}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestRequestSizeLimits(t *testing.T) {
	sec := newSecret(t)
	session := uuid.New()
	tm := &fakeTM{session: session.String(), running: map[tmapi.TaskID]bool{}}
	tmAddr := serve(t, tmapi.TaskManagerHandler(tm, sec))
	reg := &fakeRegistry{session: session.String(), beats: map[string]int{}}
	leader := serve(t, tmapi.RegistryHandler(reg, sec))
	ctx := context.Background()

	// A registration is at most 1 MiB: a larger one is 413.
	_, err := tmapi.NewRegistryClient(hc(), sec).Register(ctx, leader, tmapi.Registration{ContainerID: strings.Repeat("c", 1<<20),
		Slots: 1, LeaderSession: session.String()})
	require.Equal(t, http.StatusRequestEntityTooLarge, httpjson.StatusCode(err))
	require.NotErrorIs(t, err, tmapi.ErrStaleLeader)
	require.ErrorContains(t, err, "over 1048576 bytes")
	require.Empty(t, reg.beats)

	// A deployment may be larger (a job graph and a state handle: up to
	// tmapi.MaxCommandBytes), and may carry fields this TaskManager does not
	// know. One over the bound is 413, and the TaskManager serves on.
	c := tmapi.NewTaskManagerClient(hc(), sec)
	err = c.Deploy(ctx, tmAddr, session, tmapi.Deployment{JobID: "job1", Graph: []byte("graph"), Handle: make([]byte, 3<<19)}) // 2 MiB in base64
	require.NoError(t, err)
	err = c.Deploy(ctx, tmAddr, session, tmapi.Deployment{JobID: "job2", Graph: []byte("graph"), Handle: make([]byte, 3<<20)}) // 4 MiB in base64, and the rest
	require.Equal(t, http.StatusRequestEntityTooLarge, httpjson.StatusCode(err))
	require.ErrorContains(t, err, "over 4194304 bytes")
	req, err := http.NewRequest(http.MethodPost, tmAddr+tmapi.PathTasks, strings.NewReader(`{"jobId":"job3","graph":"Z3JhcGg=","future":1}`))
	require.NoError(t, err)
	req.Header.Set(tmapi.HeaderLeaderSession, session.String())
	resp, err := sec.Client(hc()).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, tm.running, 2, "job1 and job3 run")
}

func TestContextBoundsACommand(t *testing.T) {
	sec := newSecret(t)
	block := make(chan struct{})
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer close(block)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := tmapi.NewTaskManagerClient(hc(), sec).TriggerCheckpoint(ctx, addr, uuid.New(), tmapi.TaskID{JobID: "j"}, 1)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// TestCallsWithoutTheSecretAreRefused: a caller that knows the leader session
// (the fencing token) but not the application secret can neither read a
// TaskManager's status nor command it, nor register or heartbeat with the
// registry: every call is 401 with no detail, and nothing reaches the handlers.
func TestCallsWithoutTheSecretAreRefused(t *testing.T) {
	sec := newSecret(t)
	session := uuid.New()
	tm := &fakeTM{session: session.String(), running: map[tmapi.TaskID]bool{{JobID: "job1"}: true}}
	addr := serve(t, tmapi.TaskManagerHandler(tm, sec))
	reg := &fakeRegistry{session: session.String(), beats: map[string]int{}}
	leader := serve(t, tmapi.RegistryHandler(reg, sec))
	ctx := context.Background()
	task := tmapi.TaskID{JobID: "job1"}

	for name, other := range map[string]appsecret.Secret{"no secret": {}, "another secret": newSecret(t)} {
		c := tmapi.NewTaskManagerClient(hc(), other)
		_, err := c.Status(ctx, addr)
		require.Equal(t, http.StatusUnauthorized, httpjson.StatusCode(err), name)
		require.Equal(t, "GET "+addr+tmapi.PathStatus+": 401 Unauthorized: Unauthorized", err.Error(), name+": no detail, no leader session")
		_, err = c.Cancel(ctx, addr, session, "job1")
		require.Equal(t, http.StatusUnauthorized, httpjson.StatusCode(err), name)
		_, err = c.TriggerCheckpoint(ctx, addr, session, task, 1<<62)
		require.Equal(t, http.StatusUnauthorized, httpjson.StatusCode(err), name)
		require.Equal(t, http.StatusUnauthorized, httpjson.StatusCode(c.CompleteCheckpoint(ctx, addr, session, task, 1)), name)
		require.Equal(t, http.StatusUnauthorized, httpjson.StatusCode(c.Deploy(ctx, addr, session, tmapi.Deployment{JobID: "job2", Graph: []byte("graph")})), name)

		r := tmapi.NewRegistryClient(hc(), other)
		_, err = r.Register(ctx, leader, tmapi.Registration{ContainerID: "c1", Slots: 1, LeaderSession: session.String()})
		require.Equal(t, http.StatusUnauthorized, httpjson.StatusCode(err), name)
		require.NotErrorIs(t, err, tmapi.ErrStaleLeader, "a refusal for want of the secret is not a stale leader")
		require.Equal(t, http.StatusUnauthorized, httpjson.StatusCode(r.Heartbeat(ctx, leader, tmapi.Heartbeat{ContainerID: "c1", LeaderSession: session.String()})), name)
	}
	require.Empty(t, tm.told, "no checkpoint command arrived")
	require.Equal(t, map[tmapi.TaskID]bool{{JobID: "job1"}: true}, tm.running, "nothing was deployed or canceled")
	require.Empty(t, reg.beats, "nothing registered")
}

// TestUnknownContainerIsForbidden: the registry's refusal of a container the
// application did not launch is 403 and ErrUnknownContainer on the client, not a
// stale leader.
func TestUnknownContainerIsForbidden(t *testing.T) {
	sec := newSecret(t)
	session := uuid.NewString()
	reg := &fakeRegistry{session: session, beats: map[string]int{}, launched: map[string]int{"c1": 2}}
	leader := serve(t, tmapi.RegistryHandler(reg, sec))
	c := tmapi.NewRegistryClient(hc(), sec)
	ctx := context.Background()
	for _, r := range []tmapi.Registration{{ContainerID: "c9", Slots: 2}, {ContainerID: "c1", Slots: 3}} {
		r.LeaderSession = session
		_, err := c.Register(ctx, leader, r)
		require.ErrorIs(t, err, tmapi.ErrUnknownContainer, r.ContainerID)
		require.NotErrorIs(t, err, tmapi.ErrStaleLeader)
		require.Equal(t, http.StatusForbidden, httpjson.StatusCode(err))
	}
	_, err := c.Register(ctx, leader, tmapi.Registration{ContainerID: "c1", Slots: 2, LeaderSession: session})
	require.NoError(t, err)
}
