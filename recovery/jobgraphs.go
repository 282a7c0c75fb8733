package recovery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery/zkclient"
)

// JobGraphsDir is the directory of job graph pointers (below the cluster root).
const JobGraphsDir = "/jobgraphs"

// watchRetry is the pause before the job graph watch tries again after an error.
const watchRetry = time.Second

// JobGraphs is the JobGraphStore over a PointerStore: pointers under
// /jobgraphs/<job-id>, payloads named <cluster-path>/submittedJobGraph-<job-id>-<random>.
type JobGraphs struct {
	ps  PointerStore
	zk  *ZooKeeperPointerStore // nil in embedded mode: no one else to watch
	log zerolog.Logger

	mu      sync.Mutex
	known   map[string]bool // job IDs seen or written by this instance
	stop    chan struct{}
	done    chan struct{}
	stopped bool
}

var _ JobGraphStore = (*JobGraphs)(nil)

// NewZooKeeperJobGraphStore returns the job graph store on ZooKeeper. clusterPath
// is the cluster's prefix in storage (e.g. the cluster ID).
func NewZooKeeperJobGraphStore(cl *zkclient.Client, st hdfsstore.Store, clusterPath string, instance uuid.UUID, log zerolog.Logger) *JobGraphs {
	ps := NewZooKeeperPointerStore(cl, jobGraphsConfig(st, clusterPath, instance, log))
	return newJobGraphs(ps, ps, log)
}

// NewEmbeddedJobGraphStore returns the job graph store of high-availability NONE,
// with pointer files in local. Its listener is never called: there is no
// other instance.
func NewEmbeddedJobGraphStore(ctx context.Context, local *EmbeddedDir, st hdfsstore.Store, clusterPath string, instance uuid.UUID, log zerolog.Logger) (*JobGraphs, error) {
	ps, err := NewEmbeddedPointerStore(ctx, local, jobGraphsConfig(st, clusterPath, instance, log))
	if err != nil {
		return nil, err
	}
	return newJobGraphs(ps, nil, log), nil
}

func jobGraphsConfig(st hdfsstore.Store, clusterPath string, instance uuid.UUID, log zerolog.Logger) PointerStoreConfig {
	return PointerStoreConfig{Dir: JobGraphsDir, Storage: st, PayloadPrefix: storagePrefix(clusterPath, jobGraphPayloadKind),
		Instance: instance, Logger: log}
}

func newJobGraphs(ps PointerStore, zk *ZooKeeperPointerStore, log zerolog.Logger) *JobGraphs {
	return &JobGraphs{ps: ps, zk: zk, log: log, known: map[string]bool{}}
}

// Start implements JobGraphStore. In ZooKeeper mode it watches /jobgraphs and
// tells l about job graphs added or removed by other instances.
func (s *JobGraphs) Start(ctx context.Context, l JobGraphListener) error {
	if s.zk == nil || l == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		return errors.New("recovery: job graph store already started")
	}
	names, w, err := s.zk.watch(ctx)
	if err != nil {
		return fmt.Errorf("recovery: watch job graphs: %w", err)
	}
	for _, n := range names {
		s.known[n] = true
	}
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.watchLoop(context.WithoutCancel(ctx), l, w)
	return nil
}

func (s *JobGraphs) watchLoop(ctx context.Context, l JobGraphListener, w <-chan zk.Event) {
	defer close(s.done)
	for {
		select {
		case <-s.stop:
			return
		case <-w:
		}
		names, nw, err := s.zk.watch(ctx)
		for err != nil {
			s.log.Warn().Err(err).Msg("job graph watch failed; retrying")
			t := time.NewTimer(watchRetry)
			select {
			case <-s.stop:
				t.Stop()
				return
			case <-t.C:
			}
			names, nw, err = s.zk.watch(ctx)
		}
		w = nw
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
	stop, done, was := s.stop, s.done, s.stopped
	s.stopped = true
	s.mu.Unlock()
	if was {
		return nil
	}
	if stop != nil {
		close(stop)
		<-done
	}
	return s.ps.Close()
}
