package rmapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/internal/privdir"
	"github.com/amkeeper/amkeeper/internal/privdir/privdirtest"
	"github.com/amkeeper/amkeeper/supervisor/rmapi"
)

// fakeRM is a pure in-memory ResourceManager: the current attempt, its
// registration, and containers.
type fakeRM struct {
	mu         sync.Mutex
	current    string
	registered bool
	previous   []rmapi.Container
	finished   *rmapi.FinishRequest
	leading    []bool // the leadership reports, in order
	block      chan struct{}
}

func (f *fakeRM) check(attempt string) error {
	if attempt != f.current {
		return fmt.Errorf("%w: %s is not the current attempt %s", rmapi.ErrStaleAttempt, attempt, f.current)
	}
	return nil
}

func (f *fakeRM) Register(ctx context.Context, req rmapi.RegisterRequest) (rmapi.RegisterResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(req.AttemptID); err != nil {
		return rmapi.RegisterResponse{}, err
	}
	f.registered = true
	return rmapi.RegisterResponse{ApplicationID: "application_1_0001", Attempt: 2, MaxAttempts: 3, PreviousContainers: f.previous}, nil
}

func (f *fakeRM) Allocate(ctx context.Context, req rmapi.AllocateRequest) (rmapi.AllocateResponse, error) {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return rmapi.AllocateResponse{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(req.AttemptID); err != nil {
		return rmapi.AllocateResponse{}, err
	}
	if !f.registered {
		return rmapi.AllocateResponse{}, rmapi.ErrNotRegistered
	}
	var res rmapi.AllocateResponse
	for _, ask := range req.Ask {
		for i := 0; i < ask.Count; i++ {
			res.Allocated = append(res.Allocated, rmapi.Container{ID: fmt.Sprintf("container_1_0001_02_%06d", i+1), MemoryBytes: ask.MemoryBytes, Slots: ask.Slots, Attempt: 2})
		}
	}
	for _, id := range req.Release {
		res.Completed = append(res.Completed, rmapi.CompletedContainer{ID: id, ExitCode: -1, Signal: "terminated", Diagnostics: "released by the AM"})
	}
	return res, nil
}

func (f *fakeRM) Finish(ctx context.Context, req rmapi.FinishRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(req.AttemptID); err != nil {
		return err
	}
	f.finished = &req
	return nil
}

func (f *fakeRM) Leadership(ctx context.Context, req rmapi.LeadershipRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(req.AttemptID); err != nil {
		return err
	}
	if !f.registered {
		return rmapi.ErrNotRegistered
	}
	f.leading = append(f.leading, req.Leading)
	return nil
}

func serve(t *testing.T, rm rmapi.ResourceManager, log zerolog.Logger) (string, *rmapi.Client, appsecret.Secret) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "app", "rm.sock")
	l, err := rmapi.Listen(sock)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	secret, err := appsecret.New()
	require.NoError(t, err)
	go func() { done <- rmapi.Serve(ctx, l, rm, secret, log) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	c := rmapi.NewClient(sock, secret)
	t.Cleanup(c.Close)
	return sock, c, secret
}

func TestRegisterAllocateFinish(t *testing.T) {
	prev := []rmapi.Container{{ID: "container_1_0001_01_000001", PID: 4242, Slots: 2, Attempt: 1}}
	rm := &fakeRM{current: "appattempt_1_0001_000002", previous: prev}
	var logs bytes.Buffer
	_, c, _ := serve(t, rm, zerolog.New(&logs))
	ctx := context.Background()

	_, err := c.Allocate(ctx, rmapi.AllocateRequest{AttemptID: rm.current})
	require.ErrorIs(t, err, rmapi.ErrNotRegistered)

	secret := []byte("0123456789abcdef")
	reg, err := c.Register(ctx, rmapi.RegisterRequest{AttemptID: rm.current, Host: "127.0.0.1",
		Session: &rmapi.SessionCredentials{SessionID: 0x1234, Password: secret}})
	require.NoError(t, err)
	require.Equal(t, prev, reg.PreviousContainers)
	require.NotContains(t, logs.String(), string(secret))
	require.NotContains(t, logs.String(), "MDEyMzQ1Njc4OWFiY2RlZg") // nor its base64

	res, err := c.Allocate(ctx, rmapi.AllocateRequest{AttemptID: rm.current,
		Ask: []rmapi.ResourceRequest{{Count: 2, MemoryBytes: 64 << 20, Slots: 1}}, Release: []string{"container_1_0001_01_000001"}})
	require.NoError(t, err)
	require.Len(t, res.Allocated, 2)
	require.Equal(t, "released by the AM", res.Completed[0].Diagnostics)

	require.NoError(t, c.Finish(ctx, rmapi.FinishRequest{AttemptID: rm.current, Status: rmapi.Succeeded}))
	require.Equal(t, rmapi.Succeeded, rm.finished.Status)
}

func TestLeadershipReportsArriveInOrder(t *testing.T) {
	rm := &fakeRM{current: "appattempt_1_0001_000002"}
	var logs bytes.Buffer
	_, c, _ := serve(t, rm, zerolog.New(&logs))
	ctx := context.Background()

	err := c.Leadership(ctx, rmapi.LeadershipRequest{AttemptID: rm.current, Leading: true})
	require.ErrorIs(t, err, rmapi.ErrNotRegistered, "a report before Register is refused")
	_, err = c.Register(ctx, rmapi.RegisterRequest{AttemptID: rm.current})
	require.NoError(t, err)

	for _, leading := range []bool{true, false, true} {
		require.NoError(t, c.Leadership(ctx, rmapi.LeadershipRequest{AttemptID: rm.current, Leading: leading}))
	}
	require.Equal(t, []bool{true, false, true}, rm.leading)
	require.Contains(t, logs.String(), `"leading":false`, "each report is logged")

	err = c.Leadership(ctx, rmapi.LeadershipRequest{AttemptID: "appattempt_1_0001_000001", Leading: true})
	require.ErrorIs(t, err, rmapi.ErrStaleAttempt)
	require.Equal(t, []bool{true, false, true}, rm.leading, "a stale attempt's report changes nothing")
}

func TestStaleAttemptIsRefused(t *testing.T) {
	rm := &fakeRM{current: "appattempt_1_0001_000002"}
	_, c, _ := serve(t, rm, zerolog.Nop())
	ctx := context.Background()
	_, err := c.Register(ctx, rmapi.RegisterRequest{AttemptID: "appattempt_1_0001_000001"})
	require.ErrorIs(t, err, rmapi.ErrStaleAttempt)
	require.Contains(t, err.Error(), "appattempt_1_0001_000001")
	err = c.Finish(ctx, rmapi.FinishRequest{AttemptID: "appattempt_1_0001_000001", Status: rmapi.Failed})
	require.ErrorIs(t, err, rmapi.ErrStaleAttempt)
	require.Nil(t, rm.finished)
}

func TestBadRequestsNameTheProblem(t *testing.T) {
	rm := &fakeRM{current: "a"}
	sock, c, secret := serve(t, rm, zerolog.Nop())
	err := c.Finish(context.Background(), rmapi.FinishRequest{AttemptID: "a", Status: "DONE"})
	require.ErrorIs(t, err, rmapi.ErrInvalid)
	require.Contains(t, err.Error(), `"DONE"`)

	// Unknown fields are refused rather than silently ignored.
	hc := secret.Client(&http.Client{Transport: rmapi.UnixTransport(sock)})
	resp, err := hc.Post("http://x"+rmapi.PathRegister, "application/json", strings.NewReader(`{"attemptId":"a","bogus":1}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

// TestCallsWithoutTheSecretAreRefused: a caller that can reach the socket but
// does not hold the application secret gets 401 with no detail, and the
// supervisor never sees the call.
func TestCallsWithoutTheSecretAreRefused(t *testing.T) {
	rm := &fakeRM{current: "a"}
	sock, _, _ := serve(t, rm, zerolog.Nop())
	ctx := context.Background()
	other, err := appsecret.New()
	require.NoError(t, err)
	for name, c := range map[string]*rmapi.Client{"no secret": rmapi.NewClient(sock, appsecret.Secret{}), "another secret": rmapi.NewClient(sock, other)} {
		_, err := c.Register(ctx, rmapi.RegisterRequest{AttemptID: "a", Session: &rmapi.SessionCredentials{SessionID: 1, Password: []byte("pw")}})
		require.Equal(t, http.StatusUnauthorized, httpjson.StatusCode(err), name)
		require.Equal(t, "rmapi: "+rmapi.PathRegister+": POST http://supervisor"+rmapi.PathRegister+": 401 Unauthorized: Unauthorized", err.Error(), name)
		c.Close()
	}
	hc := &http.Client{Transport: rmapi.UnixTransport(sock)}
	defer hc.CloseIdleConnections()
	resp, err := hc.Post("http://x"+rmapi.PathFinish, "application/json", strings.NewReader(`{"attemptId":"a","status":"KILLED"}`))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "Unauthorized\n", string(body), "no detail")
	rm.mu.Lock()
	defer rm.mu.Unlock()
	require.False(t, rm.registered, "the supervisor never saw the register")
	require.Nil(t, rm.finished, "nor the finish")
}

func TestSocketIsPrivateAndStaleSocketReplaced(t *testing.T) {
	sock, _, _ := serve(t, &fakeRM{current: "a"}, zerolog.Nop())
	fi, err := os.Stat(sock)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	di, err := os.Stat(filepath.Dir(sock))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), di.Mode().Perm())

	// A live socket is not stolen.
	_, err = rmapi.Listen(sock)
	require.ErrorContains(t, err, "another supervisor")

	// A dead supervisor's socket file is replaced.
	stale := filepath.Join(t.TempDir(), "stale.sock")
	l, err := net.Listen("unix", stale)
	require.NoError(t, err)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	l2, err := rmapi.Listen(stale)
	require.NoError(t, err)
	l2.Close()

	// A regular file is never removed.
	plain := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(plain, []byte("x"), 0o600))
	_, err = rmapi.Listen(plain)
	require.ErrorContains(t, err, "is a regular file, not a unix socket")
}

// TestSquattedSocketDirectoryRefused: another user made the socket directory
// (world-writable) and planted rm.sock in it. The supervisor does not listen
// there, and an AM does not connect: the planted socket sees nothing, in
// particular no session credentials.
func TestSquattedSocketDirectoryRefused(t *testing.T) {
	dir := filepath.Join(privdirtest.SharedDir(t), "amk")
	privdirtest.AsNobody(t, "mkdir", "-m", "0777", dir)
	sock := filepath.Join(dir, "rm.sock")
	planted := privdirtest.Plant(t, sock)
	want := dir + " is not private to this user: it is owned by uid 65534, not by you (uid 0)"

	_, err := rmapi.Listen(sock)
	require.ErrorIs(t, err, privdir.ErrUntrusted)
	require.ErrorContains(t, err, want)

	c := rmapi.NewClient(sock, appsecret.Secret{})
	_, err = c.Register(context.Background(), rmapi.RegisterRequest{AttemptID: "a",
		Session: &rmapi.SessionCredentials{SessionID: 1, Password: []byte("secret")}})
	require.ErrorIs(t, err, privdir.ErrUntrusted)
	require.ErrorContains(t, err, want)

	// Our own directory, but the socket in it is nobody's.
	mine := filepath.Join(privdirtest.SharedDir(t), "mine")
	require.NoError(t, privdir.Ensure(mine))
	theirs := privdirtest.Plant(t, filepath.Join(mine, "rm.sock"))
	_, err = rmapi.NewClient(filepath.Join(mine, "rm.sock"), appsecret.Secret{}).Register(context.Background(), rmapi.RegisterRequest{AttemptID: "a"})
	require.ErrorContains(t, err, "the socket is owned by uid 65534, not by you (uid 0)")
	_, err = rmapi.Listen(filepath.Join(mine, "rm.sock"))
	require.ErrorContains(t, err, "the socket is owned by uid 65534, not by you (uid 0)")

	require.Zero(t, planted.Connections())
	require.Zero(t, theirs.Connections())
}

func TestContextBoundsACall(t *testing.T) {
	rm := &fakeRM{current: "a", registered: true, block: make(chan struct{})}
	_, c, _ := serve(t, rm, zerolog.Nop())
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Allocate(ctx, rmapi.AllocateRequest{AttemptID: "a"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	close(rm.block)
}

func TestSessionCredentialsStringHidesPassword(t *testing.T) {
	s := rmapi.SessionCredentials{SessionID: 0xabc, Password: []byte("secret")}
	require.Equal(t, "session 0xabc", s.String())
	require.NotContains(t, fmt.Sprintf("%v %s", s, s), "secret")
}
