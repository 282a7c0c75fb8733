package jobmanager_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/flinkssl"
	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/zktls/tlstest"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery/embedded"
	"github.com/amkeeper/amkeeper/supervisor/rmapi"
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

// fakeRM stands in for the supervisor: Allocate starts in-process TaskManagers.
type fakeRM struct {
	t        *testing.T
	dir      string
	mu       sync.Mutex
	previous []rmapi.Container
	released []string
	seq      int
	leading  []bool // the leadership reports, in order
	// restarted: a new supervisor that has not heard from the AM yet answers
	// Allocate with ErrNotRegistered until the AM registers again.
	restarted bool
	registers []rmapi.RegisterRequest
	away      bool // no supervisor: every Allocate fails
	failed    int  // Allocate calls that failed while away
}

func (f *fakeRM) Register(ctx context.Context, req rmapi.RegisterRequest) (rmapi.RegisterResponse, error) {
	f.mu.Lock()
	f.registers = append(f.registers, req)
	f.restarted = false
	f.mu.Unlock()
	return rmapi.RegisterResponse{ApplicationID: "application_1_0001", Attempt: 2, MaxAttempts: 2, PreviousContainers: f.previous}, nil
}

func (f *fakeRM) Allocate(ctx context.Context, req rmapi.AllocateRequest) (rmapi.AllocateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.restarted {
		return rmapi.AllocateResponse{}, rmapi.ErrNotRegistered
	}
	if f.away {
		f.failed++
		return rmapi.AllocateResponse{}, fmt.Errorf("rmapi: /v1/allocate via rm.sock: connection refused")
	}
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

func (f *fakeRM) Leadership(ctx context.Context, req rmapi.LeadershipRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.leading = append(f.leading, req.Leading)
	return nil
}

func (f *fakeRM) reports() []bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]bool(nil), f.leading...)
}

func startTM(t *testing.T, dir, id string) {
	tm := taskmanager.New(taskmanager.Config{ContainerID: id, Slots: 1, Leaders: embeddedHA(t, dir), Secret: testSecret, Logger: logging.ForTest(t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = tm.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// runAM runs attempt 2 with embedded high availability in rm.dir, the fake
// supervisor rm and tms TaskManagers. stop ends it and returns Run's result; the
// test's cleanup stops it too.
func runAM(t *testing.T, cfg *conf.Config, rm *fakeRM, tms int, mods ...func(*jobmanager.AMConfig)) (*jobmanager.AM, func() error) {
	t.Helper()
	amc := jobmanager.AMConfig{
		Conf: cfg, Secret: testSecret, Election: embeddedHA(t, rm.dir).Election(), RM: rm,
		AttemptID: "appattempt_1_0001_000002", Attempt: 2, TaskManagers: tms, Slots: 1,
		AllocateInterval: 20 * time.Millisecond, Logger: logging.ForTest(t),
	}
	for _, mod := range mods {
		mod(&amc)
	}
	am := jobmanager.NewAM(amc)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- am.Run(ctx) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { require.NoError(t, stop()) })
	return am, stop
}

// awaitLeading waits until the AM, read through client, leads with its one
// TaskManager registered, and returns its overview then.
func awaitLeading(t *testing.T, am *jobmanager.AM, client httpjson.Client) jobmanager.Overview {
	t.Helper()
	var o jobmanager.Overview
	require.Eventually(t, func() bool {
		return am.Address() != "" && client.Get(context.Background(), am.Address()+"/overview", &o) == nil && o.Leader && o.TaskManagers == 1
	}, 10*time.Second, 10*time.Millisecond, "the AM leads with its TaskManager registered")
	return o
}

func getJSON(t *testing.T, url string, v any) {
	require.NoError(t, httpjson.Client{}.Get(context.Background(), url, v))
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

	am, _ := runAM(t, cfg, rm, 2)

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

// TestAMReportsLeadershipToTheSupervisor: the AM tells the supervisor that it
// leads once its grant is published, and that it no longer does when the grant
// ends (here: the AM stops), so the supervisor never has to ask the AMs.
func TestAMReportsLeadershipToTheSupervisor(t *testing.T) {
	dir := t.TempDir()
	cfg, err := conf.Load(conf.Options{Dynamic: []string{"rest.port=0", "heartbeat.interval=50 ms"}})
	require.NoError(t, err)
	rm := &fakeRM{t: t, dir: dir}
	am, stop := runAM(t, cfg, rm, 0)

	require.Eventually(t, func() bool { return fmt.Sprint(rm.reports()) == "[true]" }, 10*time.Second, 5*time.Millisecond,
		"one report: leading")
	var o jobmanager.Overview
	getJSON(t, am.Address()+"/overview", &o)
	require.True(t, o.Leader, "reported once the grant is published")

	require.NoError(t, stop())
	require.Equal(t, []bool{true, false}, rm.reports(), "the grant's end is reported before Run returns")
}

func embeddedHA(t *testing.T, dir string) *embedded.Backend {
	b, err := embedded.Open(dir, logging.ForTest(t))
	require.NoError(t, err)
	return b
}

// TestAMRESTGate: reads stay open but the leader session is served only with
// the secret; a call that changes state needs the secret (401), a JSON body
// type (415), and no foreign browser Origin (403, reads too); with all three it
// reaches its handler.
func TestAMRESTGate(t *testing.T) {
	dir := t.TempDir()
	cfg, err := conf.Load(conf.Options{Dynamic: []string{"rest.port=0", "heartbeat.interval=50 ms"}})
	require.NoError(t, err)
	rm := &fakeRM{t: t, dir: dir}
	am, _ := runAM(t, cfg, rm, 1)
	awaitLeading(t, am, httpjson.Client{})

	var open, authed jobmanager.Overview
	getJSON(t, am.Address()+"/overview", &open)
	require.NoError(t, httpjson.Client{HTTP: testSecret.Client(nil)}.Get(context.Background(), am.Address()+"/overview", &authed))
	require.Empty(t, open.LeaderSession, "not served without the secret")
	require.NotEmpty(t, authed.LeaderSession, "served with it")
	open.LeaderSession = authed.LeaderSession
	require.Equal(t, authed, open, "everything else is open")

	call := func(secret appsecret.Secret, method, path, contentType, origin, body string) int {
		base := am.Address()
		if strings.HasPrefix(path, "/internal/") {
			base = am.InternalAddress() // the TaskManagers' protocol: the RPC endpoint, gated the same
		}
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		require.NoError(t, err)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := secret.Client(nil).Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	const hb = `{"containerId":"container_9_0009_09_000009","leaderSession":"x"}`
	none := appsecret.Secret{}
	for _, tc := range []struct {
		name                 string
		secret               appsecret.Secret
		method, path, ct, or string
		want                 int
	}{
		{"no secret", none, http.MethodPost, tmapi.PathHeartbeat, "application/json", "", http.StatusUnauthorized},
		{"no secret, cancel", none, http.MethodPost, "/jobs/j/cancel", "application/json", "", http.StatusUnauthorized},
		{"no secret, delete", none, http.MethodDelete, "/jobs/j", "application/json", "", http.StatusUnauthorized},
		{"form body", testSecret, http.MethodPost, tmapi.PathHeartbeat, "text/plain", "", http.StatusUnsupportedMediaType},
		{"no body type", testSecret, http.MethodPost, tmapi.PathHeartbeat, "", "", http.StatusUnsupportedMediaType},
		{"foreign origin", testSecret, http.MethodPost, tmapi.PathHeartbeat, "application/json", "http://evil.example", http.StatusForbidden},
		{"foreign origin, read", none, http.MethodGet, "/overview", "", "http://evil.example", http.StatusForbidden},
		{"null origin", testSecret, http.MethodPost, tmapi.PathHeartbeat, "application/json", "null", http.StatusForbidden},
		{"own origin, read", none, http.MethodGet, "/overview", "", am.Address(), http.StatusOK},
		{"own origin, with everything", testSecret, http.MethodPost, "/jobs/j/cancel", "application/json; charset=utf-8", am.Address(), http.StatusNotFound},
		{"REST origin at the RPC endpoint", testSecret, http.MethodPost, tmapi.PathHeartbeat, "application/json", am.Address(), http.StatusForbidden},
		{"with everything", testSecret, http.MethodPost, tmapi.PathHeartbeat, "application/json", "", http.StatusConflict},
	} {
		require.Equal(t, tc.want, call(tc.secret, tc.method, tc.path, tc.ct, tc.or, hb), tc.name)
	}
}

// TestAMRESTTLSOnly: with REST TLS and no internal TLS the REST API is https and
// the TaskManagers' registry moves to a plain port of its own, where the
// TaskManager registers; the REST port no longer serves the registry; without
// authentication-enabled a client certificate does not stand for the secret.
func TestAMRESTTLSOnly(t *testing.T) {
	dir := t.TempDir()
	certs := tlstest.Generate(t, filepath.Join(dir, "certs"))
	cfg, err := conf.Load(conf.Options{Dynamic: []string{"rest.port=0", "heartbeat.interval=50 ms",
		"security.ssl.rest.enabled=true", "security.ssl.rest.keystore=" + certs.Server, "security.ssl.rest.truststore=" + certs.CA}})
	require.NoError(t, err)
	side, err := flinkssl.REST(cfg)
	require.NoError(t, err)
	rm := &fakeRM{t: t, dir: dir}
	am, _ := runAM(t, cfg, rm, 1, func(c *jobmanager.AMConfig) { c.RESTTLS = side })
	https := side.HTTPClient(5 * time.Second)
	awaitLeading(t, am, httpjson.Client{HTTP: https}) // the TaskManager registers at the registry's own port
	require.True(t, strings.HasPrefix(am.Address(), "https://127.0.0.1:"), am.Address())
	require.True(t, strings.HasPrefix(am.InternalAddress(), "http://127.0.0.1:"), am.InternalAddress())
	require.NotEqual(t, strings.TrimPrefix(am.Address(), "https://"), strings.TrimPrefix(am.InternalAddress(), "http://"))

	post := func(hc *http.Client, url string) int {
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`{}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusNotFound, post(testSecret.Client(https), am.Address()+tmapi.PathHeartbeat), "no registry on the REST port")
	require.Equal(t, http.StatusUnauthorized, post(https, am.Address()+"/jobs/j/cancel"), "no secret")
	require.Equal(t, http.StatusNotFound, post(testSecret.Client(https), am.Address()+"/jobs/j/cancel"), "the secret passes the gate (this AM has no jobs)")
	withCert := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: side.Client.Clone()}}
	cert, err := tls.LoadX509KeyPair(certs.Client, certs.Client)
	require.NoError(t, err)
	withCert.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{cert}
	require.Equal(t, http.StatusUnauthorized, post(withCert, am.Address()+"/jobs/j/cancel"), "a certificate counts only with authentication-enabled")
}

// TestAMAdmitsOnlyLaunchedContainers: a registration carrying the secret is
// still refused (403, ErrUnknownContainer) for a container the supervisor did
// not launch, and for a launched one with other slots than it was launched
// with; the real TaskManager stays registered at its own address.
func TestAMAdmitsOnlyLaunchedContainers(t *testing.T) {
	dir := t.TempDir()
	cfg, err := conf.Load(conf.Options{Dynamic: []string{"rest.port=0", "heartbeat.interval=50 ms"}})
	require.NoError(t, err)
	rm := &fakeRM{t: t, dir: dir}
	am, _ := runAM(t, cfg, rm, 1)
	var tms struct {
		TaskManagers []jobmanager.TaskManagerInfo `json:"taskmanagers"`
	}
	require.Eventually(t, func() bool {
		return am.Address() != "" && httpjson.Client{}.Get(context.Background(), am.Address()+"/taskmanagers", &tms) == nil && len(tms.TaskManagers) == 1
	}, 10*time.Second, 10*time.Millisecond)
	launched := tms.TaskManagers[0]
	require.Equal(t, "container_1_0001_02_000001", launched.ContainerID)
	var o jobmanager.Overview
	require.NoError(t, httpjson.Client{HTTP: testSecret.Client(nil)}.Get(context.Background(), am.Address()+"/overview", &o))

	c := tmapi.NewRegistryClient(&http.Client{Timeout: 5 * time.Second}, testSecret)
	for _, reg := range []tmapi.Registration{
		{ContainerID: "container_1_0001_02_000099", Slots: 1},
		{ContainerID: launched.ContainerID, Slots: 500000},
		{ContainerID: launched.ContainerID, Slots: 0},
	} {
		reg.Address, reg.LeaderSession = "http://127.0.0.1:9", o.LeaderSession
		_, err := c.Register(context.Background(), am.InternalAddress(), reg)
		require.ErrorIs(t, err, tmapi.ErrUnknownContainer, "%s with %d slots", reg.ContainerID, reg.Slots)
		require.Equal(t, http.StatusForbidden, httpjson.StatusCode(err))
	}
	getJSON(t, am.Address()+"/taskmanagers", &tms)
	require.Len(t, tms.TaskManagers, 1)
	require.Equal(t, launched.Address, tms.TaskManagers[0].Address, "the real TaskManager, at its own address")
}

// TestAMResyncsWithARestartedSupervisor: a restarted supervisor answers the
// leader's Allocate with ErrNotRegistered; the AM registers again with its
// ZooKeeper session credentials and reports its leadership again (YARN's
// resync), and allocating goes on.
func TestAMResyncsWithARestartedSupervisor(t *testing.T) {
	rm := &fakeRM{t: t, dir: t.TempDir()}
	cfg, err := conf.Load(conf.Options{Dynamic: []string{"rest.port=0", "heartbeat.interval=50 ms"}})
	require.NoError(t, err)
	session := &rmapi.SessionCredentials{SessionID: 0x1234, Password: []byte("pw")}
	am := jobmanager.NewAM(jobmanager.AMConfig{
		Conf: cfg, Secret: testSecret, Election: embeddedHA(t, rm.dir).Election(), RM: rm,
		AttemptID: "appattempt_1_0001_000002", Attempt: 2, Slots: 1, Session: session,
		AllocateInterval: 20 * time.Millisecond, Logger: logging.ForTest(t),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- am.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()
	require.Eventually(t, func() bool { return len(rm.reports()) == 1 }, 10*time.Second, 5*time.Millisecond)

	rm.mu.Lock()
	before := len(rm.registers)
	rm.restarted = true
	rm.mu.Unlock()
	require.Eventually(t, func() bool {
		rm.mu.Lock()
		defer rm.mu.Unlock()
		return !rm.restarted && len(rm.registers) == before+1
	}, 10*time.Second, 5*time.Millisecond, "the AM registers again")
	rm.mu.Lock()
	again := rm.registers[before]
	rm.mu.Unlock()
	require.Equal(t, "appattempt_1_0001_000002", again.AttemptID)
	require.Equal(t, session, again.Session, "with its ZooKeeper session credentials")
	require.Eventually(t, func() bool { return fmt.Sprint(rm.reports()) == "[true true]" }, 10*time.Second, 5*time.Millisecond,
		"and reports its leadership again")
}

// TestAMKeepsReleasesWhileTheSupervisorIsAway: an adopted container that never
// re-registers is released when its timeout passes while no supervisor answers;
// the release is sent once one answers again, not lost with the failed call.
func TestAMKeepsReleasesWhileTheSupervisorIsAway(t *testing.T) {
	dir := t.TempDir()
	cfg, err := conf.Load(conf.Options{Dynamic: []string{
		"rest.port=0", "resourcemanager.taskmanager-registration.timeout=300 ms", "heartbeat.interval=50 ms",
	}})
	require.NoError(t, err)
	ghost := "container_1_0001_01_000002"
	rm := &fakeRM{t: t, dir: dir, previous: []rmapi.Container{{ID: ghost, Attempt: 1, Slots: 1}}, away: true}
	runAM(t, cfg, rm, 1)
	require.Eventually(t, func() bool {
		rm.mu.Lock()
		defer rm.mu.Unlock()
		return rm.failed >= 20 // 400 ms of heartbeats: the timeout passed while away
	}, 10*time.Second, 5*time.Millisecond)
	rm.mu.Lock()
	rm.away = false
	rm.mu.Unlock()
	require.Eventually(t, func() bool {
		rm.mu.Lock()
		defer rm.mu.Unlock()
		return fmt.Sprint(rm.released) == "["+ghost+"]"
	}, 10*time.Second, 5*time.Millisecond, "the release reaches the supervisor once it answers")
}
