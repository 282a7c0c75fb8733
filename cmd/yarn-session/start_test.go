package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/supervisor"
)

// TestPickRESTPort: a session picks a free port (one it can bind) only when
// neither rest.port nor rest.bind-port is set; a set key is left to the AMs.
func TestPickRESTPort(t *testing.T) {
	load := func(dyn ...string) *conf.Config {
		c, err := conf.Load(conf.Options{Dynamic: dyn, LookupEnv: func(string) (string, bool) { return "", false }})
		require.NoError(t, err)
		return c
	}
	port, err := pickRESTPort(load())
	require.NoError(t, err)
	require.NotZero(t, port)
	require.NotEqual(t, 8081, port, "not rest.port's default")
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	require.NoError(t, err, "the port picked is free on rest.bind-address")
	l.Close()

	for _, dyn := range []string{"rest.port=0", "rest.port=8081", "rest.bind-port=50100-50200"} {
		port, err := pickRESTPort(load(dyn))
		require.NoError(t, err)
		require.Zero(t, port, dyn)
	}
	_, err = pickRESTPort(load("rest.bind-address=192.0.2.1"))
	require.ErrorContains(t, err, "pick a free REST port on 192.0.2.1 (rest.bind-address): listen tcp 192.0.2.1:0: bind: ")
}

// TestAwaitLeaderWaitsForTheEndRecord: a supervisor that already reports FAILED
// but has not yet written ended.json (it writes it right after) does not make a
// start fail without the record's reason and attempt count. The record is
// written only once the start has been answered FAILED three times, so the
// start kept waiting across two answers of the bare state.
func TestAwaitLeaderWaitsForTheEndRecord(t *testing.T) {
	dir := t.TempDir()
	const appID = "application_1700000000000_0001"
	thirdAnswer := make(chan struct{})
	serveFakeSupervisor(t, dir, supervisor.Status{State: "FAILED", SupervisorPID: os.Getpid()}, func(n int) {
		if n == 3 { // answered before the record exists, as every answer before it
			b, _ := json.Marshal(ended{ApplicationID: appID, FinalStatus: "FAILED", Reason: "budget-exhausted", Attempts: 2})
			_ = os.WriteFile(filepath.Join(dir, endedFile), b, 0o600)
			close(thirdAnswer)
		}
	})
	_, err := awaitLeader(context.Background(), dir, appID, time.Minute, nil)
	var se *errStart
	require.ErrorAs(t, err, &se)
	require.True(t, se.gone)
	require.True(t, strings.HasPrefix(se.msg, "session "+appID+" ended FAILED (budget-exhausted) after 2 attempt(s) before an application master led; "), se.msg)
	select {
	case <-thirdAnswer:
	default:
		t.Fatal("the start returned before its third status answer, without the record")
	}
}

// serveFakeSupervisor answers status requests on dir's control socket with st,
// as a supervisor does; onStatus (if not nil) is called with the request's
// number (1, 2, …) before each answer is written.
func serveFakeSupervisor(t *testing.T, dir string, st supervisor.Status, onStatus func(n int)) {
	t.Helper()
	sock := supervisor.ControlSocket(dir)
	require.NoError(t, os.MkdirAll(filepath.Dir(sock), 0o700))
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	var mu sync.Mutex
	n := 0
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+supervisor.PathStatus, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		if onStatus != nil {
			onStatus(n)
		}
		mu.Unlock()
		httpjson.Write(w, http.StatusOK, st)
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
}
