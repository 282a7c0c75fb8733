package jobmanager_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/taskmanager/tmapi"
)

// TestJobsBeyondTheCapRefused: with amkeeper.session.max-jobs at 1, a second
// submission is refused 409 naming the key and stores nothing; once the first
// job is canceled, the next is accepted.
func TestJobsBeyondTheCapRefused(t *testing.T) {
	p := startDispatcher(t, t.TempDir())
	p.d.SetMaxJobs(1)
	srv := httptest.NewServer(p.d.Handler())
	t.Cleanup(srv.Close)
	ctx := context.Background()
	const jobB = "0000000000000000000000000000000b"
	submit := func(id, sink string) error {
		return httpjson.Client{}.Do(ctx, httpjson.Request{Method: http.MethodPost, URL: srv.URL + "/jobs",
			Body: jobmanager.JobSubmission{JobID: id, Graph: encodedGraph(t, id, sink)}, Status: http.StatusAccepted}, nil)
	}
	require.NoError(t, submit(jobA, "a"))
	err := submit(jobB, "b")
	var se *httpjson.StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, http.StatusConflict, se.StatusCode)
	require.Equal(t, "jobmanager: too many jobs: job "+jobB+": the session runs 1 jobs, the most amkeeper.session.max-jobs (1) allows; cancel one or raise the key", se.Message)
	require.Len(t, p.d.Jobs(), 1)

	require.NoError(t, p.d.Cancel(ctx, jobA))
	require.NoError(t, submit(jobB, "b"))
	require.Eventually(t, func() bool { return len(p.deployments()) == 2 }, 5*time.Second, 5*time.Millisecond)
}

// TestSlotClaimAboveTheCapRefused: a registration claiming more slots than
// amkeeper.taskmanager.max-slots is refused naming the key and not recorded;
// one at the cap is accepted.
func TestSlotClaimAboveTheCapRefused(t *testing.T) {
	r := jobmanager.NewTaskManagers(time.Second, 5*time.Second, logging.ForTest(t))
	r.SetMaxSlots(8)
	session := "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	r.SetLeader(uuid.MustParse(session))
	srv := httptest.NewServer(r.Handler(testSecret))
	t.Cleanup(srv.Close)
	client := tmapi.NewRegistryClient(&http.Client{Timeout: 5 * time.Second}, testSecret)
	ctx := context.Background()
	_, err := client.Register(ctx, srv.URL, tmapi.Registration{ContainerID: "container_1_0001_01_000002", Slots: 1 << 30, LeaderSession: session, Address: "http://127.0.0.1:1"})
	require.ErrorContains(t, err, "taskmanager registration: container container_1_0001_01_000002 claims 1073741824 slots, above amkeeper.taskmanager.max-slots (8)")
	require.Empty(t, r.List())
	_, err = client.Register(ctx, srv.URL, tmapi.Registration{ContainerID: "container_1_0001_01_000002", Slots: 8, LeaderSession: session, Address: "http://127.0.0.1:1"})
	require.NoError(t, err)
	require.Len(t, r.List(), 1)
}
