package sessionctl_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/sessionctl"
	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/haservices"
)

// leadingDispatcher is a dispatcher holding an embedded leadership grant until
// the test ends.
func leadingDispatcher(t *testing.T) (*jobmanager.Dispatcher, recovery.JobGraphStore) {
	t.Helper()
	cfg, err := conf.Load(conf.Options{ApplicationID: "application_1_0001"})
	require.NoError(t, err)
	ctx := context.Background()
	svc, err := haservices.Open(ctx, cfg, haservices.Options{LocalDir: t.TempDir(), Logger: logging.ForTest(t)})
	require.NoError(t, err)
	graphs, err := svc.JobGraphStore(ctx)
	require.NoError(t, err)
	results, err := svc.JobResultStore()
	require.NoError(t, err)
	d := jobmanager.NewDispatcher(graphs, results, nil, logging.ForTest(t))
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = svc.Election().Run(runCtx, func(g recovery.Grant) { d.Start(g.Context(), g)() })
	}()
	t.Cleanup(func() { cancel(); <-done; svc.Close() })
	require.Eventually(t, d.Recovered, 10*time.Second, 5*time.Millisecond)
	return d, graphs
}

// TestSubmitWhoseAcknowledgementWasLost: the leader stores and runs a
// submission but its 202 never reaches the client; the client's retry is
// answered 409 for the job now running, which Submit recognises (same job ID,
// same graph) as its own: success. Another graph under the same ID stays a 409.
func TestSubmitWhoseAcknowledgementWasLost(t *testing.T) {
	d, graphs := leadingDispatcher(t)
	h := d.Handler()
	var lost atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/jobs" && lost.CompareAndSwap(false, true) {
			h.ServeHTTP(httptest.NewRecorder(), r) // accepted…
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close() // …and the answer lost
			}
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	sub, err := sessionctl.NewSubmission([]byte("name: counting\nparallelism: 1\npipeline:\n  - sequence: {rate: 1s}\n  - file: {path: counts}\n"), "counting.yaml")
	require.NoError(t, err)
	require.NoError(t, sessionctl.Submit(ctx, appsecret.Secret{}, nil, srv.URL, sub))
	require.True(t, lost.Load())
	stored, err := graphs.StoredJobIDs(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{sub.JobID}, stored)
	require.Equal(t, []jobmanager.JobStatus{{JobID: sub.JobID, Name: "counting", State: jobmanager.JobRunning}}, d.Jobs())

	spec, err := job.ParseSpec([]byte("name: other\nparallelism: 1\npipeline:\n  - sequence: {rate: 1s}\n  - file: {path: elsewhere}\n"), "other.yaml")
	require.NoError(t, err)
	encoded, err := job.Graph{ID: job.JobID(sub.JobID), Spec: spec}.Encode()
	require.NoError(t, err)
	other := jobmanager.JobSubmission{JobID: sub.JobID, Name: "other", Graph: encoded}
	err = sessionctl.Submit(ctx, appsecret.Secret{}, nil, srv.URL, other)
	var re *sessionctl.RefusedError
	require.True(t, errors.As(err, &re), "%v", err)
	require.Equal(t, http.StatusConflict, re.StatusCode)
}
