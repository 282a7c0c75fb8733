package recovery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/logging"
)

// JobGraphsDir is the directory of job graph pointers (below the cluster root).
const JobGraphsDir = "/jobgraphs"

// watchRetry is the pause before the job graph watch tries again after an error.
const watchRetry = time.Second

// JobGraphs is the JobGraphStore over a backend's PointerStore: pointers under
// /jobgraphs/<job-id>, payloads named <cluster-path>/submittedJobGraph-<job-id>-<random>.
type JobGraphs struct {
	ps      PointerStore
	watcher KeyWatcher // nil when the backend cannot watch (embedded: no one else writes)
	log     zerolog.Logger

	mu      sync.Mutex
	known   map[string]bool // job IDs seen or written by this instance
	cancel  context.CancelFunc
	done    chan struct{}
	stopped bool
}

var _ JobGraphStore = (*JobGraphs)(nil)

// newJobGraphs opens the job graph store on b. clusterPath is the cluster's
// prefix in storage (e.g. the cluster ID).
func newJobGraphs(ctx context.Context, b Backend, st hdfsstore.Store, clusterPath string, instance uuid.UUID, log zerolog.Logger) (*JobGraphs, error) {
	ps, err := b.PointerStore(ctx, PointerStoreConfig{Dir: JobGraphsDir, Storage: st,
		PayloadPrefix: storagePrefix(clusterPath, jobGraphPayloadKind), Instance: instance, Logger: log})
	if err != nil {
		return nil, err
	}
	w, _ := ps.(KeyWatcher)
	return &JobGraphs{ps: ps, watcher: w, log: log, known: map[string]bool{}}, nil
}

// Start implements JobGraphStore. With a backend that can watch (ZooKeeper) it
// follows /jobgraphs and tells l about job graphs added or removed by other
// instances; otherwise l is never called.
func (s *JobGraphs) Start(ctx context.Context, l JobGraphListener) error {
	if s.watcher == nil || l == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return errors.New("recovery: job graph store already started")
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	names, changed, err := s.watcher.WatchKeys(wctx)
	if err != nil {
		cancel()
		return fmt.Errorf("recovery: watch job graphs: %w", err)
	}
	for _, n := range names {
		s.known[n] = true
	}
	s.cancel, s.done = cancel, make(chan struct{})
	go s.watchLoop(wctx, l, changed)
	return nil
}

// watchLoop runs until ctx (cancelled by Stop) ends.
func (s *JobGraphs) watchLoop(ctx context.Context, l JobGraphListener, changed <-chan struct{}) {
	defer close(s.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		names, next, err := s.watcher.WatchKeys(ctx)
		for err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn().Err(err).Msg("job graph watch failed; retrying")
			t := time.NewTimer(watchRetry)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			names, next, err = s.watcher.WatchKeys(ctx)
		}
		changed = next
		now := make(map[string]bool, len(names))
		for _, n := range names {
			now[n] = true
		}
		var added, removed []string
		s.mu.Lock()
		for n := range now {
			if !s.known[n] {
				s.known[n] = true
				added = append(added, n)
			}
		}
		for n := range s.known {
			if !now[n] {
				delete(s.known, n)
				removed = append(removed, n)
			}
		}
		s.mu.Unlock()
		for _, n := range added {
			l.OnAddedJobGraph(n)
		}
		for _, n := range removed {
			l.OnRemovedJobGraph(n)
		}
	}
}

// Put implements JobGraphStore.
func (s *JobGraphs) Put(ctx context.Context, g Guard, jobID string, graph []byte) error {
	s.mu.Lock()
	s.known[jobID] = true // our own addition is no news to the listener
	s.mu.Unlock()
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
	s.mu.Lock()
	was := s.known[jobID]
	delete(s.known, jobID) // our own removal is no news to the listener
	s.mu.Unlock()
	if err := s.ps.ReleaseAndTryRemove(ctx, g, jobID); err != nil {
		if was {
			s.mu.Lock()
			s.known[jobID] = true
			s.mu.Unlock()
		}
		return fmt.Errorf("recovery: remove job graph %s: %w", jobID, err)
	}
	s.log.Info().Str(logging.Job, jobID).Msg("job graph removed")
	return nil
}

// Stop implements JobGraphStore. It is idempotent.
func (s *JobGraphs) Stop() error {
	s.mu.Lock()
	cancel, done, was := s.cancel, s.done, s.stopped
	s.stopped = true
	s.mu.Unlock()
	if was {
		return nil
	}
	if cancel != nil {
		cancel()
		<-done
	}
	return s.ps.Close()
}
