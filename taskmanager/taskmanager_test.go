package taskmanager_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/embedded"
	"github.com/amkeeper/amkeeper/taskmanager"
	"github.com/amkeeper/amkeeper/taskmanager/tmapi"
)

// testSecret is the application secret of every AM and TaskManager here.
var testSecret = func() appsecret.Secret {
	s, err := appsecret.New()
	if err != nil {
		panic(err) // crypto/rand failed: nothing can run
	}
	return s
}()

// am is a leader candidate serving the TaskManager registry.
type am struct {
	reg    *jobmanager.TaskManagers
	srv    *httptest.Server
	grants chan recovery.Grant
	stop   context.CancelFunc
	done   chan struct{}
}

func startAM(t *testing.T, dir string) *am {
	return startAMWith(t, dir, func(h http.Handler) http.Handler { return h })
}

// startAMWith is startAM serving the registry through wrap.
func startAMWith(t *testing.T, dir string, wrap func(http.Handler) http.Handler) *am {
	reg := jobmanager.NewTaskManagers(50*time.Millisecond, 5*time.Second, logging.ForTest(t))
	a := &am{reg: reg, srv: httptest.NewServer(wrap(reg.Handler(testSecret))), grants: make(chan recovery.Grant, 2), done: make(chan struct{})}
	t.Cleanup(a.srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	a.stop = cancel
	el := embeddedHA(t, dir).Election()
	go func() {
		defer close(a.done)
		_ = el.Run(ctx, func(g recovery.Grant) {
			reg.SetLeader(g.SessionID())
			if err := g.Confirm(g.Context(), recovery.ResourceManager, a.srv.URL); err != nil {
				t.Errorf("confirm: %v", err)
			}
			a.grants <- g
			<-g.Done()
			reg.SetLeader(uuid.Nil)
		})
	}()
	t.Cleanup(func() { cancel(); <-a.done })
	return a
}

// grant waits for the candidate's next grant.
func (a *am) grant(t *testing.T) recovery.Grant {
	t.Helper()
	select {
	case g := <-a.grants:
		return g
	case <-time.After(10 * time.Second):
		t.Fatal("no leadership within 10s")
		return nil
	}
}

func TestTaskManagerFollowsTheLeader(t *testing.T) {
	dir := t.TempDir()
	first := startAM(t, dir)
	g1 := first.grant(t)

	tm := taskmanager.New(taskmanager.Config{ContainerID: "container_1_0001_01_000001", Slots: 2, Secret: testSecret,
		Leaders: embeddedHA(t, dir), Logger: logging.ForTest(t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tm.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	require.Eventually(t, func() bool {
		l := first.reg.List()
		// The AM lists the TaskManager when it handles the registration; the
		// TaskManager takes the session when the reply arrives, a moment later.
		return len(l) == 1 && l[0].PID == os.Getpid() && l[0].Slots == 2 &&
			tm.Status().LeaderSession == g1.SessionID().String()
	}, 10*time.Second, 5*time.Millisecond, "the TaskManager registers with the leader")

	// Commands are accepted only under the registered leader session.
	cmds := tmapi.NewTaskManagerClient(&http.Client{Timeout: 5 * time.Second}, testSecret)
	_, err := cmds.Cancel(ctx, tm.Address(), g1.SessionID(), "no-such-job")
	require.NoError(t, err)
	_, err = cmds.Cancel(ctx, tm.Address(), uuid.New(), "no-such-job")
	require.ErrorIs(t, err, tmapi.ErrStaleLeader)

	// A second candidate takes over when the first steps down: the TaskManager
	// keeps its process and registers with the new leader under the new session.
	second := startAM(t, dir)
	first.stop()
	<-first.done
	g2 := second.grant(t)
	require.NotEqual(t, g1.SessionID(), g2.SessionID())
	require.Eventually(t, func() bool {
		l := second.reg.List()
		return len(l) == 1 && l[0].PID == os.Getpid() && tm.Status().LeaderSession == g2.SessionID().String()
	}, 10*time.Second, 5*time.Millisecond, "the TaskManager re-registers with the next leader")
	require.Equal(t, 2, tm.Status().Registrations)

	_, err = cmds.Cancel(ctx, tm.Address(), g1.SessionID(), "no-such-job")
	require.ErrorIs(t, err, tmapi.ErrStaleLeader, "the old leader's commands are refused")
}

func TestRegistryRefusesOtherSessions(t *testing.T) {
	reg := jobmanager.NewTaskManagers(time.Second, 5*time.Second, logging.ForTest(t))
	srv := httptest.NewServer(reg.Handler(testSecret))
	defer srv.Close()
	session := uuid.New()
	reg.SetLeader(session)
	post := func(path, body string) int {
		resp, err := testSecret.Client(nil).Post(srv.URL+path, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusConflict, post(tmapi.PathRegister, `{"containerId":"c1","slots":1,"leaderSession":"`+uuid.NewString()+`"}`))
	require.Equal(t, http.StatusOK, post(tmapi.PathRegister, `{"containerId":"c1","slots":1,"leaderSession":"`+session.String()+`"}`))
	require.Equal(t, http.StatusGone, post(tmapi.PathHeartbeat, `{"containerId":"c2","leaderSession":"`+session.String()+`"}`), "unknown container: not registered")
	require.Equal(t, http.StatusConflict, post(tmapi.PathHeartbeat, `{"containerId":"c2","leaderSession":"`+uuid.NewString()+`"}`), "another session")
	require.Equal(t, http.StatusOK, post(tmapi.PathHeartbeat, `{"containerId":"c1","leaderSession":"`+session.String()+`"}`))
	require.Equal(t, http.StatusBadRequest, post(tmapi.PathRegister, `{"containerId":"c1","bogus":true}`))
	reg.SetLeader(uuid.New())
	require.Empty(t, reg.List(), "a new leader session starts empty")
}

// A leader may send commands as soon as it has a registration, before its reply
// reaches the TaskManager: they are accepted under the session being registered
// with (and a command from any other session still is not).
func TestCommandsAcceptedWhileRegistering(t *testing.T) {
	dir := t.TempDir()
	reg := jobmanager.NewTaskManagers(50*time.Millisecond, 5*time.Second, logging.ForTest(t))
	tm := taskmanager.New(taskmanager.Config{ContainerID: "container_1_0001_01_000001", Slots: 1, Secret: testSecret,
		Leaders: embeddedHA(t, dir), Logger: logging.ForTest(t)})
	var session atomic.Value
	early := make(chan [2]error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == tmapi.PathRegister {
			select {
			case early <- [2]error{tm.CheckLeader(session.Load().(string)), tm.CheckLeader(uuid.NewString())}:
			default:
			}
		}
		reg.Handler(testSecret).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	el := embeddedHA(t, dir).Election()
	elDone := make(chan struct{})
	go func() {
		defer close(elDone)
		_ = el.Run(ctx, func(g recovery.Grant) {
			reg.SetLeader(g.SessionID())
			session.Store(g.SessionID().String())
			_ = g.Confirm(g.Context(), recovery.ResourceManager, srv.URL)
			<-g.Done()
		})
	}()
	done := make(chan error, 1)
	go func() { done <- tm.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; <-elDone })

	select {
	case errs := <-early:
		require.NoError(t, errs[0], "a command under the session being registered with")
		require.ErrorIs(t, errs[1], tmapi.ErrStaleLeader)
	case <-time.After(10 * time.Second):
		t.Fatal("the TaskManager never registered")
	}
}

// embeddedHA is the embedded HA backend of dir: its election and leader retrieval.
func embeddedHA(t *testing.T, dir string) *embedded.Backend {
	b, err := embedded.Open(dir, logging.ForTest(t))
	require.NoError(t, err)
	return b
}

// TestNewLeaderCancelsACallToTheOldOne: the leader's host goes silent while a
// heartbeat to it is in flight (its registry never answers), and another
// candidate leads. The TaskManager registers with the new leader at once, not
// after the hung call's 5 s timeout.
func TestNewLeaderCancelsACallToTheOldOne(t *testing.T) {
	dir := t.TempDir()
	var silent atomic.Bool
	hung := make(chan struct{}, 1)
	release := make(chan struct{}) // the test's end: the server may close
	first := startAMWith(t, dir, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if silent.Load() {
				select {
				case hung <- struct{}{}:
				default:
				}
				_, _ = io.Copy(io.Discard, r.Body) // so that the server sees the client hang up
				select {                           // a host cut off: no answer, ever
				case <-r.Context().Done():
				case <-release:
				}
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	t.Cleanup(func() { close(release) })
	first.grant(t)
	tm := taskmanager.New(taskmanager.Config{ContainerID: "container_1_0001_01_000001", Slots: 1, Secret: testSecret,
		Leaders: embeddedHA(t, dir), Logger: logging.ForTest(t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tm.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool { return tm.Status().Registrations == 1 }, 10*time.Second, 5*time.Millisecond)

	silent.Store(true)
	select {
	case <-hung:
	case <-time.After(10 * time.Second):
		t.Fatal("no heartbeat reached the silent leader")
	}
	second := startAM(t, dir)
	first.stop()
	g2 := second.grant(t)
	granted := time.Now()
	require.Eventually(t, func() bool { return tm.Status().LeaderSession == g2.SessionID().String() }, 10*time.Second, 5*time.Millisecond)
	took := time.Since(granted)
	t.Logf("registered with the new leader %v after its grant", took)
	require.Less(t, took, 2*time.Second, "the heartbeat to the silent leader was cancelled, not waited out (5 s)")
}

// TestTimedOutTaskManagerDropsItsReplacedTasks: a leader that timed a
// TaskManager out (here: forgot it, as its heartbeat timeout does) answers its
// next heartbeat ErrNotRegistered; the TaskManager cancels its tasks at once —
// nobody will adopt them — and registers again with none, every slot free,
// instead of keeping them for the leaderless grace (which is for a next
// leader to adopt them).
func TestTimedOutTaskManagerDropsItsReplacedTasks(t *testing.T) {
	dir := t.TempDir()
	leader := startAM(t, dir)
	g := leader.grant(t)
	store, err := hdfsstore.Open(context.Background(), "file://"+t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	const container = "container_1_0001_01_000001"
	tm := taskmanager.New(taskmanager.Config{ContainerID: container, Slots: 1, Secret: testSecret, Leaders: embeddedHA(t, dir),
		Tasks:           taskmanager.TaskEnv{Storage: store, OutputRoot: taskmanager.OutputRoot, StateRoot: "state"},
		LeaderlessGrace: time.Minute, Logger: logging.ForTest(t)}) // tasks outlive a lost leader, for the next to adopt
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tm.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool { return tm.Status().LeaderSession == g.SessionID().String() }, 10*time.Second, 5*time.Millisecond)

	spec, err := job.ParseSpec([]byte("name: counting\npipeline:\n  - sequence: {rate: 10ms}\n  - countWindowAll: {size: 100, aggregate: sum}\n  - file: {path: counts}\n"), "c.yaml")
	require.NoError(t, err)
	graph, err := job.Graph{ID: "0123456789abcdef0123456789abcdef", Spec: spec, Execution: "e1"}.Encode()
	require.NoError(t, err)
	cmds := tmapi.NewTaskManagerClient(&http.Client{Timeout: 5 * time.Second}, testSecret)
	require.NoError(t, cmds.Deploy(ctx, tm.Address(), g.SessionID(), tmapi.Deployment{JobID: "0123456789abcdef0123456789abcdef", Graph: graph}))
	require.Len(t, tm.Status().Tasks, 1)
	regs := tm.Status().Registrations

	leader.reg.Remove(container) // timed out: its subtask is redeployed elsewhere
	require.Eventually(t, func() bool {
		st := tm.Status()
		return len(st.Tasks) == 0 && st.Registrations == regs+1 && st.LeaderSession == g.SessionID().String()
	}, 5*time.Second, 5*time.Millisecond, "the TaskManager drops its tasks and registers again")
	l := leader.reg.List()
	require.Len(t, l, 1)
	require.Empty(t, l[0].Tasks, "registered with no tasks: its slot is free")
}
