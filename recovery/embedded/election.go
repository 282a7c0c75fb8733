package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/internal/fsutil"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery"
)

// election is leader election without ZooKeeper (high-availability NONE).
// Leadership is an exclusive flock on <dir>/leader.lock: granted at once when the
// lock is free, and released by the kernel when the process dies — so two AMs on
// one machine never lead together, and a restarted AM leads as soon as the old one
// is gone. It does not span machines.
type election struct {
	dir string
	log zerolog.Logger

	mu      sync.Mutex
	current *embeddedGrant
}

// newElection prepares an embedded election in dir (created 0700).
func newElection(dir string, log zerolog.Logger) *election {
	return &election{dir: dir, log: log}
}

// embeddedPoll is how often a waiting contender retries the lock and retrieval
// re-reads connection info: flock has no wait-with-cancel.
const embeddedPoll = 20 * time.Millisecond

// Run contends until ctx ends; see recovery.LeaderElection.
func (e *election) Run(ctx context.Context, lead func(recovery.Grant)) error {
	if err := os.MkdirAll(e.dir, 0o700); err != nil {
		return fmt.Errorf("recovery: embedded election: %w", err)
	}
	lockPath := filepath.Join(e.dir, "leader.lock")
	for ctx.Err() == nil {
		f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return fmt.Errorf("recovery: embedded election: open %s: %w", lockPath, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if !errors.Is(err, syscall.EWOULDBLOCK) {
				return fmt.Errorf("recovery: embedded election: lock %s: %w", lockPath, err)
			}
			t := time.NewTimer(embeddedPoll)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
			continue
		}
		lctx, cancel := context.WithCancelCause(ctx)
		g := &embeddedGrant{id: uuid.New(), ctx: lctx, el: e}
		e.mu.Lock()
		e.current = g
		e.mu.Unlock()
		e.log.Info().Str(logging.LeaderSession, g.id.String()).Msg("leadership granted (embedded)")
		lead(g)
		cancel(errors.New("leadership given up"))
		e.mu.Lock()
		e.current = nil
		e.mu.Unlock()
		g.unpublish()
		f.Close() // releases the lock
		e.log.Info().Str(logging.LeaderSession, g.id.String()).Msg("leadership revoked (embedded)")
	}
	return ctx.Err()
}

// HasLeadership reports whether the grant with this leader session ID is held.
func (e *election) HasLeadership(id uuid.UUID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.current != nil && e.current.id == id && e.current.ctx.Err() == nil
}

type embeddedGrant struct {
	id  uuid.UUID
	ctx context.Context
	el  *election

	mu        sync.Mutex
	published []string
}

// Compile-time checks of the implementations.
var (
	_ recovery.LeaderElection = (*election)(nil)
	_ recovery.Grant          = (*embeddedGrant)(nil)
)

func (g *embeddedGrant) SessionID() uuid.UUID     { return g.id }
func (g *embeddedGrant) Context() context.Context { return g.ctx }
func (g *embeddedGrant) Done() <-chan struct{}    { return g.ctx.Done() }
func (g *embeddedGrant) Err() error {
	if g.ctx.Err() != nil {
		return fmt.Errorf("%w: leader session %s: %v", recovery.ErrNotLeader, g.id, context.Cause(g.ctx))
	}
	return nil
}

// embeddedInfo is a published connection_info file: the leader's address and
// session ID, and its PID so readers can tell a dead leader's file.
type embeddedInfo struct {
	recovery.LeaderInfo
	PID int `json:"pid"`
}

func embeddedInfoPath(dir, component string) string {
	return filepath.Join(dir, "leader", component, infoFileName)
}

// infoFileName is the name of a component's connection_info file, as the znode
// that ZooKeeper leaders publish.
const infoFileName = "connection_info"

// Confirm writes the component's connection_info file atomically.
func (g *embeddedGrant) Confirm(ctx context.Context, component, address string) error {
	if err := g.Err(); err != nil {
		return err
	}
	p := embeddedInfoPath(g.el.dir, component)
	b, _ := json.Marshal(embeddedInfo{recovery.LeaderInfo{Address: address, SessionID: g.id}, os.Getpid()})
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("recovery: confirm leadership of %s: %w", component, err)
	}
	if err := fsutil.WriteFileAtomic(p, b, 0o600); err != nil {
		return fmt.Errorf("recovery: confirm leadership of %s: %w", component, err)
	}
	g.mu.Lock()
	g.published = append(g.published, p)
	g.mu.Unlock()
	return nil
}

func (g *embeddedGrant) unpublish() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range g.published {
		_ = os.Remove(p)
	}
}

// retrieve follows the leader of component as an embedded election in dir
// publishes it (see recovery.LeaderRetriever): it polls the component's
// connection_info file and treats a file whose process is gone as no leader.
func retrieve(ctx context.Context, dir, component string, notify func(recovery.LeaderInfo)) error {
	p := embeddedInfoPath(dir, component)
	var last recovery.LeaderInfo
	first := true
	t := time.NewTicker(embeddedPoll)
	defer t.Stop()
	for {
		var info recovery.LeaderInfo
		if b, err := os.ReadFile(p); err == nil {
			var ei embeddedInfo
			if json.Unmarshal(b, &ei) == nil && processAlive(ei.PID) {
				info = ei.LeaderInfo
			}
		}
		if first || info != last {
			first, last = false, info
			notify(info)
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
