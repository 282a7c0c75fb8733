package jobmanager_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery"
)

// heldListing is a job graph store whose listing waits for release.
type heldListing struct {
	recovery.JobGraphStore
	release chan struct{}
}

func (h heldListing) StoredJobIDs(ctx context.Context) ([]string, error) {
	<-h.release
	return h.JobGraphStore.StoredJobIDs(ctx)
}

// TestJobsAnswerRecoveringUntilTheStoredJobsAreListed: a new leader that has
// not listed its stored jobs yet answers GET /jobs and GET /jobs/{id} with 503
// (retry), not with a list that leaves the stored jobs out; once listed, it
// lists them. A leader publishes its REST address while it lists, so a client
// may ask in between.
func TestJobsAnswerRecoveringUntilTheStoredJobsAreListed(t *testing.T) {
	p := leadingServices(t, t.TempDir())
	ctx := context.Background()
	require.NoError(t, p.graphs.Put(ctx, p.g, jobA, encodedGraph(t, jobA, "counts")))
	require.NoError(t, p.graphs.Release(ctx, jobA))
	held := heldListing{JobGraphStore: p.graphs, release: make(chan struct{})}
	var once sync.Once
	release := func() { once.Do(func() { close(held.release) }) }
	log := &deployLog{}
	d := jobmanager.NewDispatcher(held, p.results, log.deploy, logging.ForTest(t))
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	startGrant(t, d, p)
	t.Cleanup(release) // runs before the grant's stop, which waits for the listing

	for _, path := range []string{"/jobs", "/jobs/overview", "/jobs/" + jobA} {
		res, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, "GET %s while the stored jobs are not listed", path)
	}
	release()
	var listed struct {
		Jobs []jobmanager.JobStatus `json:"jobs"`
	}
	require.Eventually(t, func() bool {
		res, err := http.Get(srv.URL + "/jobs")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		return res.StatusCode == http.StatusOK && json.NewDecoder(res.Body).Decode(&listed) == nil
	}, 10*time.Second, 5*time.Millisecond, "GET /jobs answers once the stored jobs are listed")
	require.Len(t, listed.Jobs, 1)
	require.Equal(t, jobA, listed.Jobs[0].JobID)
}
