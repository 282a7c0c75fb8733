package recovery

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/logging"
)

// JobGraphsDir is the directory of job graph pointers (below the cluster root).
const JobGraphsDir = "/jobgraphs"

// JobGraphs is the JobGraphStore over a backend's PointerStore: pointers under
// /jobgraphs/<job-id>, payloads named <cluster-path>/submittedJobGraph-<job-id>-<random>.
type JobGraphs struct {
	ps  PointerStore
	log zerolog.Logger
}

var _ JobGraphStore = (*JobGraphs)(nil)

// newJobGraphs opens the job graph store on b. clusterPath is the cluster's
// prefix in storage (e.g. the cluster ID).
func newJobGraphs(ctx context.Context, b Backend, st hdfsstore.Store, clusterPath string, instance uuid.UUID, log zerolog.Logger) (*JobGraphs, error) {
	ps, err := b.PointerStore(ctx, PointerStoreConfig{Dir: JobGraphsDir, Storage: st,
		PayloadPrefix: jobGraphPayloadPrefix(clusterPath), Instance: instance, Logger: log})
	if err != nil {
		return nil, err
	}
	return &JobGraphs{ps: ps, log: log}, nil
}

// Put implements JobGraphStore.
func (s *JobGraphs) Put(ctx context.Context, g Guard, jobID string, graph []byte) error {
	if err := s.ps.Put(ctx, g, jobID, graph); err != nil {
		return fmt.Errorf("recovery: put job graph %s: %w", jobID, err)
	}
	s.log.Info().Str(logging.Job, jobID).Int("bytes", len(graph)).Msg("job graph stored")
	return nil
}

// Recover implements JobGraphStore.
func (s *JobGraphs) Recover(ctx context.Context, jobID string) ([]byte, error) {
	b, err := s.ps.GetAndLock(ctx, jobID)
	if err != nil {
		return nil, fmt.Errorf("recovery: recover job graph %s: %w", jobID, err)
	}
	return b, nil
}

// RecoverAll recovers (and locks) many job graphs with their reads pipelined; the
// result is in the order of jobIDs, each entry with its own error.
func (s *JobGraphs) RecoverAll(ctx context.Context, jobIDs []string) []Entry {
	return s.ps.GetAll(ctx, jobIDs, true)
}

// JobIDs implements JobGraphStore.
func (s *JobGraphs) JobIDs(ctx context.Context) ([]string, error) {
	return s.ps.Keys(ctx)
}

// StoredJobIDs implements JobGraphStore.
func (s *JobGraphs) StoredJobIDs(ctx context.Context) ([]string, error) {
	return s.ps.Names(ctx)
}

// Release implements JobGraphStore.
func (s *JobGraphs) Release(ctx context.Context, jobID string) error {
	return s.ps.Release(ctx, jobID)
}

// Remove implements JobGraphStore.
func (s *JobGraphs) Remove(ctx context.Context, g Guard, jobID string) error {
	if err := s.ps.ReleaseAndTryRemove(ctx, g, jobID); err != nil {
		return fmt.Errorf("recovery: remove job graph %s: %w", jobID, err)
	}
	s.log.Info().Str(logging.Job, jobID).Msg("job graph removed")
	return nil
}

// Stop implements JobGraphStore. It is idempotent.
func (s *JobGraphs) Stop() error { return s.ps.Close() }
