package zkha

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// ZooKeeper paths of the election, relative to the client's chroot.
const (
	latchDir     = "/leader/latch"
	latchPrefix  = "latch-"
	leaderDir    = "/leader"
	infoNodeName = "connection_info"
)

// ConnectionInfoPath is the node where a component's leader publishes its
// address and leader session ID.
func ConnectionInfoPath(component string) string {
	return path.Join(leaderDir, component, infoNodeName)
}

// ElectionConfig configures a ZooKeeper election.
type ElectionConfig struct {
	Client *zkclient.Client
	// InstanceID names this process's latch node (protected creation) and must be
	// unique per process. Default: a random UUID.
	InstanceID string
	// TolerateSuspended keeps leadership while the connection is SUSPENDED and only
	// gives it up when LOST (high-availability.zookeeper.client.tolerate-suspended-connections).
	TolerateSuspended bool
	Logger            zerolog.Logger
}

// Election is one process's participation in the leader election: a single latch
// of ephemeral sequential nodes under /leader/latch serving every component, as in
// Flink ≥ 1.15. The lowest node leads.
type Election struct {
	cfg ElectionConfig
	cl  *zkclient.Client
	log zerolog.Logger

	mu      sync.Mutex
	node    string // our latch node path, "" when none
	current *Leadership
}

// NewElection prepares an election; Run contends.
func NewElection(cfg ElectionConfig) *Election {
	if cfg.InstanceID == "" {
		cfg.InstanceID = uuid.NewString()
	}
	return &Election{cfg: cfg, cl: cfg.Client, log: cfg.Logger.With().Str("instance", cfg.InstanceID).Logger()}
}

// HasLeadership reports whether the grant with this leader session ID is held.
func (e *Election) HasLeadership(id uuid.UUID) bool {
	e.mu.Lock()
	l := e.current
	e.mu.Unlock()
	return l != nil && l.id == id && l.Err() == nil
}

// Run contends for leadership until ctx ends. Each grant is passed to lead, called
// on Run's goroutine; lead must return soon after grant.Done() is closed. When lead
// returns while the grant is still held, leadership is given up (the latch node
// deleted) and Run contends again. Run returns ctx.Err() after giving up its node.
func (e *Election) Run(ctx context.Context, lead func(recovery.Grant)) error {
	states := e.cl.Listen()
	defer states.Close()
	defer e.resign()
	if err := e.cl.EnsurePath(ctx, latchDir); err != nil {
		return fmt.Errorf("recovery: election: %w", err)
	}
	// next: the predecessor we watched was the lowest latch node and has been
	// deleted, with the session unchanged since our node was last seen. Sequence
	// numbers only grow, so ours is now the lowest: lead without reading the latch
	// again. Should our node be gone after all, the monitor of the grant sees it at
	// once, and every guarded write checks it.
	next := false
	trusted := false // a watch fired on a live session: our node is still there
	for ctx.Err() == nil {
		if next {
			next = false
			e.mu.Lock()
			node := e.node
			e.mu.Unlock()
			if node != "" {
				e.lead(ctx, node, states, lead)
				continue
			}
		}
		node, err := e.ensureNode(ctx, trusted)
		trusted = false
		if err != nil {
			if !e.retry(ctx, states, err, "election: cannot create latch node; retrying") {
				break
			}
			continue
		}
		leading, watch, first, err := e.check(ctx, node)
		if err != nil {
			if !e.retry(ctx, states, err, "election: cannot read the latch; retrying") {
				break
			}
			continue
		}
		if !leading {
			ev, watched := e.waitWatch(ctx, states, watch)
			next = watched && first && ev.Type == zk.EventNodeDeleted
			trusted = watched && ev.Type != zk.EventNotWatching && ev.Err == nil
			continue
		}
		e.lead(ctx, node, states, lead)
	}
	return ctx.Err()
}

// firedWatch stands for a watch that has fired already: look again at once.
var firedWatch = func() <-chan zk.Event {
	ch := make(chan zk.Event)
	close(ch)
	return ch
}()

// retry logs err and waits a second, or until the connection state changes; it
// reports false when ctx ended.
func (e *Election) retry(ctx context.Context, states *zkclient.Listener, err error, msg string) bool {
	if ctx.Err() != nil {
		return false
	}
	e.log.Warn().Err(err).Msg(msg)
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-states.C():
		states.Drain()
	case <-t.C:
	case <-ctx.Done():
		return false
	}
	return true
}

// waitWatch waits for the watch on our predecessor, a connection state change or
// ctx; watched reports that the watch fired (with no state change before it).
func (e *Election) waitWatch(ctx context.Context, states *zkclient.Listener, watch <-chan zk.Event) (ev zk.Event, watched bool) {
	select {
	case ev, ok := <-watch:
		select {
		case <-states.C():
			// A state change is pending too: the watch may have fired on a new
			// session (go-zookeeper sets watches again on one), not the one our
			// node was seen on.
			states.Drain()
			return zk.Event{}, false
		default:
			return ev, ok
		}
	case <-states.C():
		states.Drain()
	case <-ctx.Done():
	}
	return zk.Event{}, false
}

// ensureNode returns our latch node, creating it when we have none (first run, or
// the session that owned it is gone). Creation is protected: after a connection
// loss the node is looked up by our instance ID instead of being created twice.
// trusted skips the check that a node we have still exists (a watch just fired
// on the same session; the latch listing that follows would notice it gone).
//
// A node is ours only while the client's current session owns it. After LOST the
// node of the abandoned session can outlive it for a while (until the client
// closes it, or the server expires it): a grant resting on it would end when it
// goes, so a new node is created instead, to lead once the old one is gone.
func (e *Election) ensureNode(ctx context.Context, trusted bool) (string, error) {
	e.mu.Lock()
	node := e.node
	e.mu.Unlock()
	if node != "" && trusted {
		return node, nil
	}
	if node != "" {
		ok, st, err := e.cl.Exists(ctx, node)
		if err != nil {
			return "", err
		}
		if ok && st.EphemeralOwner == e.cl.Session().ID {
			return node, nil
		}
		if ok {
			e.log.Info().Str(logging.ZKPath, node).Str("session", fmt.Sprintf("0x%x", st.EphemeralOwner)).
				Msg("election: latch node belongs to a lost session; creating a new one")
		}
	}
	prefix := latchPrefix + e.cfg.InstanceID + "-"
	data, _ := json.Marshal(map[string]string{"instance": e.cfg.InstanceID})
	created, err := e.cl.Create(ctx, path.Join(latchDir, prefix), data, zk.FlagEphemeral|zk.FlagSequence)
	if errors.Is(err, zkclient.ErrConnectionLoss) {
		created, err = e.findOwn(ctx, prefix, node)
	}
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	e.node = created
	e.mu.Unlock()
	e.log.Debug().Str(logging.ZKPath, created).Msg("election: latch node created")
	return created, nil
}

// findOwn finds the node a create whose connection was lost made: the newest with
// our prefix, and newer than the node we had before (still listed while the lost
// session that owns it lasts).
func (e *Election) findOwn(ctx context.Context, prefix, before string) (string, error) {
	names, _, err := e.cl.Children(ctx, latchDir)
	if err != nil {
		return "", err
	}
	newest := ""
	if before != "" {
		newest = sequence(before)
	}
	found := ""
	for _, n := range names {
		if strings.HasPrefix(n, prefix) && sequence(n) > newest {
			newest, found = sequence(n), n
		}
	}
	if found == "" {
		return "", fmt.Errorf("recovery: election: latch node for %s not found after connection loss", e.cfg.InstanceID)
	}
	return path.Join(latchDir, found), nil
}

// sequence returns the 10-digit suffix ZooKeeper appended to a sequential node.
func sequence(name string) string {
	if len(name) < 10 {
		return name
	}
	return name[len(name)-10:]
}

// check reports whether node is the lowest latch node; if not, it returns a watch
// on the node just before it, and whether that one is the lowest.
func (e *Election) check(ctx context.Context, node string) (leading bool, watch <-chan zk.Event, first bool, err error) {
	names, _, err := e.cl.Children(ctx, latchDir)
	if err != nil {
		return false, nil, false, err
	}
	sort.Slice(names, func(i, j int) bool { return sequence(names[i]) < sequence(names[j]) })
	own := path.Base(node)
	idx := -1
	for i, n := range names {
		if n == own {
			idx = i
			break
		}
	}
	switch {
	case idx < 0:
		// Our node vanished (session lost, or removed by fencing): start over.
		e.mu.Lock()
		e.node = ""
		e.mu.Unlock()
		return false, firedWatch, false, nil
	case idx == 0:
		return true, nil, false, nil
	}
	ok, _, watch, err := e.cl.ExistsW(ctx, path.Join(latchDir, names[idx-1]))
	if err != nil {
		return false, nil, false, err
	}
	if !ok {
		return false, firedWatch, false, nil // predecessor went meanwhile: check again
	}
	return false, watch, idx == 1, nil
}

// lead holds one grant: it calls lead and revokes the grant when the connection
// is suspended (unless tolerated) or lost, when our latch node disappears, or when
// ctx ends.
func (e *Election) lead(ctx context.Context, node string, states *zkclient.Listener, lead func(recovery.Grant)) {
	lctx, cancel := context.WithCancelCause(ctx)
	l := &Leadership{id: uuid.New(), ctx: lctx, latch: node, el: e, infos: map[string][]byte{}}
	log := e.log.With().Str(logging.LeaderSession, l.id.String()).Str(logging.ZKPath, node).Logger()
	e.mu.Lock()
	e.current = l
	e.mu.Unlock()
	log.Info().Msg("leadership granted")

	// State changes queued before this grant (the LOST and RECONNECTED that led to
	// it) are history; one that slips between the latch check and here is caught by
	// the monitor's check of the latch node, and by the guard on every write.
	states.Drain()
	monitorDone := make(chan struct{})
	go func() {
		defer close(monitorDone)
		cancel(e.monitor(lctx, node, states))
	}()
	lead(l)
	voluntary := lctx.Err() == nil
	cancel(errors.New("leadership given up"))
	<-monitorDone

	e.mu.Lock()
	e.current = nil
	e.mu.Unlock()
	log.Info().Str(logging.Reason, context.Cause(lctx).Error()).Msg("leadership revoked")

	// A voluntary leave hands over first: the next contender need not wait for
	// the unpublishing, which deletes only nodes still holding our own info (by
	// version), so it never removes what the next leader publishes meanwhile.
	if voluntary && ctx.Err() == nil {
		e.resign()
	}
	cleanup, done := context.WithTimeout(context.Background(), 2*time.Second)
	defer done()
	l.unpublish(cleanup)
}

// monitor returns why leadership ends. ZooKeeper calls run asynchronously so that
// connection state changes are seen even while a call waits on a stalled server.
func (e *Election) monitor(ctx context.Context, node string, states *zkclient.Listener) error {
	for {
		wctx, cancel := context.WithCancel(ctx)
		pending := async(func() existsOutcome {
			ok, _, w, err := e.cl.ExistsW(wctx, node)
			return existsOutcome{ok, w, err}
		})
		var watch <-chan zk.Event
		var retry <-chan time.Time
		reason := func() error {
			for {
				select {
				case r := <-pending:
					pending = nil
					switch {
					case r.err != nil && ctx.Err() != nil:
						return context.Cause(ctx)
					case r.err != nil:
						// Connection trouble is judged by state events; try again soon.
						e.log.Debug().Err(r.err).Msg("election: cannot watch latch node")
						retry = time.After(100 * time.Millisecond)
					case !r.ok:
						return errors.New("latch node deleted")
					default:
						watch = r.watch
					}
				case <-watch:
					return nil
				case <-retry:
					return nil
				case <-states.C():
					if why := e.stateEndsLeadership(states); why != nil {
						return why
					}
				case <-ctx.Done():
					return context.Cause(ctx)
				}
			}
		}()
		cancel()
		if reason != nil {
			return reason
		}
	}
}

type existsOutcome struct {
	ok    bool
	watch <-chan zk.Event
	err   error
}

// async runs f on its own goroutine and delivers its result.
func async[T any](f func() T) <-chan T {
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	return ch
}

// stateEndsLeadership drains queued state events and returns why leadership must
// end, or nil.
func (e *Election) stateEndsLeadership(states *zkclient.Listener) error {
	for {
		ev, ok := states.TryNext()
		if !ok {
			return nil
		}
		switch {
		case ev.State == zkclient.Lost:
			return errors.New("zookeeper session lost")
		case ev.State == zkclient.Suspended && !e.cfg.TolerateSuspended:
			return errors.New("zookeeper connection suspended")
		case ev.State == zkclient.Reconnected && ev.NewSession:
			return errors.New("zookeeper session replaced")
		}
	}
}

// resign deletes our latch node (best effort, bounded) so the next contender
// leads at once.
func (e *Election) resign() {
	e.mu.Lock()
	node := e.node
	e.node = ""
	e.mu.Unlock()
	if node == "" || !e.cl.Connected() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := e.cl.Delete(ctx, node, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		e.log.Warn().Err(err).Str(logging.ZKPath, node).Msg("election: cannot delete latch node")
	}
}

// Leadership is one grant of leadership. It is a Guard for store writes and a
// context cancelled when leadership is lost.
type Leadership struct {
	id    uuid.UUID
	ctx   context.Context
	latch string
	el    *Election

	mu    sync.Mutex
	infos map[string][]byte // component → connection_info content confirmed last
}

// SessionID is the leader session ID (the fencing token).
func (l *Leadership) SessionID() uuid.UUID { return l.id }

// Context is cancelled when leadership is lost; context.Cause says why.
func (l *Leadership) Context() context.Context { return l.ctx }

// Done is closed when leadership is lost.
func (l *Leadership) Done() <-chan struct{} { return l.ctx.Done() }

// Err returns nil while leadership is held.
func (l *Leadership) Err() error {
	if l.ctx.Err() != nil {
		return fmt.Errorf("%w: leader session %s: %v", recovery.ErrNotLeader, l.id, context.Cause(l.ctx))
	}
	return nil
}

// guardOps checks that our latch node still exists unchanged (ephemeral nodes are
// never written, so version 0): a deposed leader's multi fails.
func (l *Leadership) guardOps() []zkclient.Op {
	return []zkclient.Op{zkclient.CheckOp{Path: l.latch, Version: 0}}
}

// Confirm publishes address and this grant's leader session ID as the component's
// connection_info (ephemeral, guarded), replacing stale or different content, and
// keeps it published while leadership lasts: if the node is changed or deleted by
// someone else it is written again.
func (l *Leadership) Confirm(ctx context.Context, component, address string) error {
	info := recovery.LeaderInfo{Address: address, SessionID: l.id}
	data, _ := json.Marshal(info)
	p := ConnectionInfoPath(component)
	l.mu.Lock()
	_, watching := l.infos[component]
	l.infos[component] = data // what keepPublished restores from now on
	l.mu.Unlock()
	if err := l.publish(ctx, p, data); err != nil {
		return fmt.Errorf("recovery: confirm leadership of %s: %w", component, err)
	}
	if !watching {
		go l.keepPublished(component, p)
	}
	l.el.log.Info().Str(logging.Component, component).Str(logging.Addr, address).
		Str(logging.LeaderSession, l.id.String()).Msg("leadership confirmed")
	return nil
}

// wanted returns the content last confirmed for component.
func (l *Leadership) wanted(component string) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.infos[component]
}

func (l *Leadership) publish(ctx context.Context, p string, data []byte) error {
	cl := l.el.cl
	if err := cl.EnsurePath(ctx, path.Dir(p)); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		cur, st, err := cl.Get(ctx, p)
		var ops []zkclient.Op
		switch {
		case errors.Is(err, zk.ErrNoNode):
		case err != nil:
			return err
		case bytes.Equal(cur, data) && st.EphemeralOwner == cl.Session().ID:
			return nil // already published by this session
		default:
			ops = append(ops, zkclient.DeleteOp{Path: p, Version: st.Version})
		}
		ops = append(ops, zkclient.CreateOp{Path: p, Data: data, Flags: zk.FlagEphemeral})
		_, err = guardedMulti(ctx, cl, l, ops...)
		if err == nil || errors.Is(err, recovery.ErrNotLeader) || attempt >= 3 {
			return err
		}
		if !errors.Is(err, zk.ErrNodeExists) && !errors.Is(err, zk.ErrNoNode) && !errors.Is(err, zk.ErrBadVersion) {
			return err
		}
	}
}

func (l *Leadership) keepPublished(component, p string) {
	cl := l.el.cl
	for l.ctx.Err() == nil {
		cur, _, watch, err := cl.GetW(l.ctx, p)
		if err == nil && bytes.Equal(cur, l.wanted(component)) {
			select {
			case <-watch:
				continue
			case <-l.ctx.Done():
				return
			}
		}
		if l.ctx.Err() != nil {
			return
		}
		if err := l.publish(l.ctx, p, l.wanted(component)); err != nil && l.ctx.Err() == nil {
			l.el.log.Warn().Err(err).Str(logging.Component, component).Msg("cannot republish connection info")
			t := time.NewTimer(time.Second)
			select {
			case <-t.C:
			case <-l.ctx.Done():
				t.Stop()
			}
		}
	}
}

// unpublish removes the connection_info nodes this grant wrote, if they are still
// ours: connection_info exists only while its leader leads.
func (l *Leadership) unpublish(ctx context.Context) {
	cl := l.el.cl
	if !cl.Connected() {
		return
	}
	l.mu.Lock()
	paths := make([]string, 0, len(l.infos))
	for component := range l.infos {
		paths = append(paths, ConnectionInfoPath(component))
	}
	l.mu.Unlock()
	for _, p := range paths {
		cur, st, err := cl.Get(ctx, p)
		if err != nil {
			continue
		}
		var info recovery.LeaderInfo
		if json.Unmarshal(cur, &info) == nil && info.SessionID == l.id {
			_ = cl.Delete(ctx, p, st.Version)
		}
	}
}

// ConnectionState is the state of the election's ZooKeeper connection
// (CONNECTED, SUSPENDED, RECONNECTED, LOST, CLOSED), for metrics.
func (e *Election) ConnectionState() string { return e.cl.State().String() }
