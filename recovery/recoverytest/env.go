package recoverytest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/integration/hdfspeer"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery"
)

// Cluster is the cluster path the suites give the stores: payloads are named
// <Cluster>/….
const Cluster = "cluster-1"

// Backend is what a backend's tests give the suites: a backend in a fresh
// namespace (a ZooKeeper root, an embedded directory), a leadership to write with,
// and the means to look at the namespace without the backend.
type Backend interface {
	// Instance returns the backend as one more AM instance has it: a session of
	// its own (ZooKeeper), or the backend every store of the process shares
	// (embedded).
	Instance(t testing.TB) recovery.Backend
	// Inspecting returns the backend an inspector uses.
	Inspecting(t testing.TB) recovery.Backend
	// SessionLocks reports whether locks belong to sessions, so that inspection
	// tells the inspecting session's own locks (those taken through Inspecting)
	// from other live instances' ones.
	SessionLocks() bool
	// Guard is the leadership the suites write with; Depose ends it.
	Guard() recovery.Guard
	Depose(t testing.TB)
	// GuardLatches is how many leader latch nodes inspection reports while the
	// Guard is held.
	GuardLatches() int
	// PointerExists reports whether the pointer of key exists in dir, marked for
	// deletion or not.
	PointerExists(t testing.TB, dir, key string) bool
	// WritePointer stores data as the pointer of key in dir, bypassing the
	// stores, as an unlocked pointer; one that exists is rewritten (its locks
	// stay), as anything with access to the backend could.
	WritePointer(t testing.TB, dir, key string, data []byte)
	// Snapshot returns everything the backend keeps (node or file → content),
	// keys prefixed so they do not collide with storage names.
	Snapshot(t testing.TB) map[string]string
	// ReportPath maps a pointer's path below the namespace ("jobgraphs/job-1") to
	// the form reports use.
	ReportPath(rel string) string
}

// Marking is a Backend whose removals mark a pointer for deletion before deleting
// it (ZooKeeper: the lock container goes first), so a removal can stop half-way.
type Marking interface {
	Backend
	// Mark leaves key in dir as a removal by instance that stopped right after
	// marking it.
	Mark(t testing.TB, dir, key string, instance uuid.UUID)
}

// Storage is the payload storage of an Env.
type Storage struct {
	Store hdfsstore.Store
	// FlipByte corrupts a stored payload in place.
	FlipByte func(t testing.TB, name string)
}

// FileStorage is file:// storage in a fresh directory.
func FileStorage(t testing.TB) Storage {
	dir := t.TempDir()
	st, err := hdfsstore.Open(Context(t), "file://"+dir)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return Storage{Store: st, FlipByte: func(t testing.TB, name string) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		b[0] ^= 0xff
		require.NoError(t, os.WriteFile(p, b, 0o600))
	}}
}

// hdfsRoot is the storage directory on the HDFS peer.
const hdfsRoot = "/flink/recovery"

// HDFSStorage is hdfs:// storage on an in-process HDFS peer.
func HDFSStorage(t testing.TB) Storage {
	peer := hdfspeer.Start(t)
	st, err := hdfsstore.Open(Context(t), peer.URI(hdfsRoot))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return Storage{Store: st, FlipByte: func(t testing.TB, name string) {
		p := hdfsRoot + "/" + name
		b, err := peer.ReadFile(p)
		require.NoError(t, err)
		b[0] ^= 0xff
		require.NoError(t, peer.WriteFile(p, b))
	}}
}

// Context is a test's context: cancelled at its end, and after a minute.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Logger is a test's logger; benchmarks log nothing (no per-put lines).
func Logger(t testing.TB) zerolog.Logger {
	if _, ok := t.(*testing.B); ok {
		return zerolog.Nop()
	}
	return logging.ForTest(t)
}

// Env is one backend with its storage, as the suites use it.
type Env struct {
	T       testing.TB
	Backend Backend
	St      hdfsstore.Store
	flip    func(t testing.TB, name string)
}

// NewEnv pairs a backend with storage.
func NewEnv(t testing.TB, b Backend, st Storage) *Env {
	return &Env{T: t, Backend: b, St: st.Store, flip: st.FlipByte}
}

// Guard is the leadership the suites write with.
func (e *Env) Guard() recovery.Guard { return e.Backend.Guard() }

// Depose ends the Guard's leadership.
func (e *Env) Depose() { e.Backend.Depose(e.T) }

// Instance is one AM instance of an environment: its backend and the ID of its
// locks.
type Instance struct {
	e  *Env
	ID uuid.UUID
	B  recovery.Backend
}

// Instance returns a new instance.
func (e *Env) Instance() *Instance {
	return &Instance{e: e, ID: uuid.New(), B: e.Backend.Instance(e.T)}
}

// InstanceOn returns a new instance on backend b.
func (e *Env) InstanceOn(b recovery.Backend) *Instance {
	return &Instance{e: e, ID: uuid.New(), B: b}
}

// services assembles Services of the instance (not to be closed: the backend
// and storage belong to the environment).
func (i *Instance) services(retain int) *recovery.Services {
	t := i.e.T
	s, err := recovery.NewServices(recovery.ServicesConfig{Backend: i.B, Storage: i.e.St, ClusterPath: Cluster,
		Instance: i.ID, RetainedCheckpoints: retain, Logger: Logger(t)})
	require.NoError(t, err)
	return s
}

// Pointers opens the instance's pointer store of dir; payloads are named
// <Cluster>/state-<key>-….
func (i *Instance) Pointers(dir string) recovery.PointerStore {
	t := i.e.T
	ps, err := i.B.PointerStore(Context(t), recovery.PointerStoreConfig{Dir: dir, Storage: i.e.St,
		PayloadPrefix: Cluster + "/state-", Instance: i.ID, Logger: Logger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { ps.Close() })
	return ps
}

// JobGraphs opens the instance's job graph store.
func (i *Instance) JobGraphs() *recovery.JobGraphs {
	t := i.e.T
	s, err := i.services(1).JobGraphStore(Context(t))
	require.NoError(t, err)
	t.Cleanup(func() { s.Stop() })
	return s
}

// Checkpoints opens the instance's checkpoint store of jobID, retaining retain.
func (i *Instance) Checkpoints(jobID string, retain int) *recovery.Checkpoints {
	t := i.e.T
	s, err := i.services(retain).CheckpointStore(Context(t), jobID)
	require.NoError(t, err)
	return s
}

// Counter opens the instance's checkpoint ID counter of jobID.
func (i *Instance) Counter(jobID string) recovery.CheckpointIDCounter {
	t := i.e.T
	c, err := i.B.CheckpointIDCounter(Context(t), jobID)
	require.NoError(t, err)
	t.Cleanup(func() { c.Shutdown(Context(t), nil, false) })
	return c
}

// Payloads lists every object in storage.
func (e *Env) Payloads() []string {
	names, err := e.St.List(Context(e.T), "")
	require.NoError(e.T, err)
	return names
}

// PayloadOf returns the one payload whose name contains part.
func (e *Env) PayloadOf(part string) string {
	var found []string
	for _, n := range e.Payloads() {
		if strings.Contains(n, part) {
			found = append(found, n)
		}
	}
	require.Len(e.T, found, 1, "payloads containing %q: %v", part, found)
	return found[0]
}

// PointerExists reports whether the pointer of key exists in dir (marked or not).
func (e *Env) PointerExists(dir, key string) bool { return e.Backend.PointerExists(e.T, dir, key) }

// Snapshot captures everything the backend keeps plus the storage listing.
func (e *Env) Snapshot() map[string]string {
	out := e.Backend.Snapshot(e.T)
	for _, n := range e.Payloads() {
		out["storage:"+n] = ""
	}
	return out
}

// FlipByte corrupts a stored payload in place.
func (e *Env) FlipByte(name string) { e.flip(e.T, name) }

// FlagGuard is a leadership whose loss is a flag, checked only through Err: what
// a backend sees of a Guard that is not its own grant.
type FlagGuard struct {
	ID      uuid.UUID
	deposed atomic.Bool
}

// NewFlagGuard returns a held FlagGuard.
func NewFlagGuard() *FlagGuard { return &FlagGuard{ID: uuid.New()} }

// SessionID implements recovery.Guard.
func (g *FlagGuard) SessionID() uuid.UUID { return g.ID }

// Err implements recovery.Guard.
func (g *FlagGuard) Err() error {
	if g.deposed.Load() {
		return fmt.Errorf("%w: leader session %s revoked", recovery.ErrNotLeader, g.ID)
	}
	return nil
}

// Depose ends the leadership.
func (g *FlagGuard) Depose() { g.deposed.Store(true) }

// Run runs every suite against the environments newEnv makes, one per test.
func Run(t *testing.T, newEnv func(t *testing.T) *Env) {
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) { s.test(t, newEnv(t)) })
	}
}

// suites are the conformance tests, each given a fresh environment.
var suites = []struct {
	name string
	test func(t *testing.T, e *Env)
}{
	{"PointerStorePutGetReplaceRemove", testPointerStorePutGetReplaceRemove},
	{"PointerStoreDeposedChangesNothing", testPointerStoreDeposedChangesNothing},
	{"PointerStoreDanglingAndCorrupt", testPointerStoreDanglingAndCorrupt},
	{"PointerStoreRemoveRefusedWhileLocked", testPointerStoreRemoveRefusedWhileLocked},
	{"PointerStoreForeignPointerNeverFollowed", testPointerStoreForeignPointerNeverFollowed},
	{"JobGraphStore", testJobGraphStore},
	{"CheckpointStoreRetainAndSubsume", testCheckpointStoreRetainAndSubsume},
	{"CheckpointStoreRejectsRetainZero", testCheckpointStoreRejectsRetainZero},
	{"CheckpointStoreLatestStopsAtUnreadable", testCheckpointStoreLatestStopsAtUnreadable},
	{"CheckpointStoreSuspendKeepsTerminalDiscards", testCheckpointStoreSuspendKeepsTerminalDiscards},
	{"CheckpointStoreDeposed", testCheckpointStoreDeposed},
	{"CheckpointStoreTerminalRemovesOrphans", testCheckpointStoreTerminalRemovesOrphans},
	{"CheckpointIDCounter", testCheckpointIDCounter},
	{"CheckpointIDCounterTerminalRemoves", testCheckpointIDCounterTerminalRemoves},
	{"InspectHealthy", testInspectHealthy},
	{"InspectAndCleanProblems", testInspectAndCleanProblems},
	{"InspectCleanKeepsPointersLockedByLiveInstance", testInspectCleanKeepsPointersLockedByLiveInstance},
	{"InspectCleanKeepsYoungOrphans", testInspectCleanKeepsYoungOrphans},
	{"InspectReportsForeignPointers", testInspectReportsForeignPointers},
}
